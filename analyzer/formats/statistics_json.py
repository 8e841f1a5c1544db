"""``statistics.json`` (data quality), version 0.0."""
from __future__ import annotations

from typing import Any

from ..model import (
    Bucket,
    CategoricalBucket,
    CommonStatistics,
    FeatureStatistics,
    NumericalStatistics,
    Statistics,
    StringStatistics,
)
from ..sketch import KllSketch
from ._common import feature_header, finite, require

NUMBER = (int, float)


def _common_to_dict(c: CommonStatistics) -> dict:
    return {"num_present": int(c.num_present), "num_missing": int(c.num_missing)}


def _numerical_to_dict(s: NumericalStatistics) -> dict:
    out: dict[str, Any] = {
        "common": _common_to_dict(s.common),
        "mean": finite(s.mean),
        "sum": finite(s.sum),
        "std_dev": finite(s.std_dev),
        "min": finite(s.min),
        "max": finite(s.max),
    }
    if s.approximate_num_distinct_values is not None:
        out["approximate_num_distinct_values"] = float(s.approximate_num_distinct_values)
    if s.completeness is not None:
        out["completeness"] = float(s.completeness)
    kll: dict[str, Any] = {
        "buckets": [
            {"lower_bound": finite(b.lower_bound), "upper_bound": finite(b.upper_bound), "count": float(b.count)}
            for b in s.buckets
        ]
    }
    if s.sketch is not None:
        kll["sketch"] = s.sketch.to_dict()
    out["distribution"] = {"kll": kll}
    return out


def _string_to_dict(s: StringStatistics) -> dict:
    out: dict[str, Any] = {"common": _common_to_dict(s.common), "distinct_count": float(s.distinct_count)}
    if s.completeness is not None:
        out["completeness"] = float(s.completeness)
    if s.buckets is not None:
        out["distribution"] = {
            "categorical": {"buckets": [{"value": b.value, "count": int(b.count)} for b in s.buckets]}
        }
    return out


def to_dict(stats: Statistics) -> dict:
    features = []
    for f in stats.features:
        entry: dict[str, Any] = {"name": f.name, "inferred_type": f.inferred_type.value}
        if f.numerical is not None:
            entry["numerical_statistics"] = _numerical_to_dict(f.numerical)
        if f.string is not None:
            entry["string_statistics"] = _string_to_dict(f.string)
        features.append(entry)
    return {"version": 0.0, "dataset": {"item_count": int(stats.item_count)}, "features": features}


def _common_from_dict(d: Any, where: str) -> CommonStatistics:
    common = require(d, "common", dict, where)
    return CommonStatistics(
        int(require(common, "num_present", NUMBER, where + ".common")),
        int(require(common, "num_missing", NUMBER, where + ".common")),
    )


def _optional_float(d: dict, key: str) -> float | None:
    value = d.get(key)
    if isinstance(value, str):  # Jackson may write "NaN"
        try:
            return float(value)
        except ValueError:
            return None
    return None if value is None else float(value)


def _numerical_from_dict(d: Any, where: str) -> NumericalStatistics:
    kll = ((d.get("distribution") or {}).get("kll") or {}) if isinstance(d, dict) else {}
    sketch = KllSketch.from_dict(kll["sketch"]) if isinstance(kll.get("sketch"), dict) else None
    buckets = tuple(
        Bucket(float(b["lower_bound"]), float(b["upper_bound"]), float(b["count"]))
        for b in kll.get("buckets") or ()
    )
    return NumericalStatistics(
        common=_common_from_dict(d, where),
        mean=_optional_float(d, "mean") or 0.0,
        sum=_optional_float(d, "sum") or 0.0,
        std_dev=_optional_float(d, "std_dev") or 0.0,
        min=_optional_float(d, "min") or 0.0,
        max=_optional_float(d, "max") or 0.0,
        buckets=buckets,
        sketch=sketch,
        approximate_num_distinct_values=_optional_float(d, "approximate_num_distinct_values"),
        completeness=_optional_float(d, "completeness"),
    )


def _string_from_dict(d: Any, where: str) -> StringStatistics:
    categorical = ((d.get("distribution") or {}).get("categorical")) if isinstance(d, dict) else None
    buckets = None
    if isinstance(categorical, dict):
        buckets = tuple(
            CategoricalBucket(str(b["value"]), int(b["count"])) for b in categorical.get("buckets") or ()
        )
    return StringStatistics(
        common=_common_from_dict(d, where),
        distinct_count=_optional_float(d, "distinct_count") or 0.0,
        buckets=buckets,
        completeness=_optional_float(d, "completeness"),
    )


def from_dict(d: Any) -> Statistics:
    """Read a statistics file written by SageMaker's analyzer or by this project.

    Raises ``ValueError`` (with the JSON path) when the document does not follow the schema.
    """
    if not isinstance(d, dict):
        raise ValueError("top level must be a JSON object")
    dataset = require(d, "dataset", dict, "statistics")
    item_count = int(require(dataset, "item_count", NUMBER, "dataset"))
    features = []
    for i, f in enumerate(require(d, "features", list, "statistics")):
        where, name, inferred = feature_header(f, i)
        numerical = string = None
        if "numerical_statistics" in f:
            numerical = _numerical_from_dict(f["numerical_statistics"], where + ".numerical_statistics")
        if "string_statistics" in f:
            string = _string_from_dict(f["string_statistics"], where + ".string_statistics")
        features.append(FeatureStatistics(name, inferred, numerical, string))
    return Statistics(item_count, tuple(features))
