"""Type inference, value by value, as Deequ 2.0.2 (the SageMaker analyzer's base) does it.

Each non-null value, as a string, is classified by regular expression; the column type is then
decided from the class counts. Spark evaluates the same patterns (Java regex, ``rlike``), so
the Python :func:`classify` below and the Spark aggregation agree by construction.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

FRACTIONAL_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$"
INTEGRAL_PATTERN = r"^(-|\+)? ?\d+$"
BOOLEAN_PATTERN = r"^(true|false)$"

# The engine evaluates one regular expression per value instead of three: NUMBER_PATTERN is
# exactly INTEGRAL or FRACTIONAL (the fractional tail made optional); a number is fractional iff
# it holds '.', 'e' or 'E' (every fractional match has one, no integral match has any). Booleans
# are a set lookup: Java's `$` matches at the end or before one final line terminator, so
# BOOLEAN_PATTERN matches exactly BOOLEAN_VALUES.
NUMBER_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))?$"
FRACTION_MARKERS = (".", "e", "E")
JAVA_LINE_TERMINATORS = ("\r\n", "\n", "\r", "\u0085", "\u2028", "\u2029")
BOOLEAN_VALUES = tuple(b + t for b in ("true", "false") for t in ("",) + JAVA_LINE_TERMINATORS)

_FRACTIONAL = re.compile(FRACTIONAL_PATTERN[1:-1], re.ASCII)
_INTEGRAL = re.compile(INTEGRAL_PATTERN[1:-1], re.ASCII)
_BOOLEAN = re.compile(BOOLEAN_PATTERN[1:-1])


def _java_anchored(value: str) -> str:
    """The part of value that a Java ``^...$`` pattern must match in full."""
    for terminator in JAVA_LINE_TERMINATORS:
        if value.endswith(terminator):
            return value[: -len(terminator)]
    return value


class InferredType(str, enum.Enum):
    """The ``inferred_type`` values of SageMaker's statistics and constraints files."""

    INTEGRAL = "Integral"
    FRACTIONAL = "Fractional"
    STRING = "String"
    UNKNOWN = "Unknown"

    @property
    def is_numeric(self) -> bool:
        return self in (InferredType.INTEGRAL, InferredType.FRACTIONAL)


class ValueClass(str, enum.Enum):
    FRACTIONAL = "Fractional"
    INTEGRAL = "Integral"
    BOOLEAN = "Boolean"
    STRING = "String"
    NULL = "Unknown"


def classify(value: str | None) -> ValueClass:
    """Classify one value as Deequ's ``DataType`` analyzer does.

    Examples
    --------
    >>> classify("3.0").value, classify("3").value, classify("1.").value, classify(None).value
    ('Fractional', 'Integral', 'String', 'Unknown')
    """
    if value is None:
        return ValueClass.NULL
    body = _java_anchored(value)
    if _FRACTIONAL.fullmatch(body):
        return ValueClass.FRACTIONAL
    if _INTEGRAL.fullmatch(body):
        return ValueClass.INTEGRAL
    if _BOOLEAN.fullmatch(body):
        return ValueClass.BOOLEAN
    return ValueClass.STRING


@dataclass(frozen=True)
class TypeCounts:
    """How many non-null values of a column fall in each class."""

    non_null: int = 0
    fractional: int = 0
    integral: int = 0
    boolean: int = 0

    @property
    def string(self) -> int:
        return self.non_null - self.fractional - self.integral - self.boolean

    @staticmethod
    def zero() -> "TypeCounts":
        return TypeCounts()

    def merge(self, other: "TypeCounts") -> "TypeCounts":
        return TypeCounts(
            self.non_null + other.non_null,
            self.fractional + other.fractional,
            self.integral + other.integral,
            self.boolean + other.boolean,
        )

    @staticmethod
    def of(values: "list[str | None]") -> "TypeCounts":
        counts = {c: 0 for c in ValueClass}
        for v in values:
            counts[classify(v)] += 1
        return TypeCounts(
            non_null=len(values) - counts[ValueClass.NULL],
            fractional=counts[ValueClass.FRACTIONAL],
            integral=counts[ValueClass.INTEGRAL],
            boolean=counts[ValueClass.BOOLEAN],
        )

    def count_of(self, inferred: InferredType) -> int:
        """Values matching a baseline type, as the data type check counts them.

        Integral values do not count as Fractional (a real SageMaker report shows integer values
        in a Fractional column as "Only 0.0% of data is Fractional"); Boolean values count as String
        because this project reports Boolean columns as String.
        """
        if inferred is InferredType.FRACTIONAL:
            return self.fractional
        if inferred is InferredType.INTEGRAL:
            return self.integral
        if inferred is InferredType.STRING:
            return self.string + self.boolean
        return 0


def infer_type(counts: TypeCounts) -> InferredType:
    """Decide the column type from its value classes (Deequ ``DataTypeHistogram.determineType``).

    Deequ's ``Boolean`` result (a column holding only ``true``/``false``) is reported as
    ``String``: SageMaker's schema has no Boolean type, and as a String the column keeps its
    categorical distribution and domain.

    Examples
    --------
    >>> infer_type(TypeCounts(non_null=3, integral=2, fractional=1)).value
    'Fractional'
    >>> infer_type(TypeCounts(non_null=2, integral=1, boolean=1)).value
    'String'
    """
    if counts.non_null == 0:
        return InferredType.UNKNOWN
    if counts.string > 0 or (counts.boolean > 0 and (counts.integral > 0 or counts.fractional > 0)):
        return InferredType.STRING
    if counts.boolean > 0:
        return InferredType.STRING
    if counts.fractional > 0:
        return InferredType.FRACTIONAL
    return InferredType.INTEGRAL


# ---------------------------------------------------------------- vectorised, on Arrow arrays
# Value-class codes of the vectorised classifier (0 is a missing value).
CLASS_NULL, CLASS_FRACTIONAL, CLASS_INTEGRAL, CLASS_BOOLEAN, CLASS_STRING = 0, 1, 2, 3, 4

# NUMBER_PATTERN for RE2 (pyarrow.compute's regular expressions): RE2's `$` matches only at the
# very end, so Java's "before one final line terminator" is spelled out; `\d` is ASCII in both.
RE2_NUMBER_PATTERN = (
    r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))?(?:\r\n|[\n\r\x{85}\x{2028}\x{2029}])?$"
)
_JAVA_TRIMMED = "".join(map(chr, range(33)))
_NUMBER_CHARACTERS = frozenset("0123456789+-.eE")


def classify_array(values) -> "np.ndarray":
    """Value class codes (CLASS_*) of a pyarrow string array without nulls, as :func:`classify`.

    Plain numbers (``-12``, ``3.25``) are recognised by a few byte-level kernels; only the
    other values go through the regular expression.

    Examples
    --------
    >>> import pyarrow as pa
    >>> classify_array(pa.array(["3.0", "3", "1.", "true", "5\\n", "-.5", "1e5"])).tolist()
    [1, 2, 4, 3, 2, 4, 1]
    """
    import numpy as np
    import pyarrow as pa

    codes = np.full(len(values), CLASS_STRING, dtype=np.int8)
    if len(values) == 0:
        return codes
    plain, dotted = _plain_numbers(values)
    codes[plain] = np.where(dotted[plain], CLASS_FRACTIONAL, CLASS_INTEGRAL)
    rest = ~plain
    if rest.any():
        codes[rest] = _classify_by_pattern(values if rest.all() else values.filter(pa.array(rest)))
    return codes


def numeric_batch(values) -> "tuple[np.ndarray, np.ndarray] | None":
    """(codes, doubles) when every value of ``values`` (a string array without nulls) is a
    number in Deequ's sense that Arrow's parser reads as a finite double, else None.

    One call to Arrow's correctly rounded parser, which accepts a little more than Deequ's
    patterns (``.5``, ``5.``, ``5.e3``, ``inf``, ``nan``); those forms are looked for with
    byte-level kernels, and a batch holding one is left to :func:`classify_array`.

    Examples
    --------
    >>> import pyarrow as pa
    >>> codes, numbers = numeric_batch(pa.array(["1.5", "+7", "2e3"]))
    >>> codes.tolist(), numbers.tolist()
    ([1, 2, 1], [1.5, 7.0, 2000.0])
    >>> numeric_batch(pa.array(["1.5", "5."])) is None, numeric_batch(pa.array(["x"])) is None
    (True, True)
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(values) == 0:
        return None
    try:
        numbers = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not np.isfinite(numbers).all():
        return None
    data = values.buffers()[2]
    text = data.to_pybytes() if data is not None else b""  # the batch's bytes, for cheap searches
    dots, exponents = b"." in text, b"e" in text or b"E" in text
    marked = np.zeros(len(values), dtype=bool)
    if dots:
        for prefix in (".", "-.", "+."):
            if pc.any(pc.starts_with(values, prefix)).as_py():
                return None
        if pc.any(pc.ends_with(values, ".")).as_py():
            return None
        marked |= pc.match_substring(values, ".").to_numpy(zero_copy_only=False)
    if exponents:
        if dots and (b".e" in text or b".E" in text):
            for inner in (".e", ".E"):
                if pc.any(pc.match_substring(values, inner)).as_py():
                    return None
        for marker in ("e", "E"):
            marked |= pc.match_substring(values, marker).to_numpy(zero_copy_only=False)
    return np.where(marked, CLASS_FRACTIONAL, CLASS_INTEGRAL).astype(np.int8), numbers


def _plain_numbers(values) -> "tuple[np.ndarray, np.ndarray]":
    """(plain, dotted): which values are ``-?digits`` or ``-?digits.digits`` (every such value
    matches NUMBER_PATTERN, and is fractional exactly when it holds the dot)."""
    import pyarrow.compute as pc

    undotted = pc.replace_substring(values, ".", "", max_replacements=1)
    bare = pc.replace_substring(undotted, "-", "", max_replacements=1)
    lengths = pc.binary_length(values)
    dotted = pc.not_equal(pc.binary_length(undotted), lengths)
    signed = pc.not_equal(pc.binary_length(bare), pc.binary_length(undotted))
    plain = pc.and_(
        pc.ascii_is_decimal(bare),
        pc.and_(
            pc.equal(signed, pc.starts_with(values, "-")),
            pc.invert(pc.or_(pc.or_(pc.starts_with(values, "."), pc.starts_with(values, "-.")), pc.ends_with(values, "."))),
        ),
    )
    return plain.to_numpy(zero_copy_only=False), dotted.to_numpy(zero_copy_only=False)


def _classify_by_pattern(values) -> "np.ndarray":
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    number = pc.match_substring_regex(values, RE2_NUMBER_PATTERN).to_numpy(zero_copy_only=False)
    codes = np.full(len(values), CLASS_STRING, dtype=np.int8)
    if number.any():
        marked = pc.match_substring_regex(values.filter(pa.array(number)), "[.eE]").to_numpy(zero_copy_only=False)
        codes[number] = np.where(marked, CLASS_FRACTIONAL, CLASS_INTEGRAL)
    if not number.all():
        boolean = pc.is_in(values, value_set=pa.array(list(BOOLEAN_VALUES))).to_numpy(zero_copy_only=False)
        codes[boolean] = CLASS_BOOLEAN
    return codes


def parse_numbers(values) -> "np.ndarray":
    """Doubles of values that match NUMBER_PATTERN, as Spark's string-to-double cast gives them
    (the analyzer SageMaker runs casts with Spark): NaN where that cast gives null.

    Plain forms go through Arrow's correctly rounded parser in one call; a batch holding a form
    Arrow refuses (a space after the sign, a trailing line terminator) is parsed value by value:
    the cast trims characters up to U+0020 and then parses as Java does, so ``- 7`` and
    ``7\\u2028`` have no double while ``7\\n`` is 7.0.

    Examples
    --------
    >>> import pyarrow as pa
    >>> parse_numbers(pa.array(["1.5", "+7", "-0"])).tolist()
    [1.5, 7.0, -0.0]
    >>> parse_numbers(pa.array(["7\\n", "- 7", "7\\u2028"])).tolist()
    [7.0, nan, nan]
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.empty(len(values), dtype=np.float64)
    for i, text in enumerate(values.to_pylist()):
        body = text.strip(_JAVA_TRIMMED)
        try:
            out[i] = float(body) if body and set(body) <= _NUMBER_CHARACTERS else np.nan
        except ValueError:
            out[i] = np.nan
    return out
