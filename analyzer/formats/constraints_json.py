"""``constraints.json`` (data quality), version 0.0."""
from __future__ import annotations

from typing import Any

from ..model import Constraints, DistributionConstraints, FeatureConstraints, MonitoringConfig
from ._common import feature_header, require


def to_dict(constraints: Constraints) -> dict:
    features = []
    for f in constraints.features:
        entry: dict[str, Any] = {"name": f.name, "inferred_type": f.inferred_type.value}
        if f.completeness is not None:
            entry["completeness"] = float(f.completeness)
        if f.is_non_negative is not None:
            entry["num_constraints"] = {"is_non_negative": bool(f.is_non_negative)}
        if f.domains is not None:
            entry["string_constraints"] = {"domains": list(f.domains)}
        if f.overrides:
            entry["monitoringConfigOverrides"] = dict(f.overrides)
        features.append(entry)
    mc = constraints.monitoring_config
    dc = mc.distribution_constraints
    return {
        "version": 0.0,
        "features": features,
        "monitoring_config": {
            "evaluate_constraints": mc.evaluate_constraints,
            "emit_metrics": mc.emit_metrics,
            "datatype_check_threshold": float(mc.datatype_check_threshold),
            "domain_content_threshold": float(mc.domain_content_threshold),
            "distribution_constraints": {
                "perform_comparison": dc.perform_comparison,
                "comparison_threshold": float(dc.comparison_threshold),
                "comparison_method": dc.comparison_method,
                "categorical_comparison_threshold": float(dc.categorical_comparison_threshold),
                "categorical_drift_method": dc.categorical_drift_method,
            },
        },
    }


def _enabled(value: Any, where: str) -> str:
    if value not in ("Enabled", "Disabled"):
        raise ValueError(f"{where} must be 'Enabled' or 'Disabled', got {value!r}")
    return value


def _monitoring_config_from_dict(d: Any) -> MonitoringConfig:
    if d is None:
        return MonitoringConfig()
    if not isinstance(d, dict):
        raise ValueError("monitoring_config must be an object")
    defaults = MonitoringConfig()
    dd = d.get("distribution_constraints") or {}
    threshold = float(dd.get("comparison_threshold", defaults.distribution_constraints.comparison_threshold))
    method = dd.get("comparison_method", "Robust")
    if method not in ("Simple", "Robust"):
        raise ValueError(f"comparison_method must be 'Simple' or 'Robust', got {method!r}")
    categorical_method = dd.get("categorical_drift_method", "LInfinity")
    if categorical_method not in ("LInfinity", "ChiSquared"):
        raise ValueError(f"categorical_drift_method must be 'LInfinity' or 'ChiSquared', got {categorical_method!r}")
    return MonitoringConfig(
        evaluate_constraints=_enabled(d.get("evaluate_constraints", "Enabled"), "evaluate_constraints"),
        emit_metrics=_enabled(d.get("emit_metrics", "Enabled"), "emit_metrics"),
        datatype_check_threshold=float(d.get("datatype_check_threshold", defaults.datatype_check_threshold)),
        domain_content_threshold=float(d.get("domain_content_threshold", defaults.domain_content_threshold)),
        distribution_constraints=DistributionConstraints(
            perform_comparison=_enabled(dd.get("perform_comparison", "Enabled"), "perform_comparison"),
            comparison_threshold=threshold,
            comparison_method=method,
            # The docs: defaults to comparison_threshold when absent (pre-2023 files).
            categorical_comparison_threshold=float(dd.get("categorical_comparison_threshold", threshold)),
            categorical_drift_method=categorical_method,
        ),
    )


def from_dict(d: Any) -> Constraints:
    """Read a constraints file written by SageMaker's analyzer, the SDK, or this project."""
    if not isinstance(d, dict):
        raise ValueError("top level must be a JSON object")
    features = []
    for i, f in enumerate(require(d, "features", list, "constraints")):
        where, name, inferred = feature_header(f, i)
        num = f.get("num_constraints") or {}
        strc = f.get("string_constraints") or {}
        domains = strc.get("domains")
        if domains is not None and not isinstance(domains, list):
            raise ValueError(f"{where}.string_constraints.domains must be a list")
        overrides: dict[str, Any] = {}
        for source in (
            strc.get("monitoring_config_overrides"),  # old SDK fixture
            f.get("monitoring_config_overrides"),  # SDK Constraints.set_monitoring(feature_name=...)
            f.get("monitoringConfigOverrides"),  # the docs
        ):
            if isinstance(source, dict):
                overrides.update(source)
        completeness = f.get("completeness")
        features.append(
            FeatureConstraints(
                name=name,
                inferred_type=inferred,
                completeness=None if completeness is None else float(completeness),
                is_non_negative=num.get("is_non_negative"),
                domains=None if domains is None else tuple(str(v) for v in domains),
                overrides=overrides,
            )
        )
    return Constraints(tuple(features), _monitoring_config_from_dict(d.get("monitoring_config")))
