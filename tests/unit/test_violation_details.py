"""What a violation adds after SageMaker's sentence, checked against values computed here from the
data: where a numeric distribution moved (the value of the largest CDF gap, percentiles), which
categories moved, example values of the wrong type (first ones, in data order, however the data
is split), missing counts; and a description never reaches 1,000 characters."""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest

from analyzer import checks, maths
from analyzer.checks import CurrentFeature, FeatureConfig, baseline_drift_check, drift, validate
from analyzer.dtypes import InferredType, TypeCounts, classify
from analyzer.model import (
    CategoricalBucket, CommonStatistics, Constraints, DistributionConstraints, FeatureConstraints,
    FeatureStatistics, MonitoringConfig, Statistics, StringStatistics,
)
from analyzer.profile import Profiler, profile_table
from analyzer.states import EXAMPLE_MAX_CHARS, EXAMPLES_PER_CLASS

NUMBER = r"(-?\d+(?:\.\d+)?(?:e[-+]\d+)?)"
NUMERIC_DETAILS = re.compile(
    rf"Largest CDF gap at {NUMBER} \(values <= {NUMBER}: baseline {NUMBER}%, current {NUMBER}%\)\. "
    rf"10th / 50th / 90th percentiles: baseline {NUMBER} / {NUMBER} / {NUMBER}, current {NUMBER} / {NUMBER} / {NUMBER}\."
)
# a sketch of 50,000 (or 5,000) values compacts: its CDF is within its rank error of the data's
RANK_SLACK = 2 * maths.KLL_RANK_ERROR_2048 + 0.001


def config(method="Robust", categorical="LInfinity", threshold=0.1) -> FeatureConfig:
    return FeatureConfig("Enabled", 1.0, 1.0, "Enabled", threshold, method, threshold, categorical)


def profiled(values) -> FeatureStatistics:
    return profile_table(pa.table({"x": values})).statistics.features[0]


def cdf(sorted_values: np.ndarray, x: float) -> float:
    return float(np.searchsorted(sorted_values, x, "right")) / len(sorted_values)


# ---------------------------------------------------------------- numeric drift
@pytest.mark.parametrize("method", ["Simple", "Robust", "Calibrated"])
def test_numeric_drift_says_where_and_how_much(method):
    rng = np.random.default_rng(11)
    base = np.sort(rng.standard_normal(50_000))
    cur = np.sort(rng.normal(0.5, 1.3, 5_000))
    b, c = profiled(base), profiled(cur)
    assert len(b.numerical.sketch.levels) > 1 and len(c.numerical.sketch.levels) > 1  # both compacted
    violation = baseline_drift_check("x", drift(b, c, config(method)), b, c)
    lines = violation.description.split("\n")
    assert re.fullmatch(r"Baseline drift distance: \S+ exceeds threshold: 0\.1", lines[0])
    assert len(lines) == 2 and lines[1].startswith("Calibrated: also above ") == (method == "Calibrated")
    found = NUMERIC_DETAILS.search(lines[1])
    at, at_again, base_share, cur_share, *percentiles = map(float, found.groups())
    assert at == at_again
    # the largest gap of the data is at the value named
    points = np.union1d(base, cur)
    ks = np.max(np.abs(np.searchsorted(base, points, "right") / len(base) - np.searchsorted(cur, points, "right") / len(cur)))
    assert abs(cdf(base, at) - cdf(cur, at)) == pytest.approx(ks, abs=2 * RANK_SLACK)
    assert cdf(base, at) == pytest.approx(base_share / 100, abs=RANK_SLACK)
    assert cdf(cur, at) == pytest.approx(cur_share / 100, abs=RANK_SLACK)
    # percentiles: NumPy's, within the sketch's rank error (as ranks of the data)
    for values, reported in ((base, percentiles[:3]), (cur, percentiles[3:])):
        for q, value in zip((0.1, 0.5, 0.9), reported):
            assert value == pytest.approx(np.percentile(values, 100 * q), abs=0.02)
            assert cdf(values, value) == pytest.approx(q, abs=RANK_SLACK)


def test_the_gap_is_where_the_method_measures_it():
    """Deequ's rank maps (Simple, Robust) count a repeated value once; Calibrated counts every
    copy: each description names the value where its own distance is reached."""
    b = profiled(np.array([1.0] * 700 + [2.0, 3.0, 4.0, 5.0] * 75))
    c = profiled(np.arange(1.0, 11.0).repeat(100))
    simple = baseline_drift_check("x", drift(b, c, config("Simple")), b, c).description
    calibrated = baseline_drift_check("x", drift(b, c, config("Calibrated")), b, c).description
    assert "Largest CDF gap at 1 (values <= 1: baseline 70%, current 10%)." in calibrated
    assert "Largest CDF gap at 5 (values <= 5: baseline 100%, current 50%)." in simple
    assert simple.endswith(" 10th / 50th / 90th percentiles: baseline 1 / 1 / 4, current 1 / 5 / 9.")


# ---------------------------------------------------------------- categorical drift
@pytest.mark.parametrize("method", ["LInfinity", "ChiSquared"])
def test_categorical_drift_names_the_categories_that_moved_most(method):
    rng = np.random.default_rng(4)
    names = np.array(["north", "south", "east", "west", "centre"])
    base = names[rng.choice(5, 10_000, p=[0.3, 0.25, 0.2, 0.15, 0.1])]
    cur = names[rng.choice(5, 2_000, p=[0.1, 0.25, 0.35, 0.2, 0.1])]
    b, c = profiled(base.tolist()), profiled(cur.tolist())
    violation = baseline_drift_check("x", drift(b, c, config(categorical=method)), b, c)
    first, added = violation.description.split("\n")
    assert first.startswith("Baseline drift chi-squared p-value: " if method == "ChiSquared" else "Baseline drift distance: ")
    share_b = {k: float(np.mean(base == k)) for k in names}
    share_c = {k: float(np.mean(cur == k)) for k in names}
    top = sorted(names, key=lambda k: (-abs(share_b[k] - share_c[k]), k))[:3]
    assert added == "Largest share changes, baseline -> current: " + ", ".join(
        f"'{k}' {share_b[k] * 100:.4g}% -> {share_c[k] * 100:.4g}%" for k in top) + "."
    assert top[0] == "north"


def test_a_new_category_shows_with_a_zero_baseline_share():
    b = profiled(["a"] * 90 + ["b"] * 10)
    c = profiled(["a"] * 50 + ["zz"] * 50)
    added = baseline_drift_check("x", drift(b, c, config("Simple")), b, c).description.split("\n")[1]
    assert added == "Largest share changes, baseline -> current: 'zz' 0% -> 50%, 'a' 90% -> 50%, 'b' 10% -> 0%."


# ---------------------------------------------------------------- data type examples
def reference_examples(values: list) -> dict[str, tuple[str, ...]]:
    """The first five distinct texts of each value class, in data order, clipped."""
    out: dict[str, list[str]] = {}
    for v in values:
        if v is None:
            continue
        shown = v if len(v) <= EXAMPLE_MAX_CHARS else v[:EXAMPLE_MAX_CHARS] + "\u2026"
        kept = out.setdefault(classify(v).value, [])
        if len(kept) < EXAMPLES_PER_CLASS and shown not in kept:
            kept.append(shown)
    return {k: tuple(v) for k, v in out.items()}


def mixed_values(size: int, seed: int) -> list:
    """Integers mostly, some fractions, words, booleans, long texts and missing values; 3,000
    distinct ids among them so that some batches are too varied for exact value counts."""
    rng = np.random.default_rng(seed)
    pool = ([str(i) for i in range(40)] + ["2.5", "-0.25", "1e3", "7.0", "3.14159", "0.5"] + ["n/a", "?", "unknown", " 12"]
            + ["true", "false"] + ["x" * 30 + "long value number " + str(i) for i in range(8)])
    values = []
    for i in range(size):
        r = rng.random()
        if r < 0.05:
            values.append(None)
        elif r < 0.25:
            values.append(f"id-{rng.integers(0, 3000)}")
        else:
            values.append(pool[rng.integers(0, len(pool))])
    return values


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_examples_are_the_first_values_however_the_data_is_split(seed):
    values = mixed_values(12_000, seed)
    expected = reference_examples(values)
    assert set(expected) == {"Integral", "Fractional", "String", "Boolean"}
    whole = profile_table(pa.table({"x": pa.array(values, pa.string())})).examples["x"]
    assert whole == expected
    # batches in order on threads, and parts profiled apart then merged in order (Spark's partitions)
    cuts = sorted(np.random.default_rng(seed).choice(np.arange(1, len(values)), 6, replace=False).tolist())
    pieces = [values[a:b] for a, b in zip([0] + cuts, cuts + [len(values)])]
    batched = Profiler(["x"])
    with ThreadPoolExecutor(3) as pool:
        for piece in pieces:
            batched.update(pa.table({"x": pa.array(piece, pa.string())}), pool)
    merged = Profiler(["x"])
    for piece in pieces:
        part = Profiler(["x"])
        part.update(pa.table({"x": pa.array(piece, pa.string())}))
        merged.merge(part)
    assert batched.result().examples["x"] == merged.result().examples["x"] == expected
    kept = [v for texts in whole.values() for v in texts]
    assert all(len(v) <= EXAMPLE_MAX_CHARS + 1 for v in kept) and any(v.endswith("\u2026") for v in kept)


def test_examples_of_native_columns():
    table = pa.table({
        "i": pa.array([5, None, 5, 7, 2**60 + 1, 9, 11, 13], pa.int64()),
        "f": pa.array([3.0, float("nan"), 2.5, 3.0, 1e20, float("inf"), -0.001, 4.0, 6.0], pa.float64()).slice(0, 8),
        "b": pa.array([True, False, None, True], pa.bool_()).take([0, 1, 2, 3, 0, 1, 2, 3]),
    })
    examples = profile_table(table).examples
    assert examples["i"] == {"Integral": ("5", "7", "1152921504606846977", "9", "11")}
    assert examples["f"] == {"Fractional": ("3.0", "2.5", "1.0E20", "-0.001", "4.0"), "String": ("NaN", "Infinity")}
    assert examples["b"] == {"Boolean": ("true", "false")}


def type_feature(counts: TypeCounts, examples: dict) -> CurrentFeature:
    stats = FeatureStatistics("x", InferredType.STRING, string=StringStatistics(CommonStatistics(counts.non_null, 0), 1.0))
    return CurrentFeature(stats, counts, counts.non_null, examples=examples)


def test_data_type_examples_take_each_offending_class_in_turn():
    counts = TypeCounts(non_null=1000, fractional=40, integral=900, boolean=2)  # 58 String values
    examples = {"Integral": ("1", "2", "3", "4", "5"), "Fractional": ("2.5", "0.1", "7.25", "1e3", "9.5"),
                "String": ("n/a", "?"), "Boolean": ("true",)}
    v = checks.data_type_check("x", InferredType.INTEGRAL, type_feature(counts, examples), 1.0)
    assert v.description.split("\n")[1] == (
        "100 of 1000 non-null values are not Integral, e.g. 'n/a', '?' (String), '2.5', '0.1' (Fractional), 'true' (Boolean).")
    # for a Fractional feature the integers are the offenders (SageMaker's rule)
    v = checks.data_type_check("x", InferredType.FRACTIONAL, type_feature(counts, examples), 1.0)
    assert v.description.split("\n")[1] == (
        "960 of 1000 non-null values are not Fractional, e.g. '1', '2' (Integral), 'n/a', '?' (String), 'true' (Boolean).")
    # a String feature whose values all turned numeric
    numeric = TypeCounts(non_null=10, integral=7, fractional=3)
    v = checks.data_type_check("x", InferredType.STRING, type_feature(numeric, examples), 1.0)
    assert v.description.split("\n")[1] == (
        "10 of 10 non-null values are not String, e.g. '1', '2', '3' (Integral), '2.5', '0.1' (Fractional).")


# ---------------------------------------------------------------- completeness
def test_completeness_gives_the_counts():
    stats = FeatureStatistics("x", InferredType.STRING, string=StringStatistics(CommonStatistics(310, 10), 1.0))
    v = checks.completeness_check("x", 1.0, CurrentFeature(stats, TypeCounts(non_null=310), 320))
    assert v.description == ("Data completeness requirement is not met. Expected: 100.0%. Observed: Only 96.875%.\n"
                             "10 of 320 values are missing.")


# ---------------------------------------------------------------- the cap
def test_worst_case_descriptions_stay_under_1000_characters():
    """Long names and values full of characters that print escaped, extreme numbers, every
    check firing with every method."""
    ugly = ["\x01" * 300 + str(i) for i in range(6)]
    name = "f" * 5000
    base_counts = {u: 100 for u in ugly}
    cur_counts = {u: (600 if i < 3 else 1) for i, u in enumerate(ugly)}

    def string(counts):
        buckets = tuple(CategoricalBucket(k, v) for k, v in counts.items())
        return FeatureStatistics(name, InferredType.STRING, string=StringStatistics(CommonStatistics(sum(counts.values()), 900), 6.0, buckets))

    huge = profiled(np.array([-1.7976931348623157e308, -1e-300, 1.2345678e-12, 9.87654321e307] * 500))
    tiny = profiled(np.array([1.1e-300, 5e-324, 1.7976931348623157e308] * 7))
    examples = {c: tuple("\x00" * 40 + "\u2026" for _ in range(5)) for c in ("Fractional", "String", "Boolean", "Integral")}
    for method in ("Simple", "Robust", "Calibrated"):
        for categorical in ("LInfinity", "ChiSquared"):
            constraints = Constraints(
                (FeatureConstraints(name, InferredType.STRING, completeness=1.0, domains=(ugly[5],)),
                 FeatureConstraints(name + "n", InferredType.FRACTIONAL, completeness=1.0)),
                MonitoringConfig(distribution_constraints=DistributionConstraints(
                    "Enabled", 0.0, method, 1.0 if categorical == "ChiSquared" else 0.0, categorical)),
            )
            current = {
                name: CurrentFeature(string(cur_counts), TypeCounts(non_null=1803), 2703, 1800),
                name + "n": CurrentFeature(
                    FeatureStatistics(name + "n", InferredType.FRACTIONAL, numerical=tiny.numerical), TypeCounts(21, 21), 4000),
            }
            baseline = Statistics(3000, (string(base_counts), FeatureStatistics(name + "n", InferredType.FRACTIONAL, numerical=huge.numerical)))
            found = validate(current, [name, name + "n"], constraints, baseline).violations
            assert {v.constraint_check_type for v in found} == {"completeness_check", "categorical_values_check", "baseline_drift_check"}
            for v in found:
                assert len(v.description) < 1000, (v.constraint_check_type, len(v.description))
            typed = checks.data_type_check(name, InferredType.INTEGRAL, CurrentFeature(
                string(cur_counts), TypeCounts(non_null=1803, fractional=600, boolean=600), 1803, examples=examples), 1.0)
            assert len(typed.description) < 1000
            assert typed.description.split("\n")[1].startswith("1803 of 1803 non-null values are not Integral, e.g. '\\x00")
    assert len(checks._described("s" * 200, "d" * 5000)) == checks.DESCRIPTION_MAX_CHARS


def test_added_lines_never_reach_sagemakers_parsers():
    """AWS's examples read drift descriptions with `distance: (.+) exceeds threshold: (.+)` and
    float() both groups; `.` stops at the line break before our details."""
    b = profiled(np.arange(2000.0))
    c = profiled(np.arange(2000.0) + 500)
    for method in ("Simple", "Robust", "Calibrated"):
        description = baseline_drift_check("x", drift(b, c, config(method)), b, c).description
        found = re.search("distance: (.+) exceeds threshold: (.+)", description)
        assert float(found.group(2)) == 0.1 and float(found.group(1)) > 0.1
        assert float(re.search("distance: (.+) exceeds", description).group(1)) == float(found.group(1))


def test_missing_columns_named_on_the_second_line_ten_at_most():
    from analyzer.checks import missing_column_check

    names = [f"col{i}" for i in range(13)]
    v = missing_column_check(2, 15, names)
    first, second = v.description.split("\n")
    assert first == ("There are missing columns in current dataset. Number of columns in current dataset: 2, "
                     "Number of columns in baseline constraints: 15")
    assert second == "Missing: " + ", ".join(repr(n) for n in names[:10]) + " and 3 more."
    assert missing_column_check(2, 3).description == first.replace("15", "3")
