from __future__ import annotations

import math
from typing import Any


def finite(x: Any) -> float:
    """A JSON-safe double: NaN and infinities are not valid JSON, so they become 0.0."""
    value = float(x)
    return value if math.isfinite(value) else 0.0


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
