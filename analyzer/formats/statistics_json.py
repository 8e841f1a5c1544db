"""``statistics.json`` (data quality), version 0.0."""
from __future__ import annotations

import math
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
from ._common import check_unique_names, double, doubles, feature_header, kind, number, optional_list, optional_number, optional_object, require

NUMBER = (int, float)


def _common_to_dict(c: CommonStatistics) -> dict:
    return {"num_present": int(c.num_present), "num_missing": int(c.num_missing)}


def _numerical_to_dict(s: NumericalStatistics) -> dict:
    out: dict[str, Any] = {
        "common": _common_to_dict(s.common),
        "mean": double(s.mean),
        "sum": double(s.sum),
        "std_dev": double(s.std_dev),
        "min": double(s.min),
        "max": double(s.max),
    }
    if s.approximate_num_distinct_values is not None:
        # An integer in SageMaker's files (``"approximate_num_distinct_values" : 5097``).
        out["approximate_num_distinct_values"] = int(round(s.approximate_num_distinct_values))
    if s.completeness is not None:
        out["completeness"] = float(s.completeness)
    kll: dict[str, Any] = {
        "buckets": [
            {"lower_bound": double(b.lower_bound), "upper_bound": double(b.upper_bound), "count": float(b.count)}
            for b in s.buckets
        ]
    }
    if s.sketch is not None:
        sketch = s.sketch.to_dict()
        sketch["data"] = [doubles(level) for level in sketch["data"]]
        kll["sketch"] = sketch
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
    return CommonStatistics(*(
        _count(require(common, key, NUMBER, where + ".common"), f"{where}.common.{key}")
        for key in ("num_present", "num_missing")
    ))


def _count(value: Any, where: str) -> int:
    """A count: a finite JSON number (``1e400`` or ``NaN`` is not one)."""
    count = number(value, where)
    if not math.isfinite(count):
        raise ValueError(f"{where} must be a finite number, not {value!r}")
    return int(count)


def _numerical_from_dict(d: Any, where: str) -> NumericalStatistics:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be an object, not {kind(d)}")
    distribution = optional_object(d, "distribution", where) or {}
    kll = optional_object(distribution, "kll", where + ".distribution") or {}
    at = where + ".distribution.kll"
    sketch = None
    raw_sketch = optional_object(kll, "sketch", at)
    if raw_sketch is not None:
        try:
            sketch = KllSketch.from_dict(raw_sketch)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{at}.sketch: {exc}") from None
    buckets = []
    for i, b in enumerate(optional_list(kll, "buckets", at) or ()):
        here = f"{at}.buckets[{i}]"
        if not isinstance(b, dict):
            raise ValueError(f"{here} must be an object, not {kind(b)}")
        buckets.append(Bucket(*(number(require(b, key, NUMBER + (str,), here), f"{here}.{key}")
                                for key in ("lower_bound", "upper_bound", "count"))))
    values = {key: optional_number(d, key, where) for key in ("mean", "sum", "std_dev", "min", "max")}
    return NumericalStatistics(
        common=_common_from_dict(d, where),
        **{key: 0.0 if value is None else value for key, value in values.items()},
        buckets=tuple(buckets),
        sketch=sketch,
        approximate_num_distinct_values=optional_number(d, "approximate_num_distinct_values", where),
        completeness=optional_number(d, "completeness", where),
    )


def _string_from_dict(d: Any, where: str) -> StringStatistics:
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be an object, not {kind(d)}")
    distribution = optional_object(d, "distribution", where) or {}
    categorical = optional_object(distribution, "categorical", where + ".distribution")
    buckets = None
    if categorical is not None:
        at = where + ".distribution.categorical"
        buckets = []
        for i, b in enumerate(optional_list(categorical, "buckets", at) or ()):
            here = f"{at}.buckets[{i}]"
            if not isinstance(b, dict) or "value" not in b:
                raise ValueError(f"{here} must be an object with a value and a count, not {kind(b)}")
            buckets.append(CategoricalBucket(str(b["value"]), _count(require(b, "count", NUMBER, here), f"{here}.count")))
        buckets = tuple(buckets)
    distinct = optional_number(d, "distinct_count", where)
    return StringStatistics(
        common=_common_from_dict(d, where),
        distinct_count=0.0 if distinct is None else distinct,
        buckets=buckets,
        completeness=optional_number(d, "completeness", where),
    )


def from_dict(d: Any) -> Statistics:
    """Read a statistics file written by SageMaker's analyzer or by this project.

    Raises ``ValueError`` (with the JSON path) when the document does not follow the schema.
    """
    if not isinstance(d, dict):
        raise ValueError("top level must be a JSON object")
    dataset = require(d, "dataset", dict, "statistics")
    item_count = _count(require(dataset, "item_count", NUMBER, "dataset"), "dataset.item_count")
    features = []
    for i, f in enumerate(require(d, "features", list, "statistics")):
        where, name, inferred = feature_header(f, i)
        numerical = string = None
        if "numerical_statistics" in f:
            numerical = _numerical_from_dict(f["numerical_statistics"], where + ".numerical_statistics")
        if "string_statistics" in f:
            string = _string_from_dict(f["string_statistics"], where + ".string_statistics")
        features.append(FeatureStatistics(name, inferred, numerical, string))
    check_unique_names([f.name for f in features])
    return Statistics(item_count, tuple(features))
