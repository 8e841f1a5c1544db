"""Every statistic against exact NumPy/pandas values on generated data.

Tolerances: counts, min, max and categorical buckets exact; mean, sum and std_dev to 1e-9
relative (different summation order); KLL bucket counts within 2 * eps * n where eps is the
sketch's normalised rank error (each count is a difference of two ranks); HLL distinct counts
within 5% (about three standard errors at lg_k=12).
"""
import math

import numpy as np
import pandas as pd
import pytest

from analyzer import InferredType, ProfileOptions, profile, suggest
from analyzer.maths import bucket_edges
from analyzer.sketch import normalized_rank_error, read_spark_kll

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


@pytest.fixture(scope="module")
def result(spark, data):
    df = spark.createDataFrame(data.replace({np.nan: None}))
    return profile(df.repartition(3))


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


def test_regex_classes_in_spark_equal_python_classify(spark):
    from tests.unit.test_dtypes import VALUE_CASES
    from analyzer.dtypes import TypeCounts

    values = [v for v, _ in VALUE_CASES]
    df = spark.createDataFrame([(v,) for v in values], "v string")
    assert profile(df).type_counts["v"] == TypeCounts.of(values)


def _tricky_values(count: int, seed: int = 11) -> list[str]:
    """Strings near the edges of Deequ's number patterns: signs, spaces, dots, exponents, line
    terminators, non-ASCII digits, and digit runs too long for a long."""
    rng = np.random.default_rng(seed)
    pieces = ["0", "7", "42", "007", "9" * 19, "9" * 25, ".", "-", "+", " ", "e", "E", "e-", "E+",
              "\n", "\r\n", "\u2028", "\t", "a", "\u0663", "true", "false", ",", "..", "1.5"]
    values = []
    for _ in range(count):
        n = int(rng.integers(1, 6))
        values.append("".join(pieces[int(j)] for j in rng.integers(0, len(pieces), n)))
    return values


def test_value_classes_equal_python_classify_value_by_value(spark):
    """Each value's class from the engine (the plain-number shortcut, else the regular
    expression) equals the Python classifier's, on the documented cases and on random strings."""
    import importlib

    from tests.unit.test_dtypes import VALUE_CASES
    from analyzer.dtypes import classify

    engine = importlib.import_module("analyzer.profile")
    values = [v for v, _ in VALUE_CASES if v is not None] + _tricky_values(4000)
    df = spark.createDataFrame([(0, v, None, None, None) for v in values], "i int, v string, n double, k tinyint, m string")
    got = [r["c"] for r in engine._classified(df).select("c").collect()]
    codes = {"Fractional": 1, "Integral": 2, "Boolean": 3, "String": 4}
    wrong = [(v, g) for v, g in zip(values, got) if g != codes[classify(v).value]]
    assert not wrong, wrong[:10]
    assert {codes[classify(v).value] for v in values} == {1, 2, 3, 4}  # the corpus reaches every class


def test_all_null_column_is_unknown(spark):
    df = spark.createDataFrame([(None, "1"), (None, "2")], "a string, b string")
    stats = profile(df).statistics
    assert stats.feature("a").inferred_type is InferredType.UNKNOWN
    assert stats.feature("a").common.num_missing == 2


def test_native_types_from_parquet_like_frames(spark):
    df = spark.createDataFrame([(1, 1.5, True, "x"), (2, 2.0, False, "y"), (None, None, None, None)],
                               "i long, f double, b boolean, s string")
    stats = profile(df, ProfileOptions()).statistics
    assert [f.inferred_type.value for f in stats.features] == ["Integral", "Fractional", "String", "String"]
    assert stats.feature("i").numerical.sum == 3.0
    assert stats.feature("f").numerical.mean == 1.75


@pytest.mark.parametrize("rows", [0, 1, 5, 3000, 50_000])
def test_sketch_bytes_parse_agrees_with_datasketches_library(spark, rows):
    """Our reader of Spark's sketch bytes against the reference implementation's own ranks."""
    from datasketches import kll_doubles_sketch
    from pyspark.sql import functions as F

    df = spark.range(0, rows, numPartitions=3).select(((F.col("id") * 7919) % 1000).cast("double").alias("x"))
    raw = df.agg(F.kll_sketch_agg_double("x", F.lit(2048))).collect()[0][0]
    ours = read_spark_kll(raw).sketch
    assert ours.n == rows
    if rows:
        lib = kll_doubles_sketch.deserialize(bytes(raw))
        for x in np.linspace(-1, 1001, 37):
            assert ours.rank_exclusive(x) / rows == pytest.approx(lib.get_rank(x), abs=1e-12)
    extremes = read_spark_kll(raw)
    values = ((np.arange(rows) * 7919) % 1000).astype(float)
    assert extremes.n == rows
    assert (extremes.min, extremes.max) == ((values.min(), values.max()) if rows else (None, None))


def _bucket_counts(stats, name):
    return {b.value: b.count for b in stats.feature(name).string.buckets}


def test_categorical_counts_come_from_pass_one_when_exact(spark, caplog):
    """Pure string columns (with nulls and a boolean-looking value) need no second scan."""
    rows = [("a" if i % 3 else "b", None if i % 10 == 0 else ("true" if i % 7 == 0 else "c" + str(i % 4))) for i in range(5000)]
    df = spark.createDataFrame(rows, "x string, y string").repartition(3)
    with caplog.at_level("INFO", logger="analyzer.profile"):
        stats = profile(df).statistics
    assert "pass 2" not in caplog.text
    frame = pd.DataFrame(rows, columns=["x", "y"])
    assert _bucket_counts(stats, "x") == frame["x"].value_counts().to_dict()
    assert _bucket_counts(stats, "y") == frame["y"].dropna().value_counts().to_dict()


def test_categorical_column_with_numeric_values_is_recounted(spark, caplog):
    """The frequent-items sketch sees only non-numeric values: a String column that also holds
    numbers gets its buckets from the second pass, still exact."""
    rows = [("n/a" if i % 5 == 0 else str(i % 7),) for i in range(3000)]
    df = spark.createDataFrame(rows, "x string").repartition(3)
    with caplog.at_level("INFO", logger="analyzer.profile"):
        stats = profile(df).statistics
    assert "pass 2" in caplog.text
    assert stats.feature("x").inferred_type is InferredType.STRING
    assert _bucket_counts(stats, "x") == pd.Series([r[0] for r in rows]).value_counts().to_dict()


def test_top_items_exactness_guard():
    """Counts that do not add up (a sketch that purged) or a column with numbers are refused."""
    from analyzer.dtypes import TypeCounts
    from analyzer.profile import _exact_top_items

    top = [{"item": "a", "count": 6}, {"item": None, "count": 2}, {"item": "b", "count": 4}]
    assert _exact_top_items(top, TypeCounts(non_null=10)) == {"a": 6, "b": 4}
    assert _exact_top_items(top, TypeCounts(non_null=11)) is None
    assert _exact_top_items(top, TypeCounts(non_null=10, integral=1)) is None
    assert _exact_top_items(None, TypeCounts(non_null=10)) is None


def test_plain_number_values_equal_spark_parsing_bit_for_bit(spark):
    """Plain numbers are valued without parsing (the long, or the digits over a power of ten);
    that must give the double Spark's cast gives, to the last bit and the sign of zero."""
    import importlib
    import struct

    from pyspark.sql import functions as F

    engine = importlib.import_module("analyzer.profile")
    rng = np.random.default_rng(5)
    values = ["0", "-0", "+0", "-0.0", "0.000", "-00.00", "9007199254740993", "-9223372036854775808",
              "0.1", "0.7", "2.675", "1.0000000000000002", "123456789012345.67", "9007199254740993.5"]
    for _ in range(3000):
        whole = str(int(rng.integers(0, 10 ** int(rng.integers(1, 12)))))
        fraction = "".join(str(int(d)) for d in rng.integers(0, 10, int(rng.integers(0, 16))))
        sign = str(rng.choice(["", "-", "+"]))
        values.append(sign + whole + ("." + fraction if fraction else ""))
    df = spark.createDataFrame([(0, v, None, None, None) for v in values], "i int, v string, n double, k tinyint, m string")
    rows = engine._classified(df).withColumn("parsed", F.col("s").try_cast("double")).select("s", "c", "d", "parsed").collect()
    assert all(r["c"] in (1, 2) for r in rows)
    bits = lambda x: struct.pack("<d", x)  # noqa: E731
    wrong = [(r["s"], r["d"], r["parsed"]) for r in rows if bits(r["d"]) != bits(r["parsed"])]
    assert not wrong, wrong[:10]
