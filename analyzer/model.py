"""The report model: frozen dataclasses mirroring SageMaker's three data-quality files.

Field names follow the wire format (``inferred_type``, ``num_present``, ``constraint_check_type``);
conversion to and from JSON dicts lives in :mod:`analyzer.formats`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .dtypes import InferredType
from .sketch import KllSketch


# ---------------------------------------------------------------- statistics.json
@dataclass(frozen=True)
class CommonStatistics:
    num_present: int
    num_missing: int


@dataclass(frozen=True)
class Bucket:
    lower_bound: float
    upper_bound: float
    count: float


@dataclass(frozen=True)
class NumericalStatistics:
    common: CommonStatistics
    mean: float
    sum: float
    std_dev: float
    min: float
    max: float
    buckets: tuple[Bucket, ...] = ()
    sketch: KllSketch | None = None
    approximate_num_distinct_values: float | None = None
    completeness: float | None = None


@dataclass(frozen=True)
class CategoricalBucket:
    value: str
    count: int


@dataclass(frozen=True)
class StringStatistics:
    common: CommonStatistics
    distinct_count: float
    buckets: tuple[CategoricalBucket, ...] | None = None
    completeness: float | None = None

    def frequencies(self) -> dict[str, float]:
        return {b.value: float(b.count) for b in self.buckets or ()}


@dataclass(frozen=True)
class FeatureStatistics:
    name: str
    inferred_type: InferredType
    numerical: NumericalStatistics | None = None
    string: StringStatistics | None = None

    @property
    def common(self) -> CommonStatistics:
        part = self.numerical or self.string
        return part.common if part else CommonStatistics(0, 0)


@dataclass(frozen=True)
class Statistics:
    item_count: int
    features: tuple[FeatureStatistics, ...]

    def feature(self, name: str) -> FeatureStatistics | None:
        return next((f for f in self.features if f.name == name), None)


# ---------------------------------------------------------------- constraints.json
ENABLED = "Enabled"
DISABLED = "Disabled"


@dataclass(frozen=True)
class DistributionConstraints:
    perform_comparison: str = ENABLED
    comparison_threshold: float = 0.1
    comparison_method: str = "Robust"
    categorical_comparison_threshold: float = 0.1
    categorical_drift_method: str = "LInfinity"


@dataclass(frozen=True)
class MonitoringConfig:
    """SageMaker's defaults as the analyzer writes them (thresholds 1.0, Robust, LInfinity)."""

    evaluate_constraints: str = ENABLED
    emit_metrics: str = ENABLED
    datatype_check_threshold: float = 1.0
    domain_content_threshold: float = 1.0
    distribution_constraints: DistributionConstraints = field(default_factory=DistributionConstraints)


@dataclass(frozen=True)
class FeatureConstraints:
    name: str
    inferred_type: InferredType
    completeness: float | None = None
    is_non_negative: bool | None = None
    domains: tuple[str, ...] | None = None
    # Per-feature overrides, merged from `monitoringConfigOverrides` (docs) and
    # `string_constraints.monitoring_config_overrides` (SDK writer); keys as in monitoring_config.
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Constraints:
    features: tuple[FeatureConstraints, ...]
    monitoring_config: MonitoringConfig = field(default_factory=MonitoringConfig)

    def feature(self, name: str) -> FeatureConstraints | None:
        return next((f for f in self.features if f.name == name), None)


# ---------------------------------------------------------------- constraint_violations.json
@dataclass(frozen=True)
class Violation:
    feature_name: str
    constraint_check_type: str
    description: str
