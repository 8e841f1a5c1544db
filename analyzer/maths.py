"""Spark-free numerics: KLL bucket materialisation and distribution distances.

Written close to the published definitions (Deequ ``KLLSketch.computeMetricFrom`` and
``Distance``), so that each function can be read against its source and tested on its own.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Mapping, Sequence

import numpy as np

from .sketch import KllSketch

NUM_BUCKETS = 10
# Deequ's Kolmogorov-Smirnov constant for the robust L-infinity distance (alpha = 0.003).
ROBUST_KS_CONSTANT = 1.8


def java_double(x: float) -> str:
    """Format a double as Java's ``Double.toString`` does (SageMaker's analyzer is Scala).

    Examples
    --------
    >>> [java_double(v) for v in (100.0, 99.64592817400101, 0.1, 7.450282750755987e-4, 1e7, 0.0)]
    ['100.0', '99.64592817400101', '0.1', '7.450282750755987E-4', '1.0E7', '0.0']
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "-0.0" if math.copysign(1, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        text = repr(float(x))
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text if "." in text else text + ".0"
    sign, digits, exponent = Decimal(repr(float(x))).normalize().as_tuple()
    mantissa = "".join(map(str, digits))
    exp10 = exponent + len(mantissa) - 1
    frac = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{frac}E{exp10}"


def bucket_edges(lo: float, hi: float, num_buckets: int = NUM_BUCKETS) -> list[tuple[float, float]]:
    """Bucket edges as SageMaker writes them: ``lo + (hi - lo) * i / num_buckets``.

    Multiply first, divide second, in doubles: this reproduces the real files' edges exactly
    (e.g. 105.24000000000001 for lo=0, hi=350.8).

    Examples
    --------
    >>> bucket_edges(0.0, 350.8)[3]
    (105.24000000000001, 140.32)
    """
    width = hi - lo
    return [
        (lo + width * i / num_buckets, lo + width * (i + 1) / num_buckets)
        for i in range(num_buckets)
    ]


def bucket_counts(sketch: KllSketch, lo: float, hi: float, num_buckets: int = NUM_BUCKETS) -> list[float]:
    """Bucket counts from a sketch's ranks, exactly as SageMaker computes them.

    Bucket i < last counts values in ``[lower, upper)``; the last bucket counts values in
    ``[lower, upper]``. When the computed last edge rounds below the maximum
    (``0.46 + 27.28 * 10 / 10 = 27.739999999999995`` for a maximum of 27.74), values equal to the
    maximum fall outside every bucket, in SageMaker's files and in ours alike.
    """
    edges = bucket_edges(lo, hi, num_buckets)
    lowers = np.array([e[0] for e in edges])
    uppers = np.array([e[1] for e in edges])
    counts = np.asarray(sketch.rank_exclusive(uppers), dtype=float) - np.asarray(
        sketch.rank_exclusive(lowers), dtype=float
    )
    counts[-1] = float(sketch.rank(uppers[-1])) - float(sketch.rank_exclusive(lowers[-1]))
    return [float(c) for c in counts]


def robust_correction(n: float, m: float) -> float:
    """The Kolmogorov-Smirnov margin ``1.8 * sqrt((n + m) / (n m))``."""
    return ROBUST_KS_CONSTANT * math.sqrt((n + m) / (n * m))


def rank_map(sketch: KllSketch) -> tuple[np.ndarray, np.ndarray]:
    """Deequ's ``QuantileNonSample.getRankMap``: (distinct items sorted, cumulative weights).

    Deequ builds a Scala ``ListMap`` from the (item, weight) pairs sorted by item; a map keeps
    one entry per key, the last pair's, so an item retained several times counts with the
    weight of one of its copies only (the last in level order: the highest level). A sample of
    18 equal values is one entry of weight 1. The CDFs of ``numericalDistance`` and its ``n``
    and ``m`` (the largest rank) come from these maps.
    """
    levels = [np.asarray(level, dtype=float) for level in sketch.levels]
    if not levels or not sum(len(level) for level in levels):
        return np.empty(0), np.empty(0)
    items = np.concatenate(levels)
    weights = np.concatenate([np.full(len(level), float(1 << h)) for h, level in enumerate(levels)])
    order = np.argsort(items, kind="stable")
    items, weights = items[order], weights[order]
    last = np.append(items[1:] != items[:-1], True)
    return items[last], np.cumsum(weights[last])


def _rank_in(keys: np.ndarray, cumulative: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Deequ's ``getRank(item, rankMap)``: the cumulative weight of the largest key <= item."""
    index = np.searchsorted(keys, points, side="right")
    return np.where(index > 0, cumulative[np.maximum(index - 1, 0)], 0.0)


def linf_numerical(baseline: KllSketch, current: KllSketch) -> tuple[float, float, float]:
    """Largest CDF gap between two sketches over the union of their items, as Deequ's
    ``Distance.numericalDistance`` computes it from the sketches' rank maps (see
    :func:`rank_map`: repeated items count once, so ``n`` and ``m`` are the maps' weights).

    Returns ``(distance, n, m)``.
    """
    kb, cb = rank_map(baseline)
    kc, cc = rank_map(current)
    if not len(kb) or not len(kc):
        return 0.0, float(cb[-1]) if len(cb) else 0.0, float(cc[-1]) if len(cc) else 0.0
    n, m = float(cb[-1]), float(cc[-1])
    points = np.union1d(kb, kc)
    gap = np.abs(_rank_in(kb, cb, points) / n - _rank_in(kc, cc, points) / m)
    return float(gap.max(initial=0.0)), n, m


def linf_categorical(baseline: Mapping[str, float], current: Mapping[str, float]) -> tuple[float, float, float]:
    """Largest gap between two categorical frequency tables (Deequ ``categoricalLInfinityDistance``)."""
    n = float(sum(baseline.values()))
    m = float(sum(current.values()))
    if n == 0 or m == 0:
        return 0.0, n, m
    keys = set(baseline) | set(current)
    distance = max(abs(baseline.get(k, 0) / n - current.get(k, 0) / m) for k in keys)
    return float(distance), n, m


def apply_method(distance: float, n: float, m: float, method: str) -> float:
    """``Simple`` keeps the distance; ``Robust`` subtracts the KS margin, floored at 0."""
    if method == "Robust" and n > 0 and m > 0:
        return max(0.0, distance - robust_correction(n, m))
    return distance


# ---------------------------------------------------------------- Calibrated (ours, not SageMaker's)
# Per-feature significance: a 1 % false-alarm budget per run shared by 20 features (Bonferroni).
CALIBRATED_ALPHA = 0.01 / 20
# DataSketches' single-sided normalised rank error (99 % confidence) of a KLL sketch with
# k = 2048 (Deequ's and SageMaker's k): ``datasketches.kll_doubles_sketch
# .get_normalized_rank_error(2048, False)`` (2.296 / k**0.9723, KllHelper in DataSketches).
# Hard-coded so that the job does not need datasketches; tests compare it with the library.
KLL_RANK_ERROR_2048 = 0.0013847321358232665


def sketch_rank_error(sketch: KllSketch) -> float:
    """The rank-error allowance of one sketch: 0 when it has never compacted (one level: its
    items are the values, its CDF is exact), else DataSketches' 99 % normalised rank error for
    its k (the hard-coded value for k = 2048, DataSketches' fitted formula for another k)."""
    if not any(len(level) for level in sketch.levels[1:]):
        return 0.0
    if int(sketch.k) == 2048:
        return KLL_RANK_ERROR_2048
    return 2.296 / float(sketch.k) ** 0.9723


def dkw_bound(size: float, alpha: float) -> float:
    """``sqrt(ln(2/alpha) / (2 size))``: the empirical CDF of ``size`` values drawn from any
    distribution, continuous or not, strays farther than this from the true CDF, anywhere, with
    probability at most ``alpha`` (the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's
    constant, a bound at every sample size, not a limit).

    Examples
    --------
    >>> round(dkw_bound(30, 0.01 / 20 * 0.9), 4)
    0.3742
    """
    return math.sqrt(math.log(2 / alpha) / (2 * size))


# The share of a feature's alpha given to the baseline's side of the margin. The baseline is
# usually much larger than the current sample, and a DKW bound grows only as sqrt(ln(1/alpha)):
# a tenth of the budget costs the baseline's term little (0.016 at n = 20,000) and leaves the
# current sample's term within 1 % of what the whole budget would give it: the margin is within
# 0.002 of the best split's for n from 5,000 to 1,000,000 and m from 30 to 5,000.
BASELINE_ALPHA_SHARE = 0.1


def calibrated_margin(n: float, m: float, allowance: float = 0.0, alpha: float = CALIBRATED_ALPHA) -> float:
    """The largest gap that sampling (and the sketches' rank error, ``allowance``) can explain.

    When both samples come from one distribution F, the gap between their CDFs is at most the
    baseline's distance from F plus the current sample's (the triangle inequality), and each of
    those exceeds its DKW bound with probability at most its share of alpha, so a gap beyond
    ``dkw_bound(m, 0.9 alpha) + dkw_bound(n, 0.1 alpha)`` has probability at most alpha, for any
    n, m and F, ties included. The usual two-sample value, ``sqrt(ln(2/alpha)/2) sqrt((n+m)/(nm))``,
    is a large-sample limit: it spends nearly all of alpha (0.6-0.8 of it for m from 30 to 1,000),
    so a run of 20 features stays just under its 1 %; this bound keeps it near 0.25 % at m = 30 and
    lower for larger m (continuous data; ties make it lower still). Category shares use it too: a share is a binomial proportion, whose
    deviation has the same bound, and shares sum to one, so few can stray at once. A compacted
    sketch's CDF is within its rank error of its values' CDF (99 % confidence): ``allowance``.
    """
    return dkw_bound(m, (1 - BASELINE_ALPHA_SHARE) * alpha) + dkw_bound(n, BASELINE_ALPHA_SHARE * alpha) + allowance


def linf_numerical_exact(baseline: KllSketch, current: KllSketch) -> tuple[float, float, float]:
    """Largest gap between the two sketches' weighted CDFs: every retained item counts with its
    weight 2**level, repeated items with all their copies (:meth:`KllSketch.rank`), so ``n`` and
    ``m`` are the numbers of values summarised. Both CDFs are step functions that only jump at
    retained items, so the supremum is reached at one of them. Returns ``(distance, n, m)``."""
    n, m = float(baseline.n), float(current.n)
    if n == 0 or m == 0:
        return 0.0, n, m
    points = np.union1d(baseline.items, current.items)
    gap = np.abs(np.asarray(baseline.rank(points)) / n - np.asarray(current.rank(points)) / m)
    return float(gap.max(initial=0.0)), n, m


def largest_gap_at(baseline: KllSketch, current: KllSketch, exact: bool) -> float:
    """The value where the CDF gap is largest (the smallest such value): over the sketches'
    weighted CDFs when ``exact`` (as :func:`linf_numerical_exact`), else over Deequ's rank maps
    (as :func:`linf_numerical`). NaN when a sketch is empty.

    Examples
    --------
    >>> largest_gap_at(KllSketch.from_values([1.0, 2.0, 3.0, 4.0]), KllSketch.from_values([3.0, 4.0]), True)
    2.0
    """
    if exact:
        n, m = float(baseline.n), float(current.n)
        if n == 0 or m == 0:
            return math.nan
        points = np.union1d(baseline.items, current.items)
        gap = np.abs(np.asarray(baseline.rank(points)) / n - np.asarray(current.rank(points)) / m)
    else:
        kb, cb = rank_map(baseline)
        kc, cc = rank_map(current)
        if not len(kb) or not len(kc):
            return math.nan
        points = np.union1d(kb, kc)
        gap = np.abs(_rank_in(kb, cb, points) / cb[-1] - _rank_in(kc, cc, points) / cc[-1])
    return float(points[int(np.argmax(gap))])


def share_changes(baseline: Mapping[str, float], current: Mapping[str, float], top: int = 3) -> list[tuple[str, float, float]]:
    """The ``top`` categories whose share moved most: ``(category, baseline share, current
    share)``, largest change first (ties by category); categories whose share did not move are
    left out.

    Examples
    --------
    >>> share_changes({"a": 50, "b": 50}, {"a": 80, "b": 10, "c": 10}, top=2)
    [('b', 0.5, 0.1), ('a', 0.5, 0.8)]
    """
    n, m = float(sum(baseline.values())), float(sum(current.values()))
    if n == 0 or m == 0:
        return []
    shares = [(k, baseline.get(k, 0) / n, current.get(k, 0) / m) for k in set(baseline) | set(current)]
    shares = [s for s in shares if s[1] != s[2]]
    shares.sort(key=lambda s: (-abs(s[1] - s[2]), s[0]))
    return shares[:top]


def chi_square_p_value(baseline: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Pearson goodness-of-fit p-value of current counts against baseline proportions.

    Follows Deequ 2.0.3's ``ChisquareMethod``: expected counts are the baseline's proportions
    scaled to the current sample, over the current categories present in the baseline; small
    expected categories are merged (smallest into the next smallest) until a 2-category table
    has every expected count >= 10, or a larger table has at most 20% of expected counts < 5.
    Fewer than two categories left gives NaN.
    """
    from scipy.stats import chisquare

    shared = [k for k in current if k in baseline]
    if not shared:
        return math.nan
    base_total = float(sum(baseline[k] for k in shared))
    obs_total = float(sum(current[k] for k in shared))
    if base_total == 0 or obs_total == 0:
        return math.nan
    pairs = sorted(
        ([baseline[k] / base_total * obs_total, float(current[k])] for k in shared), key=lambda p: p[0]
    )

    def acceptable(ps: Sequence[Sequence[float]]) -> bool:
        if len(ps) == 2:
            return all(p[0] >= 10 for p in ps)
        return sum(p[0] < 5 for p in ps) <= 0.2 * len(ps)

    while len(pairs) > 2 and not acceptable(pairs):
        smallest = pairs.pop(0)
        pairs[0] = [pairs[0][0] + smallest[0], pairs[0][1] + smallest[1]]
        pairs.sort(key=lambda p: p[0])
    if len(pairs) < 2:
        return math.nan
    expected = np.array([p[0] for p in pairs])
    observed = np.array([p[1] for p in pairs])
    return float(chisquare(observed, expected).pvalue)
