from __future__ import annotations

import math
from typing import Any

import numpy as np


def double(x: Any) -> float | str:
    """A double as SageMaker's writer (Jackson, whose default quotes non-numeric numbers) writes
    it: finite values as numbers, NaN and the infinities as the strings ``"NaN"``,
    ``"Infinity"`` and ``"-Infinity"`` (strict JSON; Python's ``float()`` reads them back).

    Examples
    --------
    >>> [double(v) for v in (1.5, float("inf"), float("-inf"), float("nan"))]
    [1.5, 'Infinity', '-Infinity', 'NaN']
    """
    value = float(x)
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def doubles(values: Any) -> list:
    """``double`` of each value (a list of plain floats when all are finite)."""
    array = np.asarray(values, dtype=float)
    if np.isfinite(array).all():
        return list(values)
    return [double(v) for v in array]


def require(d: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ValueError(f"{where}: missing '{key}'")
    value = d[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ValueError(f"{where}: '{key}' has the wrong type ({type(value).__name__})")
    return value


def feature_header(f: Any, i: int) -> tuple[str, str, "InferredType"]:
    """``(json path, name, inferred_type)`` of the i-th feature of a statistics or constraints file."""
    from ..dtypes import InferredType

    where = f"features[{i}]"
    name = require(f, "name", str, where)
    try:
        inferred = InferredType(require(f, "inferred_type", str, where))
    except ValueError as exc:
        raise ValueError(f"{where}: unknown inferred_type {f.get('inferred_type')!r}") from exc
    return where, name, inferred


def kind(value: Any) -> str:
    """The JSON type of a parsed value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def optional_object(d: dict, key: str, where: str) -> dict | None:
    """``d[key]`` when it is an object, None when absent or null; otherwise a ValueError naming
    the JSON path (``features[1].num_constraints must be an object, not an array``)."""
    value = d.get(key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{where}.{key} must be an object, not {kind(value)}")
    return value


def optional_list(d: dict, key: str, where: str) -> list | None:
    value = d.get(key)
    if value is not None and not isinstance(value, list):
        raise ValueError(f"{where}.{key} must be an array, not {kind(value)}")
    return value


def number(value: Any, where: str) -> float:
    """A JSON number as a double; strings that Java/Python read as doubles (Jackson writes
    ``"NaN"``, ``"Infinity"``) are accepted too."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ValueError(f"{where} is out of the range of a double") from None
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ValueError(f"{where} must be a number, not {kind(value)}" + (f" ({value!r})" if isinstance(value, str) else ""))


def threshold(value: Any, where: str) -> float:
    """A threshold: a number that compares (NaN compares false with everything: a check with
    it could never fire)."""
    result = number(value, where)
    if math.isnan(result):
        raise ValueError(f"{where} must be a number that compares, not NaN")
    return result


def check_unique_names(names: list[str]) -> None:
    """Each feature once: with a name twice, which entry a check used would be arbitrary."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise ValueError(f"features[{i}].name {name!r} is also features[{first[name]}].name; a feature is listed once")
        first[name] = i


def optional_number(d: dict, key: str, where: str) -> float | None:
    value = d.get(key)
    return None if value is None else number(value, f"{where}.{key}")
