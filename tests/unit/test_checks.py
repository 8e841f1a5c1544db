import math

import pytest

from analyzer import checks
from analyzer.checks import CurrentFeature, FeatureConfig, java_double, validate
from analyzer.dtypes import InferredType, TypeCounts
from analyzer.model import (
    CategoricalBucket, CommonStatistics, Constraints, DistributionConstraints, FeatureConstraints,
    FeatureStatistics, MonitoringConfig, NumericalStatistics, Statistics, StringStatistics,
)
from analyzer.sketch import KllSketch


def numeric(name, values, inferred=InferredType.FRACTIONAL, missing=0):
    sketch = KllSketch.from_values(values)
    stats = NumericalStatistics(CommonStatistics(len(values), missing), 0, 0, 0, min(values), max(values), sketch=sketch)
    return FeatureStatistics(name, inferred, numerical=stats)


def string(name, counts: dict, missing=0):
    present = sum(counts.values())
    buckets = tuple(CategoricalBucket(k, v) for k, v in counts.items())
    return FeatureStatistics(name, InferredType.STRING, string=StringStatistics(CommonStatistics(present, missing), len(counts), buckets))


def current(feature, type_counts, outside=None):
    return CurrentFeature(feature, type_counts, feature.common.num_present + feature.common.num_missing, outside)


@pytest.mark.parametrize(
    "value,text",
    [(99.64592817400101, "99.64592817400101"), (0.8919722497522299, "0.8919722497522299"), (1e-3, "0.001"),
     (9.99e-4, "9.99E-4"), (12345678.9, "1.23456789E7"), (-2.5e-10, "-2.5E-10"), (3.0, "3.0"), (math.nan, "NaN")],
)
def test_java_double(value, text):
    assert java_double(value) == text


def test_string_baseline_accepts_anything_until_the_column_turns_numeric():
    cfg = 1.0
    mixed = TypeCounts(non_null=10, integral=6)
    assert checks.data_type_check("z", InferredType.STRING, current(string("z", {"a": 10}), mixed), cfg) is None
    numeric_now = TypeCounts(non_null=10, integral=10)
    v = checks.data_type_check("z", InferredType.STRING, current(string("z", {"a": 10}), numeric_now), cfg)
    assert v.description.split("\n")[0].endswith("Observed: Only 0.0% of data is String.")
    assert v.description.split("\n")[1] == "10 of 10 non-null values are not String."


def test_data_type_threshold_is_a_required_share():
    counts = TypeCounts(non_null=1000, integral=996, fractional=4)
    feature = numeric("n", [1.0] * 1000, InferredType.INTEGRAL)
    assert checks.data_type_check("n", InferredType.INTEGRAL, current(feature, counts), 0.99) is None
    v = checks.data_type_check("n", InferredType.INTEGRAL, current(feature, counts), 1.0)
    assert v.description == (
        "Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
        "Observed: Only 99.6% of data is Integral.\n4 of 1000 non-null values are not Integral."
    )


def test_feature_overrides_beat_monitoring_config():
    constraints = Constraints(
        (FeatureConstraints("a", InferredType.FRACTIONAL, overrides={"comparison_threshold": 0.5, "comparison_method": "Simple"}),),
        MonitoringConfig(distribution_constraints=DistributionConstraints(comparison_threshold=0.1)),
    )
    cfg = FeatureConfig.of(constraints, constraints.features[0])
    assert (cfg.comparison_threshold, cfg.comparison_method) == (0.5, "Simple")
    assert FeatureConfig.of(constraints, None).comparison_threshold == 0.1


def test_validate_orders_missing_then_extra_and_reports_drift():
    base = Statistics(100, (numeric("a", list(range(100))), string("b", {"x": 50, "y": 50})))
    constraints = Constraints((
        FeatureConstraints("a", InferredType.FRACTIONAL, completeness=1.0),
        FeatureConstraints("b", InferredType.STRING, completeness=1.0, domains=("x", "y")),
    ), MonitoringConfig(distribution_constraints=DistributionConstraints(comparison_method="Simple")))
    cur_a = numeric("a", [float(v) + 50 for v in range(100)])
    result = validate(
        {"a": current(cur_a, TypeCounts(non_null=100, fractional=100)), "c": current(string("c", {"q": 3}), TypeCounts(non_null=3))},
        ["a", "c"], constraints, base,
    )
    assert [(v.feature_name, v.constraint_check_type) for v in result.violations] == [
        ("a", "baseline_drift_check"), ("Missing columns", "missing_column_check"), ("c", "extra_column_check"),
    ]
    assert result.drift["a"] == pytest.approx(0.5)


def test_categorical_values_share_against_threshold():
    feature = string("b", {"x": 90, "new": 10})
    assert checks.categorical_values_check("b", ("x",), current(feature, TypeCounts(non_null=100), outside=10), 0.9) is None
    v = checks.categorical_values_check("b", ("x",), current(feature, TypeCounts(non_null=100), outside=10), 1.0)
    assert "Only 90.0% (90 of 100 values)" in v.description and "'new'" in v.description
