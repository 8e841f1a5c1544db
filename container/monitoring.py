"""The monitoring job: current data against a baseline -> statistics + constraint_violations."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from analyzer import DatasetProfile, ProfileOptions, suggest
from analyzer.checks import CurrentFeature, validate
from analyzer.errors import InputError
from analyzer.formats import constraints_json, statistics_json, violations_json
from analyzer.model import Constraints, Statistics

from . import params
from .capture import iso, reject_capture_lines
from .config import CaptureFormat, CsvFormat, JobConfig, JsonFormat
from .dataset import read_dataset
from .exit_message import completed
from .jobs import Drivers, JobResult, log_data_quality, stage_report
from .metrics import BATCH_NAMESPACE, ENDPOINT_NAMESPACE, cloudwatch_records, metric_time, publish
from .outputs import ReportWriter

log = logging.getLogger(__name__)


def load_baseline_file(path: str | None, which: str, parse):
    """A baseline file (``which``: statistics or constraints; a folder holding it is accepted)
    parsed by ``parse``; BASELINE_MISSING / BASELINE_INVALID naming the file."""
    if path is None:
        return None
    file = Path(path)
    if file.is_dir():  # SageMaker mounts a folder; accept it when it holds the one file
        file = file / (params.STATISTICS_FILE if which == "statistics" else params.CONSTRAINTS_FILE)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InputError("BASELINE_MISSING", which=which, path=path) from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError("BASELINE_INVALID", which=which, path=path, reason=f"not JSON ({exc})") from None
    except RecursionError:
        raise InputError("BASELINE_INVALID", which=which, path=path, reason="not JSON (nested too deeply to read)") from None
    try:
        return parse(doc)
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as exc:
        raise InputError("BASELINE_INVALID", which=which, path=path, reason=str(exc)) from None


def load_baseline(config: JobConfig) -> tuple[Statistics | None, Constraints]:
    statistics = load_baseline_file(config.baseline_statistics, "statistics", statistics_json.from_dict)
    constraints = load_baseline_file(config.baseline_constraints, "constraints", constraints_json.from_dict)
    if constraints is None:
        # Only statistics given: check against constraints suggested from them (drift, types).
        constraints = suggest(statistics)
    if statistics is not None:
        _warn_unmatched(statistics, constraints, config)
    return statistics, constraints


def _warn_unmatched(statistics: Statistics, constraints: Constraints, config: JobConfig) -> None:
    """Drift is checked for the constraints' features that have baseline statistics: say so
    when some (or all: statistics of another dataset) have none."""
    names = [f.name for f in constraints.features]
    have = {f.name for f in statistics.features}
    missing = [n for n in names if n not in have]
    if not missing:
        return
    if len(missing) == len(names):
        log.warning(
            "Baseline statistics %s and baseline constraints %s have no feature name in common (statistics of "
            "another dataset?): no baseline_drift_check can run", config.baseline_statistics, config.baseline_constraints,
        )
    else:
        shown = ", ".join(missing[:10]) + (", ..." if len(missing) > 10 else "")
        log.warning("%d of %d features of the baseline constraints have no baseline statistics, so no drift check: %s",
                    len(missing), len(names), shown)


def _preprocessed(config: JobConfig, names: list[str], options: ProfileOptions) -> DatasetProfile:
    """The profile of the rows the user's preprocessor makes of the current data."""
    from .scripts import preprocessed_profile

    result = preprocessed_profile(config, names, options, config.threads)
    if result.statistics.item_count == 0 and isinstance(config.dataset_format, CaptureFormat):
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(config.start_time), end=iso(config.end_time), source=config.dataset_source)
    return result


def _current_profile(drivers: Drivers, config: JobConfig, names: list[str], options: ProfileOptions) -> DatasetProfile:
    """The current data's profile: captured data decoded, the user's preprocessor's rows, or a
    plain dataset (headerless CSV columns named after the baseline, by position)."""
    fmt = config.dataset_format
    if config.record_preprocessor_script:
        return _preprocessed(config, names, options)
    if isinstance(fmt, CaptureFormat):
        return drivers.profile_capture(
            config.dataset_source, fmt, names, config.start_time, config.end_time, config.capture_max_bad_fraction, options,
        )
    if isinstance(fmt, (CsvFormat, JsonFormat)):
        reject_capture_lines(config.dataset_source, "CSV" if isinstance(fmt, CsvFormat) else "JSON")
    dataset = read_dataset(config.dataset_source, fmt)
    if isinstance(fmt, CsvFormat) and not fmt.header:
        dataset = dataset.renamed(names)
    return drivers.profile(dataset, options)


def run_monitoring(drivers: Drivers, config: JobConfig, writer: ReportWriter) -> JobResult:
    baseline, constraints = load_baseline(config)
    names = [f.name for f in constraints.features]
    domains = {f.name: f.domains for f in constraints.features if f.domains}
    current = _current_profile(drivers, config, names, ProfileOptions(domains=domains))
    log_data_quality(current)
    stats = current.statistics
    if stats.item_count == 0:
        raise InputError("DATASET_EMPTY", source=config.dataset_source, detail=" in the analysis window")
    features = {
        f.name: CurrentFeature(f, current.type_counts[f.name], stats.item_count, current.outside_domain.get(f.name),
                               current.examples.get(f.name, {}))
        for f in stats.features
    }
    result = validate(features, [f.name for f in stats.features], constraints, baseline)
    for v in result.violations:
        log.info("Violation: %s %s: %s", v.feature_name, v.constraint_check_type, v.description.replace("\n", " "))
    statistics_doc, violations_doc = statistics_json.to_dict(stats), violations_json.to_dict(result.violations)
    writer.stage(params.STATISTICS_FILE, statistics_doc)
    writer.stage(params.VIOLATIONS_FILE, violations_doc)
    stage_report(writer, config, statistics_doc, constraints=constraints_json.to_dict(constraints),
                 baseline_statistics=statistics_json.to_dict(baseline) if baseline is not None else None,
                 violations=violations_doc, message=completed(len(result.violations)), title="Monitoring report")
    if config.publish_cloudwatch_metrics and constraints.monitoring_config.emit_metrics == "Enabled":
        records = cloudwatch_records(stats, result.drift, metric_time(config), config.endpoint_name, config.schedule_name)
        publish(records, config, ENDPOINT_NAMESPACE, BATCH_NAMESPACE)
    return JobResult(len(result.violations), tuple(writer.commit()))
