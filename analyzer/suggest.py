"""suggest(statistics) -> Constraints: small rules, each answering "does it apply" and "what"."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Protocol

from .dtypes import InferredType
from .model import Constraints, FeatureConstraints, FeatureStatistics, MonitoringConfig, Statistics

UNIQUE_VALUE_RATIO_LIMIT = 0.1


class Rule(Protocol):
    def applies(self, feature: FeatureStatistics, item_count: int) -> bool: ...

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Completeness:
    """The completeness a feature must keep.

    1.0 for a complete feature. For 0.2 < p < 1, Deequ's ``RetainCompletenessRule``: the lower end
    of a 95% interval, ``p - 1.96 sqrt(p (1 - p) / n)``, rounded down to two decimals, so that a
    fresh sample of the same data does not fail the check. For p <= 0.2 the observed ratio
    (a real SageMaker monitoring-run file holds 0.008919722497522299 = 9/1009).
    """

    def applies(self, feature: FeatureStatistics, item_count: int) -> bool:
        return True

    def suggest(self, feature: FeatureStatistics, item_count: int) -> dict[str, Any]:
        return {"completeness": completeness_bound(feature.common.num_present, item_count)}


def completeness_bound(present: int, total: int) -> float:
    """
    Examples
    --------
    >>> completeness_bound(10, 10), completeness_bound(980, 1000), completeness_bound(9, 1009)
    (1.0, 0.97, 0.008919722497522299)
    """
    if total == 0:
        return 0.0
    p = present / total
    if 0.2 < p < 1.0:
        bound = p - 1.96 * math.sqrt(p * (1 - p) / total)
        return float(Decimal(repr(bound)).quantize(Decimal("0.01"), rounding=ROUND_DOWN))
    return p


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
