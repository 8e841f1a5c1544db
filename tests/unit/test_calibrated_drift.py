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
# sqrt(-ln(0.0005 / 2) / 2): the KS coefficient at alpha = 0.01 / 20
COEFFICIENT = math.sqrt(-math.log(0.01 / 20 / 2) / 2)


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


def test_ks_critical_value():
    assert maths.ks_critical_value(2000, 2000) == pytest.approx(COEFFICIENT * math.sqrt(0.001))
    assert COEFFICIENT == pytest.approx(2.036425, abs=1e-6)


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
    # n = m = 2000, one level each: margin 2.036 sqrt(0.001) = 0.0644 < 0.1
    base, cur = shifted(shift)
    result = drift(base, cur, config())
    assert result.distance == pytest.approx(shift / 2000)
    assert result.margin == pytest.approx(COEFFICIENT * math.sqrt(0.001))
    assert result.exceeded is flagged


@pytest.mark.parametrize("shift,flagged", [(128, False), (129, True)])
def test_margin_governs_when_above_the_threshold(shift, flagged):
    # threshold 0.05; margin 0.064398: gaps 0.064 (below) and 0.0645 (above)
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
    assert result.margin == pytest.approx(COEFFICIENT * math.sqrt(0.001) + 2 * maths.KLL_RANK_ERROR_2048)


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
    small = categorical({"a": 20, "b": 10})  # gap 1/6 > 0.1, but m = 30: margin 0.37
    result = drift(base, small, config())
    assert result.distance == pytest.approx(1 / 6)
    assert result.margin == pytest.approx(maths.ks_critical_value(10000, 30))
    assert not result.exceeded
    assert drift(base, small, config("Simple")).exceeded  # SageMaker's Simple alarms
    large = categorical({"a": 650, "b": 350})  # gap 0.15, m = 1000: margin 0.066
    assert drift(base, large, config()).exceeded


def test_description_keeps_sagemaker_sentence_first():
    base, cur = shifted(400)
    violation = baseline_drift_check("x", drift(base, cur, config()))
    assert re.match(r"Baseline drift distance: 0\.2\d* exceeds threshold: 0\.1 \(Calibrated: ", violation.description)
    assert "0.0644" in violation.description and "n=2000, m=2000" in violation.description
    assert len(violation.description) < 1000
    robust = baseline_drift_check("x", drift(base, cur, config("Simple")))
    assert re.fullmatch(r"Baseline drift distance: 0\.2\d* exceeds threshold: 0\.1", robust.description)


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
