"""Every statistic of the batch profiler against exact NumPy/pandas values on generated data.

Tolerances: counts, min, max and categorical buckets exact; mean, sum and std_dev to 1e-9
relative (different summation order); KLL bucket counts within 2 * eps * n where eps is the
sketch's normalised rank error (each count is a difference of two ranks); HLL distinct counts
within 5% (about three standard errors at lg_k=12). No Spark: the engine profiles Arrow batches.
"""
import math

import numpy as np
import pandas as pd
import pytest

import pyarrow as pa

from analyzer import InferredType, Profiler, ProfileOptions, profile_table, suggest
from analyzer.maths import bucket_edges
from analyzer.sketch import normalized_rank_error

N = 60_000


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "normal": rng.normal(10, 3, N).round(6),
            "ints": rng.integers(-50, 200, N),
            "skewed": rng.lognormal(0, 1.2, N).round(6),
            "cat": rng.choice(["red", "green", "blue", "amber"], N, p=[0.5, 0.3, 0.15, 0.05]),
            "ids": [f"id-{i}" for i in range(N)],
            "flags": rng.choice(["true", "false"], N),
        }
    )
    text = frame.astype(str)
    missing = rng.random(N) < 0.02
    text.loc[missing, "normal"] = None
    text.loc[rng.random(N) < 0.01, "cat"] = None
    return text


def _batches(frame: pd.DataFrame, parts: int) -> list[pa.RecordBatch]:
    table = pa.Table.from_pandas(frame.replace({np.nan: None}), preserve_index=False)
    size = -(-len(frame) // parts)
    return [table.slice(i, size).combine_chunks().to_batches()[0] for i in range(0, len(frame), size)]


def _profile(frame: pd.DataFrame, parts: int = 3, options: ProfileOptions = ProfileOptions()):
    profiler = Profiler(list(frame.columns), options)
    for batch in _batches(frame, parts):
        profiler.update(batch)
    return profiler.result()


@pytest.fixture(scope="module")
def result(data):
    return _profile(data, parts=7)


def test_item_count_and_types(result):
    stats = result.statistics
    assert stats.item_count == N
    assert [f.name for f in stats.features] == ["normal", "ints", "skewed", "cat", "ids", "flags"]
    assert [f.inferred_type for f in stats.features] == [
        InferredType.FRACTIONAL, InferredType.INTEGRAL, InferredType.FRACTIONAL,
        InferredType.STRING, InferredType.STRING, InferredType.STRING,
    ]


@pytest.mark.parametrize("name", ["normal", "ints", "skewed"])
def test_numeric_moments_equal_numpy(result, data, name):
    values = pd.to_numeric(data[name]).dropna().to_numpy(dtype=float)
    num = result.statistics.feature(name).numerical
    assert num.common.num_present == len(values)
    assert num.common.num_missing == N - len(values)
    assert num.min == values.min() and num.max == values.max()
    assert num.sum == pytest.approx(values.sum(), rel=1e-9)
    assert num.mean == pytest.approx(values.mean(), rel=1e-9)
    assert num.std_dev == pytest.approx(values.std(ddof=0), rel=1e-9)  # population
    assert num.completeness == pytest.approx(len(values) / N)


@pytest.mark.parametrize("name", ["normal", "ints", "skewed"])
def test_kll_buckets_within_rank_error(result, data, name):
    values = pd.to_numeric(data[name]).dropna().to_numpy(dtype=float)
    num = result.statistics.feature(name).numerical
    n = len(values)
    assert num.sketch.n == n
    assert len(num.sketch.levels) > 1, "the sketch must be compacting for this test to mean something"
    edges = bucket_edges(num.min, num.max)
    assert [(b.lower_bound, b.upper_bound) for b in num.buckets] == edges
    tolerance = 2 * normalized_rank_error(2048) * n
    for i, (bucket, (lo, hi)) in enumerate(zip(num.buckets, edges)):
        upper = values <= hi if i == len(edges) - 1 else values < hi
        exact = int(((values >= lo) & upper).sum())
        assert abs(bucket.count - exact) <= tolerance, (name, i, bucket.count, exact, tolerance)


def test_sketch_quantiles_within_rank_error(result, data):
    values = np.sort(pd.to_numeric(data["skewed"]).to_numpy(dtype=float))
    sketch = result.statistics.feature("skewed").numerical.sketch
    eps = normalized_rank_error(2048)
    for q in (0.1, 0.5, 0.9, 0.99):
        x = sketch.quantile(q)
        true_rank = np.searchsorted(values, x, side="right") / len(values)
        assert abs(true_rank - q) <= 2 * eps, q


def test_categorical_buckets_and_domain_exact(result, data):
    feature = result.statistics.feature("cat")
    s = feature.string
    expected = data["cat"].dropna().value_counts()
    assert {b.value: b.count for b in s.buckets} == expected.to_dict()
    assert [b.count for b in s.buckets] == sorted(expected.to_list(), reverse=True)
    assert s.distinct_count == 4
    assert s.common.num_present == expected.sum()
    constraint = suggest(result.statistics).feature("cat")
    assert constraint.domains == ("red", "green", "blue", "amber")
    p = expected.sum() / N
    assert constraint.completeness == math.floor(100 * (p - 1.96 * math.sqrt(p * (1 - p) / N))) / 100


def test_high_cardinality_strings_have_no_buckets_and_approximate_distinct(result):
    s = result.statistics.feature("ids").string
    assert s.buckets is None
    assert s.distinct_count == pytest.approx(N, rel=0.05)
    assert suggest(result.statistics).feature("ids").domains is None


def test_boolean_column_reported_as_string_with_buckets(result, data):
    s = result.statistics.feature("flags").string
    assert {b.value: b.count for b in s.buckets} == data["flags"].value_counts().to_dict()


def test_type_counts_feed_the_data_type_check(result, data):
    counts = result.type_counts["ints"]
    assert counts.integral == N and counts.fractional == 0
    assert result.type_counts["normal"].fractional == data["normal"].notna().sum()


def test_suggested_numeric_constraints(result):
    constraints = suggest(result.statistics)
    assert constraints.feature("ints").is_non_negative is False
    assert constraints.feature("skewed").is_non_negative is True
    p = result.statistics.feature("normal").common.num_present / N
    assert 0.97 < p < 0.99  # about 2% missing
    assert constraints.feature("normal").completeness == 0.97  # Deequ's lower bound, 2 decimals, rounded down
    assert constraints.feature("ints").completeness == 1.0


def test_regex_classes_equal_python_classify():
    from tests.unit.test_dtypes import VALUE_CASES
    from analyzer.dtypes import TypeCounts

    values = [v for v, _ in VALUE_CASES]
    table = pa.table({"v": pa.array(values, pa.string())})
    assert profile_table(table).type_counts["v"] == TypeCounts.of(values)


def _tricky_values(count: int, seed: int = 11) -> list[str]:
    """Strings near the edges of Deequ's number patterns: signs, spaces, dots, exponents, line
    terminators, non-ASCII digits, and digit runs too long for a long."""
    rng = np.random.default_rng(seed)
    pieces = ["0", "7", "42", "007", "9" * 19, "9" * 25, ".", "-", "+", " ", "e", "E", "e-", "E+",
              "\n", "\r\n", "\u2028", "\u0085", "\t", "a", "\u0663", "true", "false", ",", "..", "1.5"]
    values = []
    for _ in range(count):
        n = int(rng.integers(1, 6))
        values.append("".join(pieces[int(j)] for j in rng.integers(0, len(pieces), n)))
    return values


def test_value_classes_equal_python_classify_value_by_value():
    """Each value's class from the vectorised classifier (RE2 through pyarrow) equals the Python
    classifier's (Python's re, written after Java's), on the documented cases and random strings."""
    from tests.unit.test_dtypes import VALUE_CASES
    from analyzer.dtypes import classify, classify_array

    values = [v for v, _ in VALUE_CASES if v is not None] + _tricky_values(4000)
    got = classify_array(pa.array(values, pa.string())).tolist()
    codes = {"Fractional": 1, "Integral": 2, "Boolean": 3, "String": 4}
    wrong = [(v, g) for v, g in zip(values, got) if g != codes[classify(v).value]]
    assert not wrong, wrong[:10]
    assert {codes[classify(v).value] for v in values} == {1, 2, 3, 4}  # the corpus reaches every class


def test_all_null_column_is_unknown():
    table = pa.table({"a": pa.array([None, None], pa.string()), "b": ["1", "2"]})
    stats = profile_table(table).statistics
    assert stats.feature("a").inferred_type is InferredType.UNKNOWN
    assert stats.feature("a").common.num_missing == 2


def test_native_types_from_parquet_like_tables():
    table = pa.table({
        "i": pa.array([1, 2, None], pa.int64()), "f": pa.array([1.5, 2.0, None]),
        "b": pa.array([True, False, None]), "s": pa.array(["x", "y", None]),
    })
    stats = profile_table(table).statistics
    assert [f.inferred_type.value for f in stats.features] == ["Integral", "Fractional", "String", "String"]
    assert stats.feature("i").numerical.sum == 3.0
    assert stats.feature("f").numerical.mean == 1.75
    assert {b.value: b.count for b in stats.feature("b").string.buckets} == {"true": 1, "false": 1}


@pytest.mark.parametrize("kind", [pa.binary(), pa.large_binary(), pa.binary(2)])
def test_binary_columns_are_their_utf8_text_and_other_bytes_are_missing(kind):
    """As Spark casts binary to string: the bytes read as UTF-8. A value that is not UTF-8 is a
    missing value (as in CSV), and does not turn its batch's other values into Python reprs."""
    values = [b"12", b"34", b"\xff1", None] if kind != pa.binary(2) else [b"12", b"34", b"\xff1"[:2], None]
    stats = profile_table(pa.table({"b": pa.array(values, kind)})).statistics
    feature = stats.feature("b")
    assert feature.inferred_type is InferredType.INTEGRAL
    assert feature.common.num_present == 2 and feature.common.num_missing == 2
    assert feature.numerical.sum == 46.0


def _bucket_counts(stats, name):
    return {b.value: b.count for b in stats.feature(name).string.buckets}


def test_categorical_counts_are_exact_across_batches():
    rows = [("a" if i % 3 else "b", None if i % 10 == 0 else ("true" if i % 7 == 0 else "c" + str(i % 4))) for i in range(5000)]
    frame = pd.DataFrame(rows, columns=["x", "y"])
    stats = _profile(frame, parts=4).statistics
    assert _bucket_counts(stats, "x") == frame["x"].value_counts().to_dict()
    assert _bucket_counts(stats, "y") == frame["y"].dropna().value_counts().to_dict()


def test_categorical_column_with_numeric_values_counts_them_too():
    """A String column that also holds numbers: its buckets count every value, exactly."""
    rows = [("n/a" if i % 5 == 0 else str(i % 7),) for i in range(3000)]
    frame = pd.DataFrame(rows, columns=["x"])
    stats = _profile(frame, parts=3).statistics
    assert stats.feature("x").inferred_type is InferredType.STRING
    assert _bucket_counts(stats, "x") == frame["x"].value_counts().to_dict()


def test_a_column_that_outgrows_exact_counts_keeps_exact_moments():
    """Batches of few distinct values (reduced through value counts) then many (value by value)
    give the moments and type counts of the whole."""
    rng = np.random.default_rng(3)
    few = rng.integers(0, 5, 20_000).astype(str).tolist()
    many = rng.integers(0, 10**9, 20_000).astype(str).tolist()
    frame = pd.DataFrame({"x": few + many})
    result = _profile(frame, parts=4)
    values = frame["x"].astype(float).to_numpy()
    num = result.statistics.feature("x").numerical
    assert result.type_counts["x"].integral == len(values)
    assert num.sum == pytest.approx(values.sum(), rel=1e-12)
    assert num.std_dev == pytest.approx(values.std(), rel=1e-9)
    assert (num.min, num.max) == (values.min(), values.max())


def test_plain_number_values_equal_correctly_rounded_parsing_bit_for_bit():
    """Numbers are valued by Arrow's parser; that must give the correctly rounded double that
    Java's (and Python's) parser gives, to the last bit and the sign of zero."""
    import struct

    from analyzer.dtypes import parse_numbers

    rng = np.random.default_rng(5)
    values = ["0", "-0", "+0", "-0.0", "0.000", "-00.00", "9007199254740993", "-9223372036854775808",
              "0.1", "0.7", "2.675", "1.0000000000000002", "123456789012345.67", "9007199254740993.5", "1e-320", "2.5E+300"]
    for _ in range(3000):
        whole = str(int(rng.integers(0, 10 ** int(rng.integers(1, 12)))))
        fraction = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(0, 16))))
        sign = str(rng.choice(["", "-", "+"]))
        values.append(sign + whole + ("." + fraction if fraction else ""))
    got = parse_numbers(pa.array(values))
    bits = lambda x: struct.pack("<d", x)  # noqa: E731
    wrong = [(v, g) for v, g in zip(values, got) if bits(g) != bits(float(v))]
    assert not wrong, wrong[:10]


def test_merging_profiles_of_parts_equals_profiling_the_whole(data):
    """Profiles of parts, merged in order, equal the profile of the whole: counts, categorical
    buckets, min/max exactly; moments to 1e-12; sketches within their bound (checked above)."""
    whole = _profile(data, parts=1)
    parts = _batches(data, 5)
    merged = Profiler(list(data.columns))
    for batch in parts:
        piece = Profiler(list(data.columns))
        piece.update(batch)
        merged.merge(piece)
    merged = merged.result()
    assert merged.type_counts == whole.type_counts
    assert merged.examples == whole.examples  # the first values of each class, in data order
    for a, b in zip(merged.statistics.features, whole.statistics.features):
        assert a.common == b.common and a.inferred_type == b.inferred_type
        if a.numerical:
            assert (a.numerical.min, a.numerical.max) == (b.numerical.min, b.numerical.max)
            assert a.numerical.sum == pytest.approx(b.numerical.sum, rel=1e-12)
            assert a.numerical.std_dev == pytest.approx(b.numerical.std_dev, rel=1e-12)
        else:
            assert a.string.buckets == b.string.buckets


def test_same_batches_give_identical_profiles_whatever_the_threads(data):
    from concurrent.futures import ThreadPoolExecutor

    from analyzer.formats import statistics_json

    batches = _batches(data, 6)
    reports = []
    for threads in (None, 1, 4):
        profiler = Profiler(list(data.columns))
        pool = ThreadPoolExecutor(threads) if threads else None
        for batch in batches:
            profiler.update(batch, pool)
        result = profiler.result()
        reports.append((statistics_json.to_dict(result.statistics), result.examples))
    assert reports[0] == reports[1] == reports[2]


def test_pickled_profiler_merges_as_the_original():
    import pickle

    frame = pd.DataFrame({"x": [str(i) for i in range(3000)], "c": ["a", "b", "c"] * 1000})
    profiler = Profiler(["x", "c"])
    profiler.update(_batches(frame, 1)[0])
    copy = pickle.loads(pickle.dumps(profiler))
    assert copy.result() == profiler.result()


def test_numeric_batch_shortcut_agrees_with_the_classifier_value_by_value():
    """The one-parse shortcut for all-number batches: when it accepts a batch, every class and
    double equals the classifier's and the correctly rounded parse; batches holding a form
    Deequ rejects but Arrow reads (``.5``, ``5.``, ``5.e3``, ``inf``) are refused."""
    import struct

    from analyzer.dtypes import classify, numeric_batch

    rng = np.random.default_rng(23)

    def number() -> str:
        text = str(rng.choice(["", "-", "+"])) + str(int(rng.integers(0, 10 ** int(rng.integers(1, 8))))).zfill(int(rng.integers(1, 4)))
        if rng.random() < 0.5:
            text += "." + str(int(rng.integers(0, 10**6)))
        if rng.random() < 0.2:
            text += str(rng.choice(["e", "E", "e-", "E+"])) + str(int(rng.integers(0, 300)))
        if rng.random() < 0.03:  # forms Arrow reads and Deequ does not
            text = str(rng.choice([".5", "5.", "5.e3", "inf", "nan", "1e999", "-.5"]))
        return text

    values = [number() for _ in range(20_000)]
    codes = {"Fractional": 1, "Integral": 2}
    accepted = 0
    for start in range(0, len(values), 4):
        batch = values[start : start + 4]
        result = numeric_batch(pa.array(batch))
        if result is None:
            continue
        accepted += 1
        got_codes, got_numbers = result
        for v, c, x in zip(batch, got_codes.tolist(), got_numbers.tolist()):
            assert codes.get(classify(v).value) == c, v
            assert struct.pack("<d", x) == struct.pack("<d", float(v)), v
    assert accepted > 200  # the corpus reaches the shortcut often enough to mean something
    for odd in ([".5"], ["5."], ["5.e3"], ["inf"], ["1e999"], ["-.5"], ["+.5"]):
        assert numeric_batch(pa.array(odd)) is None, odd


def test_a_sum_that_overflows_keeps_the_spread_finite():
    """Six values of 1e308: the sum overflows (Deequ's mean, the sum over the count, is infinite
    too) but the population standard deviation is 0, as Spark's stddev_pop gives."""
    num = profile_table(pa.table({"x": ["1e308"] * 6})).statistics.feature("x").numerical
    assert num.sum == math.inf and num.mean == math.inf
    assert num.std_dev == 0.0 and num.min == num.max == 1e308
