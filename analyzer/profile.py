"""profile(df) -> DatasetProfile: every metric of every column in one Spark scan.

Pass 1 turns each row into one cell per column, ``(column index, text, known number)``, and
aggregates the cells grouped by column index. Every column shares one set of expressions: the
value class for type inference (Deequ's regular expressions, evaluated by Spark), sum and
population standard deviation of the value as a double, a DataSketches KLL sketch
(``kll_sketch_agg_double``, which also holds the exact count, minimum and maximum) and a
DataSketches HLL distinct count (``hll_sketch_agg``). Because the
generated code does not grow with the number of columns, wide datasets compile fast and the JIT
keeps it compiled; a wide ``df.agg`` of 20 columns x 13 aggregates was 5 s slower on its first
(and only) run. The type is decided on the driver from the counts.

Categorical buckets (String columns with at most ``categorical_max_distinct`` distinct values)
come from pass 1's frequent-items sketch of the non-numeric values when its counts are provably
exact. Pass 2 runs only for categorical columns that also hold numeric-looking values (which the
sketch does not see): one grouped count over all such columns at once.

No Python code runs per row; the driver sees one row per column and a few bucket rows.
"""
from __future__ import annotations

import functools
import logging
import operator
from dataclasses import dataclass, field
from typing import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from . import maths
from .dtypes import BOOLEAN_VALUES, FRACTION_MARKERS, NUMBER_PATTERN, InferredType, TypeCounts, infer_type
from .model import (
    Bucket,
    CategoricalBucket,
    CommonStatistics,
    FeatureStatistics,
    NumericalStatistics,
    Statistics,
    StringStatistics,
)
from .sketch import DEFAULT_K, read_spark_kll

log = logging.getLogger(__name__)

REPLACEMENT_CHARACTER = "\ufffd"


def _undecodable(text: Column) -> Column:
    """Undecodable bytes arrive as U+FFFD; such a value is counted as missing."""
    return F.instr(text, REPLACEMENT_CHARACTER) > 0


def _decoded(text: Column) -> Column:
    return F.when(_undecodable(text), F.lit(None)).otherwise(text)
_INTEGRAL_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_NUMERIC_TYPES = (T.FloatType, T.DoubleType, T.DecimalType)


@dataclass(frozen=True)
class ProfileOptions:
    """Engine settings.

    kll_k: DataSketches KLL size; 2048 (SageMaker's own k) keeps a normalised rank error of
        about 0.14% (99% confidence), so a bucket count is within about 0.28% of n.
    distinct_lg_k: log2 of the DataSketches HLL register count for distinct counts; 12 gives a
        relative standard error of about 1.6% (exact while a column has few distinct values).
    categorical_max_distinct: String columns with at most this many (approximate) distinct values
        get categorical buckets and, in constraints, a domain (Deequ's profiler uses 120).
    malformed_column: name of the reader's corrupt-record column, counted and not profiled.
    domains: per column, baseline domain values; the scan also counts values outside them.
    """

    kll_k: int = DEFAULT_K
    distinct_lg_k: int = 12
    categorical_max_distinct: int = 120
    malformed_column: str | None = None
    domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetProfile:
    statistics: Statistics
    type_counts: Mapping[str, TypeCounts] = field(default_factory=dict)
    malformed_rows: int = 0
    undecodable_values: int = 0
    outside_domain: Mapping[str, int] = field(default_factory=dict)

    def only(self, names: "list[str] | tuple[str, ...]") -> "DatasetProfile":
        """The same profile restricted to (and ordered as) ``names`` (columns are independent)."""
        by_name = {f.name: f for f in self.statistics.features}
        return DatasetProfile(
            Statistics(self.statistics.item_count, tuple(by_name[n] for n in names)),
            {n: self.type_counts[n] for n in names if n in self.type_counts},
            self.malformed_rows,
            self.undecodable_values,
            {n: v for n, v in self.outside_domain.items() if n in names},
        )


# Value classes per cell (see dtypes.NUMBER_PATTERN for why one regex suffices).
_FRACTIONAL, _INTEGRAL, _BOOLEAN, _STRING = 1, 2, 3, 4


@dataclass(frozen=True)
class Cells:
    """A dataset already in long form, as :func:`profile` works on it: one row per (row, column)
    with ``i`` (int, the column's index in ``features``) and ``v`` (string, the value's text;
    null when missing), and optionally ``m`` (string, non-null on column 0's cell of a malformed
    row). A reader that can split records itself (a delimited text line) hands this over and
    saves building a wide row only to take it apart again."""

    df: DataFrame
    features: tuple[str, ...]

    def renamed(self, features: "list[str] | tuple[str, ...]") -> "Cells":
        return Cells(self.df, tuple(features))


def _text_cells(cells: Cells) -> DataFrame:
    """The (i, v, n, k, m) rows of :func:`_cells` from a :class:`Cells` (text only)."""
    df = cells.df
    marker = F.col("m") if "m" in df.columns else F.lit(None).cast("string")
    return df.select(
        F.col("i").cast("int").alias("i"), F.col("v").cast("string").alias("v"), F.lit(None).cast("double").alias("n"),
        F.lit(None).cast("tinyint").alias("k"), marker.alias("m"),
    )


def _cells(df: DataFrame, features: list[str], malformed: str | None) -> DataFrame:
    """One row per (row, column): i (column index), v (text), n (double from a numeric Spark
    type), k (value class when the Spark type decides it), m (malformed-row marker, column 0)."""
    types = {f.name: f.dataType for f in df.schema.fields}
    cells = []
    for i, name in enumerate(features):
        col = F.col(f"`{name}`")
        dtype = types[name]
        text = col if isinstance(dtype, T.StringType) else col.cast("string")
        number = col.cast("double") if isinstance(dtype, _INTEGRAL_TYPES + _NUMERIC_TYPES) else F.lit(None).cast("double")
        known = F.when(col.isNotNull(), F.lit(_INTEGRAL)) if isinstance(dtype, _INTEGRAL_TYPES) else F.lit(None)
        marker = F.col(f"`{malformed}`") if malformed and i == 0 else F.lit(None).cast("string")
        cells.append(F.struct(
            F.lit(i).alias("i"), text.alias("v"), number.alias("n"), known.cast("tinyint").alias("k"), marker.alias("m"),
        ))
    return df.select(F.explode(F.array(*cells)).alias("c")).select("c.*")


_EXACT_POWERS_OF_TEN = tuple(float(10**j) for j in range(23))  # 10**22 is the last exact double


def _number_class(v: Column) -> tuple[list[list[Column]], Column, Column]:
    """(helper projections, class, value) of a text ``v``: the class is _FRACTIONAL or _INTEGRAL when
    ``v`` matches NUMBER_PATTERN, else null; the value is its double when found without parsing.

    The regular expression and the string-to-double cast cost more than everything else done
    to a value, so plain numbers (optional sign, digits, optionally one dot and digits) are
    recognised without them: a first byte that is a digit (or a sign, then a digit), a last
    byte that is a digit, and what lies between accepted by Spark's string-to-long cast, which
    never throws and accepts exactly [sign]digits once the ends are known to be digits (for a
    fraction, with its one dot removed; a number too long for a long is left to the regular
    expression). The expression then runs only on other values that could start a number
    (digit, sign or space). The value of a plain number is the long as a double or, for a
    fraction, the digits divided by a power of ten, both exact operands while the digits are
    below 2**53 and the power at most 10**22, so that IEEE rounding gives the double that parsing
    would (zero is left to the cast, for the sign of -0.0).
    """
    starts_digit = (v >= F.lit("0")) & (v < F.lit(":"))
    plain_start = starts_digit | ((v >= F.lit("-0")) & (v < F.lit("-:"))) | ((v >= F.lit("+0")) & (v < F.lit("+:")))
    # The last byte is tested by suffix comparisons: substring(v, -1, 1) counts the characters of
    # every value and copies one (a tenth of the scan's CPU on the benchmark).
    plain_end = functools.reduce(operator.or_, [v.endswith(digit) for digit in "0123456789"])
    maybe = starts_digit | v.startswith("-") | v.startswith("+") | v.startswith(" ")
    # contains() tests the first byte before comparing; instr() compares at every position.
    first = [(plain_start & plain_end).alias("plain"), maybe.alias("maybe"), v.contains(".").alias("dotted")]
    plain, dotted = F.col("plain"), F.col("dotted")
    second = [
        "maybe", "plain", "dotted", F.when(plain & dotted, F.instr(v, ".")).otherwise(0).alias("dot"),
        F.when(plain & dotted, F.replace(v, F.lit("."), F.lit(""))).alias("undotted"),
    ]
    dot = F.col("dot")
    undotted = F.col("undotted")
    third = [
        "maybe",
        F.when(plain & ~dotted, v.try_cast("long")).alias("whole"),
        F.when(F.octet_length(v) - F.octet_length(undotted) == 1, undotted.try_cast("long")).alias("digits"),
        (F.octet_length(v) - dot).alias("scale"),
    ]
    whole, digits, scale = F.col("whole"), F.col("digits"), F.col("scale")
    has_marker = functools.reduce(operator.or_, [v.contains(m) for m in FRACTION_MARKERS])
    number_class = (
        F.when(whole.isNotNull(), F.lit(_INTEGRAL))
        .when(digits.isNotNull(), F.lit(_FRACTIONAL))
        .when(F.col("maybe") & v.rlike(NUMBER_PATTERN), F.when(has_marker, F.lit(_FRACTIONAL)).otherwise(F.lit(_INTEGRAL)))
    )
    powers = F.array(*[F.lit(p) for p in _EXACT_POWERS_OF_TEN])
    value = (
        F.when(whole.isNotNull() & (whole != 0), whole.cast("double"))
        .when(digits.isNotNull() & (digits != 0) & (F.abs(digits) < F.lit(2**53)) & (scale <= 22),
              digits.cast("double") / F.element_at(powers, scale + 1))
    )
    return [first, second, third], number_class.cast("tinyint"), value


def _classified(cells: DataFrame) -> DataFrame:
    """Add s (text, with undecodable values nulled), u (undecodable), c (class) and d (double)."""
    v = F.col("v")
    # Each step in its own projection, so that nothing runs twice per value (Spark does not
    # merge projections whose expensive results are used more than once).
    helpers, number_class, number_value = _number_class(v)
    for projection in helpers:
        cells = cells.select("i", "m", "n", "k", "v", *projection)
    cells = cells.select("i", "m", "n", "k", "v", number_class.alias("num"), number_value.alias("x"))
    number = F.col("num")
    value_class = (
        F.when(F.col("k").isNotNull(), F.col("k"))
        .when(v.isNull(), F.lit(None))
        .when(number.isNotNull(), number)
        .when(v.isin(list(BOOLEAN_VALUES)), F.lit(_BOOLEAN))
        .otherwise(F.lit(_STRING))
        .cast("tinyint")
    )
    cells = cells.select("i", "m", "n", "v", "x", value_class.alias("c0"))
    c0 = F.col("c0")
    # Only a String value can hold U+FFFD (numbers and booleans are ASCII): look for it there.
    cells = cells.select("i", "m", "n", "v", "x", "c0", ((c0 == _STRING) & _undecodable(v)).alias("u"))
    u = F.col("u")
    c = F.when(u, F.lit(None)).otherwise(c0)
    text = F.when(u, F.lit(None)).otherwise(v)
    # Parse only numbers not valued above, so that no cast fails (a failing cast is slow).
    double = F.coalesce(
        F.col("n"), F.col("x"), F.when((c0 == _FRACTIONAL) | (c0 == _INTEGRAL), v.try_cast("double"))
    )
    return cells.select("i", "m", "u", text.alias("s"), c.alias("c"), double.alias("d"))


def _outside_domain(features: list[str], options: ProfileOptions) -> Column:
    s = F.col("s")
    branches = None
    for i, name in enumerate(features):
        domain = options.domains.get(name)
        if domain is None:
            continue
        condition = F.col("i") == i
        value = s.isNotNull() & ~s.isin(list(domain))
        branches = F.when(condition, value) if branches is None else branches.when(condition, value)
    return F.count_if(branches) if branches is not None else F.lit(None).cast("long")


def profile(data: "DataFrame | Cells", options: ProfileOptions = ProfileOptions()) -> DatasetProfile:
    """Profile every column of ``data`` into SageMaker statistics.

    ``data`` is a DataFrame of strings (CSV, captured payloads) or native Spark types (Parquet,
    JSON), or a dataset already split into :class:`Cells`.
    """
    if isinstance(data, Cells):
        features = list(data.features)
        raw_cells = _text_cells(data)
    else:
        features = [c for c in data.columns if c != options.malformed_column]
        raw_cells = _cells(data, features, options.malformed_column) if features else None
    if not features:
        return DatasetProfile(Statistics(0, ()))
    cells = _classified(raw_cells)
    # The frequent-items input is projected here, in generated code: an aggregate's own input
    # expression is evaluated row by row, interpreted, in the sketch aggregation.
    cells = cells.withColumn("t", F.when(F.col("c") >= _BOOLEAN, F.col("s")))
    s, c, d = F.col("s"), F.col("c"), F.col("d")
    aggregations = [
        F.count(F.lit(1)).alias("rows"),
        F.count("m").alias("malformed"),
        F.count(s).alias("non_null"),
        F.count_if(c == _FRACTIONAL).alias("fractional"),
        F.count_if(c == _INTEGRAL).alias("integral"),
        F.count_if(c == _BOOLEAN).alias("boolean"),
        F.count_if("u").alias("undecodable"),
        # The KLL sketch carries the exact count, minimum and maximum of d.
        F.sum(d).alias("sum"),
        F.stddev_pop(d).alias("std"),
        F.kll_sketch_agg_double(d, F.lit(options.kll_k)).alias("kll"),
        F.hll_sketch_estimate(F.hll_sketch_agg(s, options.distinct_lg_k)).alias("distinct"),
        # Frequent items (DataSketches ItemsSketch) of the non-numeric values: exact while a
        # column has fewer distinct values than the sketch holds, which covers every categorical
        # column, so most datasets need no second pass for categorical buckets.
        F.call_function("approx_top_k", F.col("t"), F.lit(_top_items(options)), F.lit(_top_items(options))).alias("top"),
        _outside_domain(features, options).alias("outside"),
    ]
    log.info("Profiling %d columns (pass 1: statistics and type inference)", len(features))
    rows = {int(r["i"]): r for r in cells.groupBy("i").agg(*aggregations).collect()}
    if not rows:
        return DatasetProfile(Statistics(0, tuple(FeatureStatistics(n, InferredType.UNKNOWN) for n in features)))
    item_count, malformed = int(rows[0]["rows"]), int(rows[0]["malformed"])
    sketches = {i: read_spark_kll(r["kll"], options.kll_k) for i, r in rows.items()}
    counts = {
        i: TypeCounts(int(r["non_null"]), int(r["fractional"]), int(r["integral"]), int(r["boolean"]))
        for i, r in rows.items()
    }
    categorical = [
        i for i in range(len(features))
        if infer_type(counts[i]) is InferredType.STRING and (rows[i]["distinct"] or 0) <= options.categorical_max_distinct
    ]
    value_counts: dict[int, dict[str, int]] = {}
    for i in categorical:
        exact = _exact_top_items(rows[i]["top"], counts[i])
        if exact is not None:
            value_counts[i] = exact
    recount = [i for i in categorical if i not in value_counts]
    if recount:
        log.info("Counting values of %d low-cardinality columns (pass 2)", len(recount))
        value_counts.update(_value_counts(data, features, recount))
    statistics = tuple(
        _feature(name, counts[i], rows[i], sketches[i], item_count, value_counts.get(i), options)
        for i, name in enumerate(features)
    )
    return DatasetProfile(
        Statistics(item_count, statistics),
        {name: counts[i] for i, name in enumerate(features)},
        malformed,
        sum(int(r["undecodable"]) for r in rows.values()),
        {name: int(rows[i]["outside"]) for i, name in enumerate(features) if rows[i]["outside"] is not None},
    )


def _top_items(options: ProfileOptions) -> int:
    """Items the frequent-items sketch tracks: DataSketches keeps counts exact up to 0.75 of its
    map size (a power of two >= this / 0.75), so 1.5x the categorical limit leaves a margin
    for the distinct-count estimate's error."""
    return max(8, int(options.categorical_max_distinct * 1.5))


def _exact_top_items(top, counts: TypeCounts) -> dict[str, int] | None:
    """Value counts from pass 1's frequent items, when they are provably exact: the sketch saw
    every value of the column (no numeric values, which it does not track) and its counts add
    up to the number of values (a sketch that ran out of room lowers counts when it purges)."""
    if top is None or counts.fractional or counts.integral:
        return None
    found = {r["item"]: int(r["count"]) for r in top if r["item"] is not None}  # nulls are counted too
    return found if sum(found.values()) == counts.non_null else None


def _value_counts(data: "DataFrame | Cells", features: list[str], columns: list[int]) -> dict[int, dict[str, int]]:
    if isinstance(data, Cells):
        pairs = data.df.where(F.col("i").isin(columns)).select(F.col("i"), _decoded(F.col("v").cast("string")).alias("v"))
    else:
        structs = []
        for i in columns:
            text = _decoded(F.col(f"`{features[i]}`").cast("string"))
            structs.append(F.struct(F.lit(i).alias("i"), text.alias("v")))
        pairs = data.select(F.explode(F.array(*structs)).alias("p")).select("p.i", "p.v")
    rows = pairs.where(F.col("v").isNotNull()).groupBy("i", "v").count().collect()
    out: dict[int, dict[str, int]] = {}
    for r in rows:
        out.setdefault(int(r["i"]), {})[r["v"]] = int(r["count"])
    return out


def _feature(
    name: str,
    counts: TypeCounts,
    row,
    kll,
    item_count: int,
    value_counts: dict[str, int] | None,
    options: ProfileOptions,
) -> FeatureStatistics:
    present = counts.non_null
    common = CommonStatistics(present, item_count - present)
    completeness = present / item_count if item_count else 0.0
    distinct = float(row["distinct"] or 0)
    inferred = infer_type(counts)
    if inferred.is_numeric:
        sketch, n_numbers, total, std = kll.sketch, kll.n, row["sum"], row["std"]
        lo = float(kll.min) if kll.min is not None else 0.0
        hi = float(kll.max) if kll.max is not None else 0.0
        buckets = tuple(
            Bucket(a, b, c)
            for (a, b), c in zip(maths.bucket_edges(lo, hi), maths.bucket_counts(sketch, lo, hi))
        ) if n_numbers else ()
        numerical = NumericalStatistics(
            common=common,
            mean=float(total) / n_numbers if n_numbers else 0.0,
            sum=float(total or 0.0),
            std_dev=float(std or 0.0),
            min=lo,
            max=hi,
            buckets=buckets,
            sketch=sketch,
            approximate_num_distinct_values=distinct,
            completeness=completeness,
        )
        return FeatureStatistics(name, inferred, numerical=numerical)
    buckets = None
    if value_counts is not None:
        ordered = sorted(value_counts.items(), key=lambda kv: (-kv[1], kv[0]))
        buckets = tuple(CategoricalBucket(v, c) for v, c in ordered)
    string = StringStatistics(common, distinct, buckets, completeness)
    return FeatureStatistics(name, inferred, string=string)
