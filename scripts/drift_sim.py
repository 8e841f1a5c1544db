"""Operating characteristics of the drift check: false alarms and power, by simulation.

    .venv/bin/python scripts/drift_sim.py            # the README's table (a few minutes on 2 cores)
    .venv/bin/python scripts/drift_sim.py --quick    # a small run (the test suite's)

Every sample goes through the job's own code: numeric values into a :class:`KllAccumulator`
(k = 2048, as the profiler builds them), categories into frequency buckets, then
:func:`analyzer.checks.drift` with ``Simple``, ``Robust`` and ``Calibrated`` (threshold 0.1) and
its ``exceeded`` verdict. The baseline has n = 20,000 values, the current sample m.

Families (one feature each): ``normal`` N(0, 1); ``lognormal`` exp(N(0, 1)) (skewed);
``uniform`` U(0, 1); ``poisson`` Poisson(4) (integers with many ties); ``categorical`` five
categories with shares 0.35 / 0.25 / 0.20 / 0.12 / 0.08.

Drift of a given size g (the largest gap between the baseline's and the current distribution's
exact CDFs, or category shares), computed exactly:
- normal: add delta = 2 Phi^-1((1 + g) / 2); the largest CDF gap of N(0,1) vs N(delta,1) is
  2 Phi(delta / 2) - 1 = g (at x = delta / 2);
- lognormal: the same delta added before exp (a monotone map keeps CDF gaps);
- uniform: add g (the gap of U(0,1) vs U(g, 1+g) is g);
- poisson: a mixture, each value drawn from Poisson(4) + 4 with probability w, else Poisson(4):
  the current CDF is (1 - w) F + w F(. - 4), its gap w * max_x |F(x) - F(x - 4)|, so
  w = g / max_x |F(x) - F(x - 4)| (computed from scipy's exact Poisson CDF);
- categorical: move a share g from the first category to the last (L-infinity gap g).

Clean runs: 20 features of one family, each with its own baseline and a fresh current sample
from the baseline's distribution; a run has a false alarm when any feature is flagged. Power: the
share of single features flagged at gaps 0.10, 0.15 and 0.20. Baselines are drawn per run and
reused (cyclically) by the power trials; each (family, m) gets fresh current samples. A cell of
1,000 runs resolves a false-alarm rate near 1 % only to about +-0.6 % (95 %): the last column pools
all m of a family (6,000 runs) and gives a one-sided 95 % Clopper-Pearson upper bound.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.checks import FeatureConfig, drift  # noqa: E402
from analyzer.dtypes import InferredType  # noqa: E402
from analyzer.model import (  # noqa: E402
    CategoricalBucket, CommonStatistics, FeatureStatistics, NumericalStatistics, StringStatistics,
)
from analyzer.sketch import KllAccumulator  # noqa: E402

FAMILIES = ("normal", "lognormal", "uniform", "poisson", "categorical")
METHODS = ("Simple", "Robust", "Calibrated")
SIZES = (30, 100, 200, 500, 1000, 10000)
GAPS = (0.10, 0.15, 0.20)
BASELINE_N = 20_000
FEATURES_PER_RUN = 20
THRESHOLD = 0.1
CATEGORIES = ("a", "b", "c", "d", "e")
SHARES = np.array([0.35, 0.25, 0.20, 0.12, 0.08])
POISSON_MEAN, POISSON_SHIFT = 4.0, 4


def _poisson_weight(gap: float) -> float:
    from scipy.stats import poisson

    x = np.arange(0, 60)
    largest = np.max(np.abs(poisson.cdf(x, POISSON_MEAN) - poisson.cdf(x - POISSON_SHIFT, POISSON_MEAN)))
    return gap / float(largest)


def sample(family: str, rng: np.random.Generator, size: int, gap: float = 0.0) -> np.ndarray:
    """``size`` values of ``family`` drifted by a CDF gap of ``gap`` (see the module docstring)."""
    if family in ("normal", "lognormal"):
        from scipy.stats import norm

        delta = 2 * norm.ppf((1 + gap) / 2) if gap else 0.0
        values = rng.standard_normal(size) + delta
        return np.exp(values) if family == "lognormal" else values
    if family == "uniform":
        return rng.random(size) + gap
    if family == "poisson":
        values = rng.poisson(POISSON_MEAN, size).astype(float)
        if gap:
            values += POISSON_SHIFT * (rng.random(size) < _poisson_weight(gap))
        return values
    shares = SHARES.copy()
    shares[0] -= gap
    shares[-1] += gap
    return rng.choice(len(CATEGORIES), size, p=shares)


def statistics(family: str, values: np.ndarray) -> FeatureStatistics:
    """The feature's statistics as the profiler builds them (only what drift reads is real)."""
    common = CommonStatistics(len(values), 0)
    if family == "categorical":
        counts = np.bincount(values, minlength=len(CATEGORIES))
        buckets = tuple(CategoricalBucket(CATEGORIES[i], int(c)) for i, c in enumerate(counts) if c)
        return FeatureStatistics(family, InferredType.STRING, string=StringStatistics(common, float(len(buckets)), buckets))
    acc = KllAccumulator()
    acc.update(values)
    numerical = NumericalStatistics(common, 0.0, 0.0, 0.0, acc.min, acc.max, sketch=acc.to_sketch())
    kind = InferredType.INTEGRAL if family == "poisson" else InferredType.FRACTIONAL
    return FeatureStatistics(family, kind, numerical=numerical)


def configs() -> dict[str, FeatureConfig]:
    return {
        method: FeatureConfig("Enabled", 1.0, 1.0, "Enabled", THRESHOLD, method, THRESHOLD, "LInfinity")
        for method in METHODS
    }


def flags(base: FeatureStatistics, cur: FeatureStatistics, cfgs: dict[str, FeatureConfig]) -> list[bool]:
    out = []
    for method in METHODS:
        result = drift(base, cur, cfgs[method])
        out.append(bool(result is not None and result.exceeded))
    return out


def simulate_chunk(task: tuple[str, int, int, int, tuple[int, ...]]) -> dict:
    """One family, ``runs`` clean runs and ``trials`` power trials per (m, gap)."""
    family, runs, trials, seed, sizes = task
    rng = np.random.default_rng(seed)
    cfgs = configs()
    # false alarms[method][m] = runs with at least one flagged feature
    alarms = np.zeros((len(METHODS), len(sizes)), dtype=int)
    baselines = []
    for _ in range(runs):
        run_base = [statistics(family, sample(family, rng, BASELINE_N)) for _ in range(FEATURES_PER_RUN)]
        baselines += run_base
        for j, m in enumerate(sizes):
            any_flag = np.zeros(len(METHODS), dtype=bool)
            for base in run_base:
                any_flag |= flags(base, statistics(family, sample(family, rng, m)), cfgs)
            alarms[:, j] += any_flag
    detected = np.zeros((len(METHODS), len(sizes), len(GAPS)), dtype=int)
    for j, m in enumerate(sizes):
        for g, gap in enumerate(GAPS):
            for t in range(trials):
                base = baselines[(t * 7 + g) % len(baselines)]
                detected[:, j, g] += flags(base, statistics(family, sample(family, rng, m, gap)), cfgs)
    return {"family": family, "runs": runs, "trials": trials, "alarms": alarms, "detected": detected}


def simulate(runs: int, trials: int, sizes=SIZES, families=FAMILIES, workers: int = 2, seed: int = 20260,
             chunks: int = 4) -> dict:
    """Aggregate results: ``{family: {"runs", "trials", "alarms"[method, m], "detected"[method, m, gap]}}``."""
    tasks = []
    for f, family in enumerate(families):
        for c in range(chunks):
            share_r = runs // chunks + (c < runs % chunks)
            share_t = trials // chunks + (c < trials % chunks)
            if share_r or share_t:
                tasks.append((family, max(share_r, 1), share_t, seed + 1000 * f + c, tuple(sizes)))
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(simulate_chunk, tasks))
    else:
        parts = [simulate_chunk(t) for t in tasks]
    out: dict = {}
    for part in parts:
        agg = out.setdefault(part["family"], {"runs": 0, "trials": 0, "alarms": 0, "detected": 0})
        agg["runs"] += part["runs"]
        agg["trials"] += part["trials"]
        agg["alarms"] = agg["alarms"] + part["alarms"]
        agg["detected"] = agg["detected"] + part["detected"]
    return out


def _pct(count: int, total: int) -> str:
    if not total:
        return "-"
    value = 100 * count / total
    return f"{value:.0f}" if value >= 10 or value == 0 else f"{value:.1f}"


def upper_bound(count: int, total: int, confidence: float = 0.95) -> float:
    """One-sided Clopper-Pearson upper confidence bound of a proportion."""
    from scipy.stats import beta

    return 1.0 if count >= total else float(beta.ppf(confidence, count + 1, total - count))


def table(results: dict, sizes=SIZES) -> str:
    """Markdown: one table for false alarms per run, one per gap for power per feature (in %)."""
    header = "| family | method | " + " | ".join(f"m={m}" for m in sizes) + " |"
    rule = "|---|---|" + "---|" * len(sizes)
    lines = []
    families = list(results)
    runs = {results[f]["runs"] for f in families}
    trials = {results[f]["trials"] for f in families}
    lines.append(f"False alarms: % of clean runs of {FEATURES_PER_RUN} features with any drift violation "
                 f"({'/'.join(map(str, sorted(runs)))} runs per cell)")
    lines += ["", header[:-1] + "| all m: % (95 % upper bound) |", rule + "---|"]
    for family in families:
        r = results[family]
        for i, method in enumerate(METHODS):
            cells = [_pct(int(r["alarms"][i, j]), r["runs"]) for j in range(len(sizes))]
            total, count = r["runs"] * len(sizes), int(r["alarms"][i].sum())
            cells.append(f"{_pct(count, total)} ({upper_bound(count, total) * 100:.2f})")
            lines.append(f"| {family} | {method} | " + " | ".join(cells) + " |")
    for g, gap in enumerate(GAPS):
        lines += ["", f"Power: % of features flagged at a CDF gap of {gap:.2f} "
                      f"({'/'.join(map(str, sorted(trials)))} trials per cell)", "", header, rule]
        for family in families:
            r = results[family]
            for i, method in enumerate(METHODS):
                cells = [_pct(int(r["detected"][i, j, g]), r["trials"]) for j in range(len(sizes))]
                lines.append(f"| {family} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000, help="clean runs of 20 features per family and m (default 1000)")
    parser.add_argument("--trials", type=int, default=200, help="drifted features per family, m and gap (default 200)")
    parser.add_argument("--quick", action="store_true", help="a small run: 10 runs, 20 trials")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--seed", type=int, default=20260)
    args = parser.parse_args(argv)
    runs, trials = (10, 20) if args.quick else (args.runs, args.trials)
    started = time.time()
    results = simulate(runs, trials, workers=args.workers, seed=args.seed)
    print(f"Baseline n = {BASELINE_N}, threshold {THRESHOLD}, k = 2048; {runs} clean runs and {trials} drifted "
          f"trials per family and m; {time.time() - started:.0f} s.\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
