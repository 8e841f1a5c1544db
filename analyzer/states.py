"""Per-column profile states: an empty value, an update from one Arrow array, a merge.

A column's state is a handful of metrics, each declared once below with what it reads of a
batch (:class:`ColumnBatch`) and how two of it merge. Every batch of a column is first reduced
to a :class:`ColumnBatch` by vectorised kernels (pyarrow.compute, NumPy); the metrics then work
on whole arrays, never value by value. States merge exactly (counts, moments by Chan's update,
exact value counts) or within their error bound (the KLL and HLL sketches), so a dataset can be
profiled in parts, on threads or on Spark executors, and merged.

Low-cardinality columns (the usual categorical and small-integer columns) are reduced through
their value counts: each distinct value is classified and parsed once and weighs its count.
A column that shows more distinct values than :data:`EXACT_COUNTS_LIMIT` stops keeping exact
value counts and is reduced value by value from then on.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .dtypes import (
    CLASS_BOOLEAN,
    CLASS_FRACTIONAL,
    CLASS_INTEGRAL,
    CLASS_STRING,
    TypeCounts,
    ValueClass,
    classify_array,
    numeric_batch,
    parse_numbers,
)
from .hll import DistinctCounter, hash_float64, hash_strings
from .maths import java_double
from .sketch import KllAccumulator

# Exact value counts are kept while a column has at most this many distinct values; categorical
# buckets need them for String columns with up to 120 (ProfileOptions.categorical_max_distinct).
EXACT_COUNTS_LIMIT = 1024
# Example values kept per value class of a column (for data type violations), and their length.
EXAMPLES_PER_CLASS = 5
EXAMPLE_MAX_CHARS = 40
_EXAMPLE_CLASSES = (
    (CLASS_FRACTIONAL, ValueClass.FRACTIONAL.value), (CLASS_INTEGRAL, ValueClass.INTEGRAL.value),
    (CLASS_BOOLEAN, ValueClass.BOOLEAN.value), (CLASS_STRING, ValueClass.STRING.value),
)


@dataclass
class ColumnBatch:
    """One column of one batch, reduced to what the metrics read.

    ``classes``/``class_weights``: value classes of the non-null values; ``numbers`` and
    ``number_weights``: the doubles of numeric values that have one; ``others``: the distinct
    texts of the non-numeric values (for the distinct count); ``counts``: exact value counts
    (text -> count) when the batch was reduced through them; ``texts``: the non-null values as
    text, when a metric needs them value by value (domains); ``weights`` None means 1 each.
    """

    non_null: int
    fractional: int
    integral: int
    boolean: int
    numbers: np.ndarray
    number_weights: np.ndarray | None
    others: pa.Array
    counts: dict[str, int] | None
    texts: pa.Array | None
    classified: pa.Array | None = None
    classes: "np.ndarray | int" = CLASS_STRING


_EMPTY_STRINGS = pa.array([], pa.string())


def utf8_text(array: pa.Array, kind: pa.DataType = pa.string()) -> tuple[pa.Array, int]:
    """Bytes (a binary array, or a string array viewed as one) as text of type ``kind``: a value
    that is not UTF-8 becomes missing. Returns the text and how many values were not UTF-8."""
    texts, bad = [], 0
    for raw in array.to_pylist():
        try:
            texts.append(None if raw is None else raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(None)
            bad += 1
    return pa.array(texts, kind), bad


def _as_text(array: pa.Array) -> pa.Array:
    """Non-string columns as text (dates, decimals, timestamps; nested values as JSON; bytes
    read as UTF-8, as Spark casts binary to string, a value that is not UTF-8 missing)."""
    if pa.types.is_binary(array.type) or pa.types.is_large_binary(array.type) or pa.types.is_fixed_size_binary(array.type):
        try:
            return pc.cast(array, pa.string())
        except pa.ArrowInvalid:
            return utf8_text(array)[0]
    try:
        return pc.cast(array, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array(
            [None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in array.to_pylist()],
            pa.string(),
        )


def reduce_column(array: pa.Array, exact_counts: bool) -> ColumnBatch:
    """Reduce one column of a batch (any Arrow type) to a :class:`ColumnBatch`."""
    if isinstance(array, pa.ChunkedArray):  # combine_chunks copies even a single chunk
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    kind = array.type
    if pa.types.is_null(kind):
        return ColumnBatch(0, 0, 0, 0, np.zeros(0), None, _EMPTY_STRINGS, {} if exact_counts else None, None)
    if pa.types.is_integer(kind):
        # Integral whatever the digits; the value as a double, as Spark's cast gives it (the
        # nearest double beyond 2**53, where Arrow's safe cast refuses).
        values = array.drop_null()
        numbers = values.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        n = len(values)
        return ColumnBatch(n, 0, n, 0, numbers, None, _EMPTY_STRINGS, None, None, values, CLASS_INTEGRAL)
    if pa.types.is_floating(kind):
        values = array.drop_null().cast(pa.float64())
        numbers = values.to_numpy(zero_copy_only=False)
        finite = np.isfinite(numbers)
        n = len(numbers)
        if finite.all():
            return ColumnBatch(n, n, 0, 0, numbers, None, _EMPTY_STRINGS, None, None, values, CLASS_FRACTIONAL)
        # NaN and infinities print as Java's "NaN" / "Infinity": String values for Deequ.
        odd = numbers[~finite]
        others = pa.array(sorted({"NaN" if np.isnan(x) else ("Infinity" if x > 0 else "-Infinity") for x in odd}))
        kept = int(finite.sum())
        classes = np.where(finite, CLASS_FRACTIONAL, CLASS_STRING).astype(np.int8)
        return ColumnBatch(n, kept, 0, 0, numbers[finite], None, others, None, None, values, classes)
    if pa.types.is_boolean(kind):
        array = pc.if_else(array, "true", "false")
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        array = _as_text(array)
    return _reduce_text(array, exact_counts)


def _reduce_text(array: pa.Array, exact_counts: bool) -> ColumnBatch:
    counts: dict[str, int] | None = None
    texts = array.drop_null()
    weights: np.ndarray | None = None
    if exact_counts:
        found = pc.value_counts(texts)
        values = found.field("values")
        if len(values) <= EXACT_COUNTS_LIMIT:
            weights = found.field("counts").to_numpy(zero_copy_only=False).astype(np.int64)
            counts = dict(zip(values.to_pylist(), weights.tolist()))
            distinct = values
        else:
            distinct = texts
    else:
        distinct = texts
    fast = numeric_batch(distinct)
    if fast is not None:  # every value a plain number: classes and doubles from one parse
        classes, numbers = fast
        number_weights, others = weights, _EMPTY_STRINGS
    else:
        classes = classify_array(distinct)
        numbers, number_weights, others = _split_numbers(distinct, classes, weights)
    totals = np.bincount(classes, weights=weights, minlength=5).astype(np.int64)
    return ColumnBatch(
        non_null=int(totals.sum()),
        fractional=int(totals[CLASS_FRACTIONAL]),
        integral=int(totals[CLASS_INTEGRAL]),
        boolean=int(totals[CLASS_BOOLEAN]),
        numbers=numbers,
        number_weights=number_weights,
        others=others,
        counts=counts,
        texts=texts,
        classified=distinct,
        classes=classes,
    )


def _split_numbers(values: pa.Array, classes: np.ndarray, weights: np.ndarray | None):
    """(doubles, their weights, distinct other texts) of classified values: the numeric values
    that have a double (see :func:`parse_numbers`), and the texts of the rest."""
    numeric = (classes == CLASS_FRACTIONAL) | (classes == CLASS_INTEGRAL)
    if not numeric.any():
        return np.zeros(0), None, values if weights is not None else pc.unique(values)
    numbers = parse_numbers(values.filter(pa.array(numeric)))
    number_weights = weights[numeric] if weights is not None else None
    parsed = ~np.isnan(numbers)
    if not parsed.all():
        numbers = numbers[parsed]
        number_weights = number_weights[parsed] if number_weights is not None else None
    others = values.filter(pa.array(~numeric))
    return numbers, number_weights, others if weights is not None or not len(others) else pc.unique(others)


# ---------------------------------------------------------------- the metrics
@dataclass
class Moments:
    """Count, sum, mean and M2 of the numeric values (Chan et al.'s pairwise update), min, max."""

    n: int = 0
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    min: float = np.inf
    max: float = -np.inf

    def update(self, batch: ColumnBatch) -> None:
        x, w = batch.numbers, batch.number_weights
        if len(x) == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            if w is None:
                n = len(x)
                total = float(np.sum(x))
                # The mean behind the spread stays finite when the sum overflows (1e308 + 1e308):
                # the reported mean is the sum over the count, as Deequ's, and may be infinite.
                mean = total / n if math.isfinite(total) else float(np.sum(x / n))
                m2 = float(np.sum(np.square(x - mean)))
            else:
                n = int(w.sum())
                total = float(np.dot(x, w))
                mean = total / n if math.isfinite(total) else float(np.dot(x / n, w))
                m2 = float(np.dot(np.square(x - mean), w))
        self._combine(n, total, mean, m2, float(x.min()), float(x.max()))

    def merge(self, other: "Moments") -> None:
        if other.n:
            self._combine(other.n, other.total, other.mean, other.m2, other.min, other.max)

    def _combine(self, n: int, total: float, mean: float, m2: float, lo: float, hi: float) -> None:
        if self.n == 0:
            self.n, self.total, self.mean, self.m2 = n, total, mean, m2
        else:
            count = self.n + n
            delta = mean - self.mean
            self.m2 = self.m2 + m2 + delta * delta * self.n * n / count
            self.mean = self.mean + delta * n / count
            self.n, self.total = count, self.total + total  # may overflow to inf, as Deequ's sum
        self.min, self.max = min(self.min, lo), max(self.max, hi)

    @property
    def std_dev(self) -> float:
        """Population standard deviation."""
        return float(np.sqrt(max(self.m2, 0.0) / self.n)) if self.n else 0.0


@dataclass
class Quantiles:
    """The KLL quantile sketch of the numeric values."""

    sketch: KllAccumulator

    def update(self, batch: ColumnBatch) -> None:
        if len(batch.numbers):
            x = batch.numbers if batch.number_weights is None else np.repeat(batch.numbers, batch.number_weights)
            self.sketch.update(x)

    def merge(self, other: "Quantiles") -> None:
        self.sketch.merge(other.sketch)


@dataclass
class Distinct:
    """Approximate distinct count: numeric values by value, other values by text."""

    counter: DistinctCounter

    def update(self, batch: ColumnBatch) -> None:
        if len(batch.numbers):
            self.counter.update(hash_float64(batch.numbers))
        if len(batch.others):
            self.counter.update(hash_strings(batch.others))

    def merge(self, other: "Distinct") -> None:
        self.counter.merge(other.counter)


@dataclass
class ValueCounts:
    """Exact counts of every value while the column has at most EXACT_COUNTS_LIMIT of them
    (``counts`` None past that): the categorical buckets of String columns."""

    counts: dict[str, int] | None = field(default_factory=dict)

    def update(self, batch: ColumnBatch) -> None:
        if self.counts is None:
            return
        if batch.counts is None:
            self.counts = None
            return
        self._add(batch.counts)

    def merge(self, other: "ValueCounts") -> None:
        if self.counts is None or other.counts is None:
            self.counts = None
        else:
            self._add(other.counts)

    def _add(self, counts: Mapping[str, int]) -> None:
        assert self.counts is not None
        for value, count in counts.items():
            self.counts[value] = self.counts.get(value, 0) + count
        if len(self.counts) > EXACT_COUNTS_LIMIT:
            self.counts = None


@dataclass
class OutsideDomain:
    """How many non-null values lie outside a baseline domain (the categorical values check)."""

    domain: frozenset[str]
    outside: int = 0

    def update(self, batch: ColumnBatch) -> None:
        if batch.counts is not None:
            self.outside += sum(c for v, c in batch.counts.items() if v not in self.domain)
        elif batch.texts is not None and len(batch.texts):
            inside = pc.is_in(batch.texts, value_set=pa.array(sorted(self.domain), pa.string()))
            self.outside += len(batch.texts) - int(pc.sum(inside).as_py() or 0)
        else:
            # a native numeric or float column: none of its values is a domain string
            self.outside += batch.non_null

    def merge(self, other: "OutsideDomain") -> None:
        self.outside += other.outside


@dataclass
class Examples:
    """The first :data:`EXAMPLES_PER_CLASS` distinct values of each value class, in data order:
    a data type violation shows the values that are not of the expected type.

    Values are kept as text, clipped to :data:`EXAMPLE_MAX_CHARS` characters (and an ellipsis),
    so the state stays small whatever the data. Merging keeps this part's values first and adds
    the other's new ones: batches applied in order and parts merged in order (threads, Spark
    partitions) keep the same values, the first ones of the whole column.
    """

    values: dict[str, list[str]] = field(default_factory=dict)  # value class name -> texts

    def update(self, batch: ColumnBatch) -> None:
        if batch.classified is None or not len(batch.classified):
            return
        for code, name in _EXAMPLE_CLASSES:
            kept = self.values.get(name, [])
            if len(kept) >= EXAMPLES_PER_CLASS:
                continue
            if isinstance(batch.classes, np.ndarray):
                mask = batch.classes == code
                if not mask.any():
                    continue
                values = batch.classified if mask.all() else batch.classified.filter(pa.array(mask))
            elif batch.classes == code:
                values = batch.classified
            else:
                continue
            # distinct values, then their texts (clipped texts may coincide), in order of first appearance
            found = pc.unique(_example_texts(pc.unique(values)))
            self._add(name, found.slice(0, EXAMPLES_PER_CLASS + len(kept)).to_pylist())

    def merge(self, other: "Examples") -> None:
        for name, texts in other.values.items():
            self._add(name, texts)

    def _add(self, name: str, texts: list[str]) -> None:
        kept = self.values.setdefault(name, [])
        for text in texts:
            if len(kept) >= EXAMPLES_PER_CLASS:
                return
            if text not in kept:
                kept.append(text)

    def result(self) -> dict[str, tuple[str, ...]]:
        return {name: tuple(texts) for name, texts in self.values.items() if texts}


def _example_texts(values: pa.Array) -> pa.Array:
    """Values as the texts an example shows: strings clipped to EXAMPLE_MAX_CHARS characters
    (an ellipsis marks a clipped one), integers as digits, doubles as Java prints them (as
    Spark would read them back)."""
    if pa.types.is_floating(values.type):  # distinct values come in: a few are formatted
        first = values.slice(0, 2 * EXAMPLES_PER_CLASS).to_pylist()
        return pa.array([java_double(x) for x in first], pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return pc.cast(values, pa.string())
    clipped = pc.utf8_slice_codeunits(values, 0, EXAMPLE_MAX_CHARS)
    longer = pc.greater(pc.utf8_length(values), EXAMPLE_MAX_CHARS)
    if not pc.any(longer).as_py():
        return clipped
    return pc.if_else(longer, pc.binary_join_element_wise(clipped, "\u2026", ""), clipped)


@dataclass
class ColumnState:
    """Everything profiled of one column."""

    types: TypeCounts = field(default_factory=TypeCounts)
    moments: Moments = field(default_factory=Moments)
    quantiles: Quantiles | None = None
    distinct: Distinct | None = None
    values: ValueCounts = field(default_factory=ValueCounts)
    domain: OutsideDomain | None = None
    examples: Examples = field(default_factory=Examples)

    @staticmethod
    def empty(kll_k: int, distinct_lg_k: int, domain: tuple[str, ...] | None = None) -> "ColumnState":
        return ColumnState(
            quantiles=Quantiles(KllAccumulator(kll_k)),
            distinct=Distinct(DistinctCounter(distinct_lg_k)),
            domain=OutsideDomain(frozenset(domain)) if domain is not None else None,
        )

    def _metrics(self) -> tuple:
        metrics = (self.moments, self.quantiles, self.distinct, self.values, self.domain, self.examples)
        return tuple(m for m in metrics if m is not None)

    def update(self, array: pa.Array) -> None:
        batch = reduce_column(array, exact_counts=self.values.counts is not None)
        self.types = self.types.merge(TypeCounts(batch.non_null, batch.fractional, batch.integral, batch.boolean))
        for metric in self._metrics():
            metric.update(batch)

    def merge(self, other: "ColumnState") -> None:
        self.types = self.types.merge(other.types)
        for mine, theirs in zip(self._metrics(), other._metrics(), strict=True):
            mine.merge(theirs)
