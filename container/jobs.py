"""The baselining job, and what every job returns."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from analyzer import DatasetProfile, MonitoringConfig, profile, suggest
from analyzer.errors import InputError
from analyzer.formats import constraints_json, statistics_json
from analyzer.model import DistributionConstraints

from . import params
from .config import JobConfig
from .dataset import list_data_files, read_dataset
from .outputs import ReportWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    violations: int
    files: tuple[Path, ...]


def log_data_quality(result: DatasetProfile) -> None:
    if result.malformed_rows:
        log.warning(
            "%d rows did not have the header's number of fields: missing fields were counted as "
            "missing values and extra fields were ignored",
            result.malformed_rows,
        )
    if result.undecodable_values:
        log.warning("%d values held bytes that are not UTF-8 and were counted as missing", result.undecodable_values)


def run_baseline(spark, config: JobConfig, writer: ReportWriter) -> JobResult:
    if config.record_preprocessor_script:
        from .scripts import preprocessed_rows

        df, _ = preprocessed_rows(spark, list_data_files(config.dataset_source), config, [])
        result = profile(df)
    else:
        result = read_dataset(spark, config.dataset_source, config.dataset_format).profile()
    log_data_quality(result)
    if result.statistics.item_count == 0:
        raise InputError("DATASET_EMPTY", source=config.dataset_source, detail=" (header only or empty files)")
    monitoring = MonitoringConfig(
        distribution_constraints=DistributionConstraints(
            categorical_drift_method=config.categorical_drift_method or "LInfinity"
        )
    )
    constraints = suggest(result.statistics, monitoring)
    writer.stage(params.STATISTICS_FILE, statistics_json.to_dict(result.statistics))
    writer.stage(params.CONSTRAINTS_FILE, constraints_json.to_dict(constraints))
    return JobResult(0, tuple(writer.commit()))
