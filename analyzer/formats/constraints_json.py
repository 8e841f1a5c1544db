"""``constraints.json`` (data quality), version 0.0."""
from __future__ import annotations

from typing import Any

from ..model import Constraints, DistributionConstraints, FeatureConstraints, MonitoringConfig
from ._common import check_unique_names, feature_header, kind, number, optional_list, optional_object, require, threshold


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


def _one_of(*allowed: str):
    def check(value: Any, where: str) -> str:
        if value not in allowed:
            raise ValueError(f"{where} must be {' or '.join(repr(a) for a in allowed)}, got {value!r}")
        return value

    return check


# The monitoring_config settings a feature may override, and how each is read.
_SETTINGS = {
    "evaluate_constraints": _enabled,
    "emit_metrics": _enabled,
    "datatype_check_threshold": threshold,
    "domain_content_threshold": threshold,
    "perform_comparison": _enabled,
    "comparison_threshold": threshold,
    "comparison_method": _one_of("Simple", "Robust", "Calibrated"),  # Calibrated: ours
    "categorical_comparison_threshold": threshold,
    "categorical_drift_method": _one_of("LInfinity", "ChiSquared"),
}
_DISTRIBUTION_SETTINGS = (
    "perform_comparison", "comparison_threshold", "comparison_method", "categorical_comparison_threshold",
    "categorical_drift_method",
)


def _overrides(d: dict, where: str) -> dict[str, Any]:
    """A feature's overrides, each value checked as the setting it overrides (unknown keys are
    kept and ignored; null means not overridden)."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        if key == "distribution_constraints" and value is not None:
            if not isinstance(value, dict):
                raise ValueError(f"{where}.{key} must be an object, not {kind(value)}")
            out[key] = _overrides(value, f"{where}.{key}")
        elif key in _SETTINGS and value is not None:
            out[key] = _SETTINGS[key](value, f"{where}.{key}")
        else:
            out[key] = value
    return out


def _monitoring_config_from_dict(d: Any) -> MonitoringConfig:
    if d is None:
        return MonitoringConfig()
    if not isinstance(d, dict):
        raise ValueError(f"monitoring_config must be an object, not {kind(d)}")
    defaults = MonitoringConfig()
    where = "monitoring_config"
    dd = optional_object(d, "distribution_constraints", where) or {}
    dw = where + ".distribution_constraints"

    def setting(obj: dict, key: str, at: str, default: float) -> float:
        value = obj.get(key)
        return default if value is None else threshold(value, f"{at}.{key}")

    comparison = setting(dd, "comparison_threshold", dw, defaults.distribution_constraints.comparison_threshold)
    return MonitoringConfig(
        evaluate_constraints=_enabled(d.get("evaluate_constraints", "Enabled"), f"{where}.evaluate_constraints"),
        emit_metrics=_enabled(d.get("emit_metrics", "Enabled"), f"{where}.emit_metrics"),
        datatype_check_threshold=setting(d, "datatype_check_threshold", where, defaults.datatype_check_threshold),
        domain_content_threshold=setting(d, "domain_content_threshold", where, defaults.domain_content_threshold),
        distribution_constraints=DistributionConstraints(
            perform_comparison=_enabled(dd.get("perform_comparison", "Enabled"), f"{dw}.perform_comparison"),
            comparison_threshold=comparison,
            comparison_method=_SETTINGS["comparison_method"](dd.get("comparison_method", "Robust"), f"{dw}.comparison_method"),
            # The docs: defaults to comparison_threshold when absent (pre-2023 files).
            categorical_comparison_threshold=setting(dd, "categorical_comparison_threshold", dw, comparison),
            categorical_drift_method=_SETTINGS["categorical_drift_method"](
                dd.get("categorical_drift_method", "LInfinity"), f"{dw}.categorical_drift_method"
            ),
        ),
    )


def from_dict(d: Any) -> Constraints:
    """Read a constraints file written by SageMaker's analyzer, the SDK, or this project.

    Raises ``ValueError`` (with the JSON path) when the document does not follow the schema.
    """
    if not isinstance(d, dict):
        raise ValueError("top level must be a JSON object")
    features = []
    for i, f in enumerate(require(d, "features", list, "constraints")):
        where, name, inferred = feature_header(f, i)
        num = optional_object(f, "num_constraints", where) or {}
        strc = optional_object(f, "string_constraints", where) or {}
        domains = optional_list(strc, "domains", where + ".string_constraints")
        is_non_negative = num.get("is_non_negative")
        if is_non_negative is not None and not isinstance(is_non_negative, bool):
            raise ValueError(f"{where}.num_constraints.is_non_negative must be true or false, not {kind(is_non_negative)}")
        overrides: dict[str, Any] = {}
        for source, at in (
            (strc, where + ".string_constraints"),  # old SDK fixture
            (f, where),  # SDK Constraints.set_monitoring(feature_name=...), then the docs' spelling
        ):
            for key in ("monitoring_config_overrides", "monitoringConfigOverrides") if source is f else ("monitoring_config_overrides",):
                found = optional_object(source, key, at)
                if found is not None:
                    overrides.update(_overrides(found, f"{at}.{key}"))
        completeness = None if f.get("completeness") is None else threshold(f["completeness"], f"{where}.completeness")
        features.append(
            FeatureConstraints(
                name=name,
                inferred_type=inferred,
                completeness=completeness,
                is_non_negative=is_non_negative,
                domains=None if domains is None else tuple(str(v) for v in domains),
                overrides=overrides,
            )
        )
    check_unique_names([f.name for f in features])
    return Constraints(tuple(features), _monitoring_config_from_dict(d.get("monitoring_config")))
