"""The Calibrated drift method (ours): its rule on hand-made sketches, its constants, its
parsing, and a small run of the operating-characteristics simulation."""
from __future__ import annotations

import importlib.util
import math
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from analyzer import maths
from analyzer.checks import Drift, FeatureConfig, baseline_drift_check, drift
from analyzer.dtypes import InferredType
from analyzer.errors import InputError
from analyzer.formats import constraints_json
from analyzer.model import (
    CategoricalBucket, CommonStatistics, FeatureStatistics, NumericalStatistics, StringStatistics,
)
from analyzer.sketch import KllSketch
from container.config import JobConfig, Paths

ROOT = Path(__file__).parents[2]
ALPHA = 0.01 / 20


def margin(n: float, m: float) -> float:
    """DKW bounds of the current sample at 0.9 alpha and of the baseline at 0.1 alpha, added."""
    return math.sqrt(math.log(2 / (0.9 * ALPHA)) / (2 * m)) + math.sqrt(math.log(2 / (0.1 * ALPHA)) / (2 * n))


MARGIN_2000 = margin(2000, 2000)  # 0.0973


def numeric(values=None, sketch=None, inferred=InferredType.FRACTIONAL) -> FeatureStatistics:
    sketch = sketch or KllSketch.from_values(values)
    stats = NumericalStatistics(CommonStatistics(sketch.n, 0), 0, 0, 0, 0, 0, sketch=sketch)
    return FeatureStatistics("x", inferred, numerical=stats)


def categorical(counts: dict) -> FeatureStatistics:
    buckets = tuple(CategoricalBucket(k, v) for k, v in counts.items())
    total = sum(counts.values())
    return FeatureStatistics("c", InferredType.STRING, string=StringStatistics(CommonStatistics(total, 0), len(counts), buckets))


def config(method="Calibrated", threshold=0.1) -> FeatureConfig:
    return FeatureConfig("Enabled", 1.0, 1.0, "Enabled", threshold, method, threshold, "LInfinity")


# ---------------------------------------------------------------- constants
def test_rank_error_constant_is_datasketches_value_for_k_2048():
    from analyzer.sketch import normalized_rank_error

    assert maths.KLL_RANK_ERROR_2048 == pytest.approx(normalized_rank_error(2048), rel=1e-12)
    # another k: DataSketches' fitted formula, as sketch_rank_error uses it
    other = KllSketch(200.0, 0.64, ((1.0,), (2.0,)))
    assert maths.sketch_rank_error(other) == pytest.approx(normalized_rank_error(200), rel=1e-9)


def test_run_time_code_does_not_import_datasketches():
    import subprocess

    code = ("import sys; from analyzer import checks, maths; from analyzer.sketch import KllSketch; "
            "s = KllSketch(2048.0, 0.64, ((1.0,), (2.0,))); maths.sketch_rank_error(s); "
            "assert 'datasketches' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_margin_is_two_dkw_bounds():
    assert maths.calibrated_margin(2000, 2000) == pytest.approx(MARGIN_2000, rel=1e-12)
    assert MARGIN_2000 == pytest.approx(0.09729, abs=1e-5)
    assert maths.calibrated_margin(20000, 30) == pytest.approx(0.3904, abs=1e-4)
    assert maths.calibrated_margin(20000, 1000) == pytest.approx(0.0811, abs=1e-4)
    assert maths.calibrated_margin(5000, 1000, allowance=0.0014) < 0.1  # the threshold governs from m = 1000


@pytest.mark.parametrize("m", [1, 2, 5, 30, 100, 1000])
@pytest.mark.parametrize("alpha", [0.5, 0.05, ALPHA])
def test_dkw_bound_holds_at_every_sample_size(m, alpha):
    """Massart's bound is not a limit: against the exact one-sample Kolmogorov-Smirnov
    distribution (continuous F, the worst case), the tail beyond it is at most alpha."""
    from scipy.stats import kstwo

    assert kstwo.sf(maths.dkw_bound(m, alpha), m) <= alpha


@pytest.mark.parametrize("family", ["normal", "poisson", "coin"])
def test_false_alarm_rate_is_within_alpha_for_small_samples(family):
    """Exact ECDFs, n = 200 and m = 30, at alpha = 0.05 (so that 20,000 pairs resolve it): the
    share of pairs of one distribution with a gap beyond the margin is below alpha, ties
    included."""
    rng = np.random.default_rng(5)
    draw = {"normal": lambda size: rng.standard_normal(size),
            "poisson": lambda size: rng.poisson(4, size).astype(float),
            "coin": lambda size: rng.integers(0, 2, size).astype(float)}[family]
    limit = maths.calibrated_margin(200, 30, alpha=0.05)
    alarms = 0
    for _ in range(20_000):
        base, cur = np.sort(draw(200)), np.sort(draw(30))
        points = np.union1d(base, cur)
        gap = np.abs(np.searchsorted(base, points, "right") / 200 - np.searchsorted(cur, points, "right") / 30)
        alarms += gap.max() > limit
    assert alarms / 20_000 < 0.05


def test_rank_error_allowance_only_for_compacted_sketches():
    assert maths.sketch_rank_error(KllSketch.from_values([1.0, 2.0])) == 0.0
    assert maths.sketch_rank_error(KllSketch(2048.0, 0.64, ((1.0,), ()))) == 0.0
    assert maths.sketch_rank_error(KllSketch(2048.0, 0.64, ((1.0,), (2.0,)))) == maths.KLL_RANK_ERROR_2048


# ---------------------------------------------------------------- the rule, exactly
def shifted(shift: int, size: int = 2000) -> tuple[FeatureStatistics, FeatureStatistics]:
    """0..size-1 against shift..shift+size-1: an exact CDF gap of shift/size."""
    return numeric(np.arange(size, dtype=float)), numeric(np.arange(size, dtype=float) + shift)


@pytest.mark.parametrize("shift,flagged", [(199, False), (201, True)])
def test_threshold_governs_when_the_margin_is_smaller(shift, flagged):
    # n = m = 2000, one level each: margin 0.0973 < 0.1
    base, cur = shifted(shift)
    result = drift(base, cur, config())
    assert result.distance == pytest.approx(shift / 2000)
    assert result.margin == pytest.approx(MARGIN_2000)
    assert result.exceeded is flagged


@pytest.mark.parametrize("shift,flagged", [(194, False), (195, True)])
def test_margin_governs_when_above_the_threshold(shift, flagged):
    # threshold 0.05; margin 0.09729: gaps 0.097 (below) and 0.0975 (above)
    base, cur = shifted(shift)
    result = drift(base, cur, config(threshold=0.05))
    assert result.exceeded is flagged
    assert (result.n, result.m) == (2000, 2000)


def test_at_the_threshold_is_not_drift():
    assert not Drift(0.1, 0.1, "Calibrated", 0.05).exceeded
    assert Drift(0.1 + 1e-12, 0.1, "Calibrated", 0.05).exceeded
    assert not Drift(0.3, 0.1, "Calibrated", 0.3).exceeded
    assert Drift(0.3 + 1e-12, 0.1, "Calibrated", 0.3).exceeded


def test_compacted_sketches_add_their_rank_error():
    # two levels each: the margin grows by twice the constant
    base = KllSketch(2048.0, 0.64, (tuple(float(v) for v in range(1000)), tuple(float(v) + 0.5 for v in range(500))))
    cur = KllSketch(2048.0, 0.64, (tuple(float(v) for v in range(1000)), tuple(float(v) + 0.5 for v in range(500))))
    result = drift(numeric(sketch=base), numeric(sketch=cur), config())
    assert (result.n, result.m) == (2000, 2000)
    assert result.distance == 0.0
    assert result.margin == pytest.approx(MARGIN_2000 + 2 * maths.KLL_RANK_ERROR_2048)


def test_repeated_items_count_with_all_their_weight():
    """Deequ's rank map (Simple/Robust) counts a repeated item once; Calibrated counts every copy."""
    base = numeric([1.0] * 10 + [2.0] * 10, inferred=InferredType.INTEGRAL)
    cur = numeric([1.0] * 5 + [2.0] * 15, inferred=InferredType.INTEGRAL)
    assert maths.linf_numerical_exact(base.numerical.sketch, cur.numerical.sketch) == (0.25, 20.0, 20.0)
    assert maths.linf_numerical(base.numerical.sketch, cur.numerical.sketch)[0] == 0.0  # SageMaker's, unchanged
    assert drift(base, cur, config(threshold=0.2)).distance == 0.25
    assert drift(base, cur, config("Simple", threshold=0.2)).distance == 0.0


def test_categorical_uses_the_same_margin_with_totals():
    base = categorical({"a": 5000, "b": 5000})
    small = categorical({"a": 20, "b": 10})  # gap 1/6 > 0.1, but m = 30: margin 0.39
    result = drift(base, small, config())
    assert result.distance == pytest.approx(1 / 6)
    assert result.margin == pytest.approx(margin(10000, 30))
    assert not result.exceeded
    assert drift(base, small, config("Simple")).exceeded  # SageMaker's Simple alarms
    large = categorical({"a": 650, "b": 350})  # gap 0.15, m = 1000: margin 0.088
    assert drift(base, large, config()).exceeded


def test_description_keeps_sagemaker_sentence_first():
    base, cur = shifted(400)
    violation = baseline_drift_check("x", drift(base, cur, config()))
    first, added = violation.description.split("\n")
    assert re.fullmatch(r"Baseline drift distance: 0\.2\d* exceeds threshold: 0\.1", first)
    assert added == ("Calibrated: also above 0.09729, the largest gap that sampling and sketch error explain "
                     "in at least 99% of 20-feature runs (n=2000, m=2000).")
    # AWS's examples read the distance and the threshold with this pattern
    found = re.search("distance: (.+) exceeds threshold: (.+)", violation.description)
    assert (float(found.group(1)), float(found.group(2))) == (pytest.approx(0.2), 0.1)
    simple = baseline_drift_check("x", drift(base, cur, config("Simple")))
    assert re.fullmatch(r"Baseline drift distance: 0\.2\d* exceeds threshold: 0\.1", simple.description)


# ---------------------------------------------------------------- parsing
def doc(override: dict | None = None, method: str = "Robust") -> dict:
    feature = {"name": "x", "inferred_type": "Fractional"}
    if override is not None:
        feature["monitoringConfigOverrides"] = override
    return {"features": [feature], "monitoring_config": {"distribution_constraints": {"comparison_method": method}}}


def test_calibrated_accepted_in_monitoring_config_and_overrides():
    top = constraints_json.from_dict(doc(method="Calibrated"))
    assert FeatureConfig.of(top, top.features[0]).comparison_method == "Calibrated"
    assert constraints_json.to_dict(top)["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Calibrated"
    for override in ({"comparison_method": "Calibrated"}, {"distribution_constraints": {"comparison_method": "Calibrated"}}):
        parsed = constraints_json.from_dict(doc(override))
        assert FeatureConfig.of(parsed, parsed.features[0]).comparison_method == "Calibrated"


@pytest.mark.parametrize("override,method", [
    (None, "Fancy"),
    ({"comparison_method": "Fancy"}, "Robust"),
    ({"distribution_constraints": {"comparison_method": "calibrated"}}, "Robust"),
])
def test_unknown_method_rejected_wherever_it_appears(override, method):
    with pytest.raises(ValueError, match="comparison_method"):
        constraints_json.from_dict(doc(override, method))


def test_unknown_method_in_code_built_constraints_rejected():
    from analyzer.model import Constraints, FeatureConstraints

    constraints = Constraints((FeatureConstraints("x", InferredType.FRACTIONAL, overrides={"comparison_method": "Fancy"}),))
    with pytest.raises(ValueError, match="Calibrated"):
        FeatureConfig.of(constraints, constraints.features[0])


def test_comparison_method_environment_variable(tmp_path):
    base = {"dataset_source": "/d", "output_path": "/o", "dataset_format": '{"csv": {}}'}
    assert JobConfig.from_environ(base, Paths(tmp_path)).comparison_method is None
    assert JobConfig.from_environ({**base, "MMON_COMPARISON_METHOD": "Calibrated"}, Paths(tmp_path)).comparison_method == "Calibrated"
    with pytest.raises(InputError) as info:
        JobConfig.from_environ({**base, "MMON_COMPARISON_METHOD": "Fancy"}, Paths(tmp_path))
    assert info.value.code == "ENV_INVALID"


# ---------------------------------------------------------------- the simulation, small
def load_sim():
    spec = importlib.util.spec_from_file_location("drift_sim", ROOT / "scripts" / "drift_sim.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["drift_sim"] = module  # its worker processes pickle functions by module name
    spec.loader.exec_module(module)
    return module


def test_drifted_samples_have_the_requested_cdf_gap():
    sim = load_sim()
    rng = np.random.default_rng(1)
    grid = np.linspace(-1, 12, 2000)
    for family in ("normal", "uniform", "poisson"):
        clean, shifted_ = sim.sample(family, rng, 200_000), sim.sample(family, rng, 200_000, 0.15)
        gap = np.max(np.abs(np.searchsorted(np.sort(clean), grid, "right") - np.searchsorted(np.sort(shifted_), grid, "right"))) / 200_000
        assert gap == pytest.approx(0.15, abs=0.01), family


def test_quick_simulation_meets_the_promises_loosely():
    """10 runs of 20 features and 20 drifted trials per family and m: loose bounds for a small run
    (the promise is <= 1 % of runs and >= 95 % power; the README's table is the full run)."""
    sim = load_sim()
    results = sim.simulate(runs=10, trials=20)
    calibrated = sim.METHODS.index("Calibrated")
    alarms = sum(int(r["alarms"][calibrated].sum()) for r in results.values())
    runs = sum(r["runs"] * len(sim.SIZES) for r in results.values())
    assert alarms / runs <= 0.03
    j, g = sim.SIZES.index(1000), sim.GAPS.index(0.15)
    for family, r in results.items():
        assert r["detected"][calibrated, j, g] / r["trials"] >= 0.9, family
    text = sim.table(results)
    assert "| poisson | Calibrated |" in text and "CDF gap of 0.15" in text
