import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import maths
from analyzer.sketch import KllSketch
from tests.conftest import REFERENCE, read_json


def test_bucket_edges_reproduce_real_files_exactly():
    stats = read_json(REFERENCE / "housing" / "statistics.json")
    for feature in stats["features"]:
        num = feature["numerical_statistics"]
        real = [(b["lower_bound"], b["upper_bound"]) for b in num["distribution"]["kll"]["buckets"]]
        assert maths.bucket_edges(num["min"], num["max"]) == real, feature["name"]


def test_bucket_counts_from_real_sketch_reproduce_real_counts():
    """SageMaker's counts come from its sketch; ours, computed from the same sketch, must agree."""
    stats = read_json(REFERENCE / "housing" / "statistics.json")
    for feature in stats["features"]:
        num = feature["numerical_statistics"]
        sketch = KllSketch.from_dict(num["distribution"]["kll"]["sketch"])
        assert sketch.n == num["common"]["num_present"]
        real = [b["count"] for b in num["distribution"]["kll"]["buckets"]]
        assert maths.bucket_counts(sketch, num["min"], num["max"]) == real, feature["name"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=300))
def test_exact_sketch_bucket_counts_equal_numpy_histogram(values):
    arr = np.array(values)
    lo, hi = float(arr.min()), float(arr.max())
    counts = maths.bucket_counts(KllSketch.from_values(arr), lo, hi)
    edges = maths.bucket_edges(lo, hi)
    expected = [float(((arr >= a) & (arr < b)).sum()) for a, b in edges[:-1]]
    a, b = edges[-1]
    expected.append(float(((arr >= a) & (arr <= b)).sum()))
    assert counts == expected


def test_linf_numerical_is_ks_statistic_for_exact_sketches():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=400), rng.normal(0.3, 1, size=300)
    d, n, m = maths.linf_numerical(KllSketch.from_values(x), KllSketch.from_values(y))
    from scipy.stats import ks_2samp

    assert d == pytest.approx(ks_2samp(x, y).statistic, abs=1e-12)
    assert (n, m) == (400, 300)


def test_robust_subtracts_ks_margin_and_floors_at_zero():
    assert maths.apply_method(0.3, 100, 100, "Simple") == 0.3
    assert maths.apply_method(0.3, 100, 100, "Robust") == pytest.approx(0.3 - 1.8 * math.sqrt(200 / 10000))
    assert maths.apply_method(0.1, 10, 10, "Robust") == 0.0


def test_weighted_levels_count_two_to_the_level():
    sketch = KllSketch(2048, 0.64, ((1.0, 5.0), (3.0,), (), (2.0,)))
    assert sketch.n == 2 + 2 + 8
    assert sketch.rank(3.0) == 1 + 2 + 8  # 1.0, 3.0 (x2) and 2.0 (x8)
    assert sketch.rank_exclusive(3.0) == 1 + 8


def test_linf_categorical():
    d, n, m = maths.linf_categorical({"a": 50, "b": 50}, {"a": 80, "b": 10, "c": 10})
    assert d == pytest.approx(0.4) and (n, m) == (100, 100)


def test_chi_square_p_value_detects_shift_and_accepts_same():
    base = {"a": 500, "b": 300, "c": 200}
    assert maths.chi_square_p_value(base, {"a": 50, "b": 30, "c": 20}) == pytest.approx(1.0)
    assert maths.chi_square_p_value(base, {"a": 20, "b": 30, "c": 50}) < 1e-6
    assert math.isnan(maths.chi_square_p_value(base, {"z": 5}))
