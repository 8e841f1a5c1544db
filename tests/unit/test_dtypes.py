import pytest

from analyzer.dtypes import InferredType, TypeCounts, ValueClass, classify, infer_type

VALUE_CASES = [
    ("0", ValueClass.INTEGRAL),
    ("42", ValueClass.INTEGRAL),
    ("-7", ValueClass.INTEGRAL),
    ("+7", ValueClass.INTEGRAL),
    ("- 7", ValueClass.INTEGRAL),  # Deequ allows one space after the sign
    ("007", ValueClass.INTEGRAL),
    ("3.0", ValueClass.FRACTIONAL),
    ("-0.25", ValueClass.FRACTIONAL),
    ("1e5", ValueClass.FRACTIONAL),
    ("1.5E-3", ValueClass.FRACTIONAL),
    ("2E+10", ValueClass.FRACTIONAL),
    ("1.", ValueClass.STRING),
    (".5", ValueClass.STRING),
    ("1,000", ValueClass.STRING),
    ("NaN", ValueClass.STRING),
    ("Infinity", ValueClass.STRING),
    (" 5", ValueClass.INTEGRAL),
    ("5 ", ValueClass.STRING),
    ("true", ValueClass.BOOLEAN),
    ("false", ValueClass.BOOLEAN),
    ("True", ValueClass.STRING),
    ("", ValueClass.STRING),
    ("abc", ValueClass.STRING),
    ("٣", ValueClass.STRING),  # non-ASCII digits are not digits for Java's \d
    ("5\n", ValueClass.INTEGRAL),  # Java's $ before one final line terminator
    ("1.5\u2028", ValueClass.FRACTIONAL),
    ("true\r\n", ValueClass.BOOLEAN),
    ("5\n\n", ValueClass.STRING),
    ("false\t", ValueClass.STRING),
    (None, ValueClass.NULL),
]


@pytest.mark.parametrize("value,expected", VALUE_CASES)
def test_classify(value, expected):
    assert classify(value) is expected


TYPE_CASES = [
    (["1", "2"], InferredType.INTEGRAL),
    (["1", "2.5"], InferredType.FRACTIONAL),
    (["1.0", None], InferredType.FRACTIONAL),
    ([None, None], InferredType.UNKNOWN),
    ([], InferredType.UNKNOWN),
    (["1", "x"], InferredType.STRING),
    (["true", "false"], InferredType.STRING),  # Deequ's Boolean, reported as String
    (["true", "1"], InferredType.STRING),
    (["true", "1.5"], InferredType.STRING),
]


@pytest.mark.parametrize("values,expected", TYPE_CASES)
def test_infer_type(values, expected):
    assert infer_type(TypeCounts.of(values)) is expected


def test_type_counts_merge_is_counts_of_union():
    a, b = ["1", "x", None, "2.5"], ["true", "3", None]
    assert TypeCounts.of(a).merge(TypeCounts.of(b)) == TypeCounts.of(a + b)
    assert TypeCounts.zero().merge(TypeCounts.of(a)) == TypeCounts.of(a)


def test_count_of_baseline_type_does_not_count_integral_as_fractional():
    counts = TypeCounts.of(["1", "2", "3.5", "x"])
    assert counts.count_of(InferredType.FRACTIONAL) == 1
    assert counts.count_of(InferredType.INTEGRAL) == 2
    assert counts.count_of(InferredType.STRING) == 1


from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.dtypes import BOOLEAN_VALUES, FRACTION_MARKERS, JAVA_LINE_TERMINATORS, NUMBER_PATTERN, _java_anchored

_NUMBERISH = st.text(alphabet="0123456789+-. eE\ntruefalsx\r\u2028", max_size=12)


@settings(max_examples=3000, deadline=None)
@given(_NUMBERISH)
def test_one_number_regex_and_markers_equal_the_two_deequ_regexes(value):
    """The engine's single-regex classification equals Deequ's three-regex one."""
    import re

    number = re.fullmatch(NUMBER_PATTERN[1:-1], _java_anchored(value), re.ASCII) is not None
    fractional = number and any(m in value for m in FRACTION_MARKERS)
    integral = number and not fractional
    boolean = not number and value in BOOLEAN_VALUES
    expected = classify(value)
    assert fractional == (expected is ValueClass.FRACTIONAL)
    assert integral == (expected is ValueClass.INTEGRAL)
    assert boolean == (expected is ValueClass.BOOLEAN)


@pytest.mark.parametrize("terminator", JAVA_LINE_TERMINATORS)
def test_java_dollar_allows_one_final_line_terminator(terminator):
    assert classify("12" + terminator) is ValueClass.INTEGRAL
    assert classify("true" + terminator) is ValueClass.BOOLEAN
    assert classify("12" + terminator + terminator) is ValueClass.STRING
