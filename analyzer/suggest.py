"""suggest(statistics) -> Constraints: small rules, each answering "does it apply" and "what"."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .dtypes import InferredType
from .model import Constraints, FeatureConstraints, FeatureStatistics, MonitoringConfig, Statistics

UNIQUE_VALUE_RATIO_LIMIT = 0.1


class Rule(Protocol):
    def applies(self, feature: FeatureStatistics, item_count: int) -> bool: ...

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Completeness:
    """The observed non-null ratio, as SageMaker writes it (a raw ratio, not a lower bound:
    a real monitoring-run file holds 0.008919722497522299 = 9/1009)."""

    def applies(self, feature: FeatureStatistics, item_count: int) -> bool:
        return True

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]:
        present = feature.common.num_present
        return {"completeness": present / item_count if item_count else 0.0}


@dataclass(frozen=True)
class NonNegative:
    """``is_non_negative`` for numeric features: true when min >= 0, else false (both seen in real files)."""

    def applies(self, feature: FeatureStatistics, item_count: int) -> bool:
        return feature.numerical is not None and feature.inferred_type.is_numeric

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]:
        assert feature.numerical is not None
        return {"is_non_negative": feature.numerical.min >= 0}


@dataclass(frozen=True)
class CategoricalDomain:
    """A domain for String features with categorical buckets, unless more than 10% of the
    distinct values were seen only once (Deequ ``CategoricalRangeRule``)."""

    def applies(self, feature: FeatureStatistics, item_count: int) -> bool:
        s = feature.string
        if feature.inferred_type is not InferredType.STRING or s is None or not s.buckets:
            return False
        unique = sum(1 for b in s.buckets if b.count == 1)
        return unique / len(s.buckets) <= UNIQUE_VALUE_RATIO_LIMIT

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]:
        assert feature.string is not None and feature.string.buckets is not None
        return {"domains": tuple(b.value for b in feature.string.buckets)}


RULES: tuple[Rule, ...] = (Completeness(), NonNegative(), CategoricalDomain())


def suggest(statistics: Statistics, monitoring_config: MonitoringConfig = MonitoringConfig()) -> Constraints:
    """Suggest constraints from baseline statistics, with SageMaker's monitoring defaults."""
    features = []
    for feature in statistics.features:
        fields: dict[str, Any] = {}
        for rule in RULES:
            if rule.applies(feature, statistics.item_count):
                fields.update(rule.suggest(feature, statistics.item_count))
        features.append(FeatureConstraints(name=feature.name, inferred_type=feature.inferred_type, **fields))
    return Constraints(tuple(features), monitoring_config)
