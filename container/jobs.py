"""The baselining job, the drivers (local, or Spark when ``MMON_SPARK_MASTER`` is set), and
what every job returns."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from analyzer import DatasetProfile, MonitoringConfig, ProfileOptions, suggest
from analyzer.errors import InputError
from analyzer.formats import constraints_json, statistics_json
from analyzer.model import DistributionConstraints
from analyzer.report import render_html

from . import params
from .config import JobConfig
from .dataset import Dataset, empty_because, read_dataset, use_system_allocator
from .outputs import ReportWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    violations: int
    files: tuple[Path, ...]


class Drivers:
    """Where profiles are computed: this process (default), or Spark when a master is set
    (the session is started on first use and stopped by ``close``)."""

    def __init__(self, config: JobConfig, env) -> None:
        use_system_allocator()
        self.config = config
        self.env = env
        self._spark = None
        self._owned = False

    @property
    def spark(self):
        if self._spark is None:
            try:
                from pyspark import SparkContext
                from pyspark.sql import SparkSession
            except ImportError:
                raise InputError(
                    "ENV_INVALID", name=params.SPARK_MASTER, value=self.config.spark_master,
                    reason="PySpark is not installed (pip install 'mmon-analyzer[spark]'; Java 17 too)",
                ) from None

            from .session import build_session

            # An application that runs the job inside its own Spark application keeps it.
            if SparkContext._active_spark_context is not None:
                self._spark = SparkSession.builder.getOrCreate()
            else:
                self._spark, self._owned = build_session(self.env), True
        return self._spark

    def profile(self, dataset: Dataset, options: ProfileOptions = ProfileOptions()) -> DatasetProfile:
        if self.config.spark_master:
            from .spark import profile_on_spark

            return profile_on_spark(self.spark, dataset, options)
        return dataset.profile(options, threads=self.config.threads)

    def profile_capture(self, source: str, fmt, baseline_names, start, end, max_bad_fraction: float,
                        options: ProfileOptions) -> DatasetProfile:
        if self.config.spark_master:
            from .spark import profile_capture_on_spark

            return profile_capture_on_spark(self.spark, source, fmt, baseline_names, start, end, max_bad_fraction, options)
        from .capture import profile_capture

        return profile_capture(source, fmt, baseline_names, start, end, max_bad_fraction, options, self.config.threads)

    def close(self) -> None:
        if self._spark is not None and self._owned:
            self._spark.stop()
        self._spark = None


def log_data_quality(result: DatasetProfile) -> None:
    if result.malformed_rows:
        log.warning(
            "%d rows did not have the header's number of fields: missing fields were counted as "
            "missing values and extra fields were ignored",
            result.malformed_rows,
        )
    if result.undecodable_values:
        log.warning("%d values held bytes that are not UTF-8 and were counted as missing", result.undecodable_values)
    for feature in result.statistics.features:
        num = feature.numerical
        if num is None:
            continue
        odd = [key for key in ("sum", "mean", "std_dev", "min", "max") if not math.isfinite(getattr(num, key))]
        if odd:
            log.warning(
                "Column %r: %s beyond the range of a double (values or their sum past 1.8e308); written as "
                "\"Infinity\" or \"NaN\", as SageMaker's writer writes such doubles", feature.name, ", ".join(odd),
            )


def stage_report(writer: ReportWriter, config: JobConfig, statistics: dict, *,
                 render: Callable[..., str] | None = None, **documents) -> None:
    """Stage report.html, drawn by ``render`` (default: the data-quality page, ``render_html``),
    unless ``MMON_REPORT=Disabled``. The page is for people, the JSON reports are the job's
    contract: a page that cannot be rendered is a warning, not a failed job."""
    if not config.report:
        writer.remove_previous(params.REPORT_FILE)
        return
    try:
        page = (render or render_html)(statistics, **documents)
    except Exception:  # noqa: BLE001 - any bug in the page must not cost the job its reports
        log.warning("Could not render %s; the JSON reports are written without it", params.REPORT_FILE, exc_info=True)
        return
    writer.stage_text(params.REPORT_FILE, page)


def run_baseline(drivers: Drivers, config: JobConfig, writer: ReportWriter) -> JobResult:
    if config.record_preprocessor_script:
        from .scripts import preprocessed_profile

        result = preprocessed_profile(config, [], ProfileOptions())
    else:
        result = drivers.profile(read_dataset(config.dataset_source, config.dataset_format))
    log_data_quality(result)
    if result.statistics.item_count == 0:
        raise InputError("DATASET_EMPTY", source=config.dataset_source, detail=f" ({empty_because(config.dataset_format)})")
    monitoring = MonitoringConfig(
        distribution_constraints=DistributionConstraints(
            categorical_drift_method=config.categorical_drift_method or "LInfinity",
            comparison_method=config.comparison_method or "Robust",
        )
    )
    constraints = suggest(result.statistics, monitoring)
    statistics_doc, constraints_doc = statistics_json.to_dict(result.statistics), constraints_json.to_dict(constraints)
    writer.stage(params.STATISTICS_FILE, statistics_doc)
    writer.stage(params.CONSTRAINTS_FILE, constraints_doc)
    stage_report(writer, config, statistics_doc, constraints=constraints_doc, title="Baseline report")
    return JobResult(0, tuple(writer.commit()))


def run_merge(config: JobConfig, writer: ReportWriter) -> JobResult:
    """The ground-truth merge job: captured records in the window joined with their labels,
    written under ``output_path`` as SageMaker's merge job lays them out. The files are written
    outside ``output_path`` and moved in only when the merge succeeded; a rerun replaces the
    parts an earlier run wrote into the same folders."""
    import shutil

    from .merge import merge_ground_truth
    from .outputs import staging_folder

    out = Path(config.output_path)
    folder = staging_folder(out)
    try:
        result = merge_ground_truth(config.dataset_source, config.ground_truth_source, folder, config.start_time,
                                    config.end_time, config.capture_max_bad_fraction)
        writer.stage_tree(folder, result.files)
        files = writer.commit()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    written = set(files)
    for path in {p.parent for p in files}:
        for old in path.glob("part-*.c000.jsonl"):
            if old not in written:
                old.unlink(missing_ok=True)
                log.info("Removed %s, merged by an earlier run", old)
    log.info("Merged %d records into %d files", result.merged, len(files))
    return JobResult(0, tuple(files))
