"""JobConfig: the job environment, read once, validated, frozen."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from analyzer.errors import InputError

from . import params

SUPPORTED_FORMATS = ("csv", "json", "parquet", "sagemakerCaptureJson", "sagemakerMergeJson")


@dataclass(frozen=True)
class CsvFormat:
    header: bool = False
    output_columns_position: str = "START"
    field_delimiter: str = ","
    quote_character: str = '"'
    quote_escape_character: str = "\\"


@dataclass(frozen=True)
class JsonFormat:
    lines: bool = True


@dataclass(frozen=True)
class ParquetFormat:
    pass


@dataclass(frozen=True)
class CaptureFormat:
    capture_index_names: tuple[str, ...] = ("endpointInput", "endpointOutput")


@dataclass(frozen=True)
class MergeFormat(CaptureFormat):
    """Records of the ground-truth merge job: capture records with ``groundTruthData``."""


DatasetFormat = CsvFormat | JsonFormat | ParquetFormat | CaptureFormat


def _bool(value: Any, name: str, raw: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InputError("DATASET_FORMAT_INVALID", value=raw, reason=f"'{name}' must be true or false")


def parse_dataset_format(raw: str | None) -> DatasetFormat:
    """Parse the ``dataset_format`` JSON as SageMaker's SDK and service write it."""
    if raw is None or not raw.strip():
        raise InputError("ENV_MISSING", name=params.DATASET_FORMAT)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError("DATASET_FORMAT_INVALID", value=raw, reason=f"not JSON ({exc.msg})") from None
    if not isinstance(doc, dict):
        raise InputError("DATASET_FORMAT_INVALID", value=raw, reason="must be a JSON object")
    keys = [k for k in doc if k != "compression"]
    if len(keys) != 1:
        raise InputError("DATASET_FORMAT_INVALID", value=raw, reason="must name exactly one format")
    # The service's batch shapes are capitalised ({"Csv": {"Header": true}}); accept both spellings.
    name = keys[0]
    canonical = {k.lower(): k for k in SUPPORTED_FORMATS}.get(name.lower())
    if canonical is None:
        raise InputError("DATASET_FORMAT_UNSUPPORTED", name=name, supported=", ".join(SUPPORTED_FORMATS))
    options = doc[name] if doc[name] is not None else {}
    if not isinstance(options, dict):
        raise InputError("DATASET_FORMAT_INVALID", value=raw, reason=f"options of '{name}' must be an object")
    opts = {k.lower(): v for k, v in options.items()}
    if canonical == "csv":
        position = str(opts.get("output_columns_position", "START")).upper()
        if position not in ("START", "END"):
            raise InputError("DATASET_FORMAT_INVALID", value=raw, reason="output_columns_position must be START or END")
        fmt = CsvFormat(header=_bool(opts.get("header", False), "header", raw), output_columns_position=position)
        for key in ("field_delimiter", "quote_character", "quote_escape_character"):
            if key in opts:
                if not isinstance(opts[key], str) or len(opts[key]) != 1:
                    raise InputError("DATASET_FORMAT_INVALID", value=raw, reason=f"{key} must be one character")
                fmt = CsvFormat(**{**fmt.__dict__, key: opts[key]})
        return fmt
    if canonical == "json":
        lines = opts.get("lines", opts.get("line", True))
        return JsonFormat(lines=_bool(lines, "lines", raw))
    if canonical == "parquet":
        return ParquetFormat()
    names = opts.get("captureindexnames", ["endpointInput", "endpointOutput"])
    if not isinstance(names, list) or not names or not all(n in ("endpointInput", "endpointOutput") for n in names):
        raise InputError(
            "DATASET_FORMAT_INVALID", value=raw, reason="captureIndexNames must list endpointInput and/or endpointOutput"
        )
    return (MergeFormat if canonical == "sagemakerMergeJson" else CaptureFormat)(tuple(names))


def parse_time(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("ENV_INVALID", name=name, value=value, reason="not an ISO-8601 time") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


@dataclass(frozen=True)
class Paths:
    """Where the job reads its config and writes its message; relocatable for tests."""

    base_dir: Path

    @staticmethod
    def from_environ(environ: Mapping[str, str]) -> "Paths":
        return Paths(Path(environ.get(params.BASE_DIR) or params.DEFAULT_BASE_DIR))

    @property
    def processing_job_config(self) -> Path:
        return self.base_dir / params.PROCESSING_JOB_CONFIG

    @property
    def message_file(self) -> Path:
        return self.base_dir / params.MESSAGE_FILE

    @property
    def default_cloudwatch_dir(self) -> Path:
        return self.base_dir / params.DEFAULT_CLOUDWATCH_DIR


def merged_environment(environ: Mapping[str, str], paths: Paths) -> dict[str, str]:
    """The job parameters: the process environment, overlaid with the ``Environment`` map of
    ``processingjobconfig.json`` when that file exists (the file wins, as it is what the
    SageMaker image reads)."""
    merged = dict(environ)
    path = paths.processing_job_config
    if path.exists():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError("ENV_INVALID", name=str(path), value="...", reason=f"unreadable JSON: {exc}") from None
        env = doc.get("Environment") if isinstance(doc, dict) else None
        if isinstance(env, dict):
            merged.update({str(k): str(v) for k, v in env.items()})
    return merged


_LOG_LEVELS = ("CRITICAL", "FATAL", "ERROR", "WARNING", "WARN", "INFO", "DEBUG", "NOTSET")
_LOG_FORMATS = ("json", "text")
_PROGRESS = ("auto", "on", "off", "1", "0", "true", "false", "yes", "no")


def _check_own_knobs(env: Mapping[str, str]) -> None:
    """Our own variables (not SageMaker's), checked before any work starts, whether or not the
    job would use them (a Spark setting on a local job is a mistake worth hearing about)."""
    from .session import check_spark_knobs

    check_spark_knobs(env)
    for name, allowed in ((params.LOG_LEVEL, _LOG_LEVELS), (params.LOG_FORMAT, _LOG_FORMATS), (params.PROGRESS, _PROGRESS)):
        value = env.get(name)
        if value is not None and value.strip() and value.strip().lower() not in (a.lower() for a in allowed):
            raise InputError("ENV_INVALID", name=name, value=value, reason=f"must be one of {', '.join(allowed)}")


@dataclass(frozen=True)
class JobConfig:
    dataset_source: str
    dataset_format: DatasetFormat
    output_path: str
    baseline_statistics: str | None = None
    baseline_constraints: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    publish_cloudwatch_metrics: bool = False
    endpoint_name: str | None = None
    schedule_name: str | None = None
    metric_time: datetime | None = None
    categorical_drift_method: str | None = None
    comparison_method: str | None = None
    record_preprocessor_script: str | None = None
    post_analytics_processor_script: str | None = None
    cloudwatch_dir: str | None = None
    capture_max_bad_fraction: float = 0.01
    put_metric_data: bool = False
    cloudwatch_namespace: str | None = None
    spark_master: str | None = None
    threads: int | None = None
    report: bool = True
    model_quality: "ModelQualityParams | None" = None
    ground_truth_source: str | None = None

    @property
    def is_monitoring(self) -> bool:
        return bool(self.baseline_statistics or self.baseline_constraints)

    @staticmethod
    def from_environ(env: Mapping[str, str], paths: Paths) -> "JobConfig":
        def required(name: str) -> str:
            value = env.get(name)
            if value is None or not value.strip():
                raise InputError("ENV_MISSING", name=name)
            return value.strip()

        def optional(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        ground_truth = optional(params.GROUND_TRUTH_SOURCE)
        # SageMaker's merge job gets no dataset_format: its dataset is always a capture tree.
        fmt = CaptureFormat() if ground_truth and not optional(params.DATASET_FORMAT) else \
            parse_dataset_format(env.get(params.DATASET_FORMAT))
        start = parse_time(env.get(params.START_TIME), params.START_TIME)
        end = parse_time(env.get(params.END_TIME), params.END_TIME)
        if start and end and start >= end:
            raise InputError("TIME_WINDOW_INVALID", start=env[params.START_TIME], end=env[params.END_TIME])
        publish = (optional(params.PUBLISH_CLOUDWATCH_METRICS) or "Disabled")
        if publish not in ("Enabled", "Disabled"):
            raise InputError("ENV_INVALID", name=params.PUBLISH_CLOUDWATCH_METRICS, value=publish, reason="must be Enabled or Disabled")
        drift = optional(params.CATEGORICAL_DRIFT_METHOD)
        if drift is not None and drift not in ("LInfinity", "ChiSquared"):
            raise InputError("ENV_INVALID", name=params.CATEGORICAL_DRIFT_METHOD, value=drift, reason="must be LInfinity or ChiSquared")
        method = optional(params.COMPARISON_METHOD)
        if method is not None and method not in ("Simple", "Robust", "Calibrated"):
            raise InputError("ENV_INVALID", name=params.COMPARISON_METHOD, value=method, reason="must be Simple, Robust or Calibrated")
        bad_fraction_raw = optional(params.CAPTURE_MAX_BAD_FRACTION) or "0.01"
        try:
            bad_fraction = float(bad_fraction_raw)
            if not 0 <= bad_fraction <= 1:
                raise ValueError
        except ValueError:
            raise InputError("ENV_INVALID", name=params.CAPTURE_MAX_BAD_FRACTION, value=bad_fraction_raw, reason="must be a number in [0, 1]") from None
        report = optional(params.REPORT) or "Enabled"
        if report not in ("Enabled", "Disabled"):
            raise InputError("ENV_INVALID", name=params.REPORT, value=report, reason="must be Enabled or Disabled")
        _check_own_knobs(env)
        monitoring = bool(optional(params.BASELINE_STATISTICS) or optional(params.BASELINE_CONSTRAINTS))
        threads_raw = optional(params.THREADS)
        threads = None
        if threads_raw is not None:
            if not (threads_raw.isascii() and threads_raw.isdigit()) or not 1 <= int(threads_raw) <= 1024:
                raise InputError("ENV_INVALID", name=params.THREADS, value=threads_raw, reason="must be a whole number from 1 to 1024")
            threads = int(threads_raw)
        return JobConfig(
            dataset_source=required(params.DATASET_SOURCE),
            dataset_format=fmt,
            output_path=required(params.OUTPUT_PATH),
            baseline_statistics=optional(params.BASELINE_STATISTICS),
            baseline_constraints=optional(params.BASELINE_CONSTRAINTS),
            start_time=start,
            end_time=end,
            publish_cloudwatch_metrics=publish == "Enabled",
            endpoint_name=optional(params.SAGEMAKER_ENDPOINT_NAME),
            schedule_name=optional(params.SAGEMAKER_MONITORING_SCHEDULE_NAME),
            metric_time=parse_time(env.get(params.METRIC_TIME), params.METRIC_TIME),
            categorical_drift_method=drift,
            comparison_method=method,
            record_preprocessor_script=optional(params.RECORD_PREPROCESSOR_SCRIPT),
            post_analytics_processor_script=optional(params.POST_ANALYTICS_PROCESSOR_SCRIPT),
            cloudwatch_dir=optional(params.CLOUDWATCH_METRICS_DIRECTORY) or str(paths.default_cloudwatch_dir),
            capture_max_bad_fraction=bad_fraction,
            put_metric_data=(optional(params.PUT_METRIC_DATA) or "Disabled") == "Enabled",
            cloudwatch_namespace=optional(params.CLOUDWATCH_NAMESPACE),
            spark_master=optional(params.SPARK_MASTER),
            threads=threads,
            report=report == "Enabled",
            model_quality=None if ground_truth else ModelQualityParams.from_environ(env, monitoring),
            ground_truth_source=ground_truth,
        )


PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


@dataclass(frozen=True)
class ModelQualityParams:
    """The model-quality job's parameters (``analysis_type=MODEL_QUALITY``). In a baseline the
    attributes name columns of the dataset; in monitoring they index the endpoint's output
    (``"0"``: its first field) or name keys of a JSON output."""

    problem_type: str
    inference_attribute: str | None = None
    probability_attribute: str | None = None
    probability_threshold: float | None = None
    ground_truth_attribute: str | None = None
    positive_label: str | None = None

    @staticmethod
    def from_environ(env: Mapping[str, str], monitoring: bool) -> "ModelQualityParams | None":
        def optional(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        analysis = optional(params.ANALYSIS_TYPE) or "DATA_QUALITY"
        if analysis.upper() not in ("DATA_QUALITY", "MODEL_QUALITY"):
            raise InputError("ENV_INVALID", name=params.ANALYSIS_TYPE, value=analysis, reason="must be DATA_QUALITY or MODEL_QUALITY")
        if analysis.upper() == "DATA_QUALITY":
            return None
        problem = optional(params.PROBLEM_TYPE)
        if problem is None:
            raise InputError("ENV_MISSING", name=params.PROBLEM_TYPE)
        if problem not in PROBLEM_TYPES:
            raise InputError("ENV_INVALID", name=params.PROBLEM_TYPE, value=problem, reason=f"must be one of {', '.join(PROBLEM_TYPES)}")
        inference, probability = optional(params.INFERENCE_ATTRIBUTE), optional(params.PROBABILITY_ATTRIBUTE)
        threshold_raw = optional(params.PROBABILITY_THRESHOLD_ATTRIBUTE)
        threshold = None
        if threshold_raw is not None:
            try:
                threshold = float(threshold_raw)
                if not 0 <= threshold <= 1:
                    raise ValueError
            except ValueError:
                raise InputError("ENV_INVALID", name=params.PROBABILITY_THRESHOLD_ATTRIBUTE, value=threshold_raw,
                                 reason="must be a number in [0, 1]") from None
        if inference is None and (problem != "BinaryClassification" or probability is None):
            needs = "inference_attribute or probability_attribute" if problem == "BinaryClassification" else "inference_attribute"
            raise InputError("ENV_MISSING", name=needs)
        truth = optional(params.GROUND_TRUTH_ATTRIBUTE)
        if truth is None and not monitoring:
            raise InputError("ENV_MISSING", name=params.GROUND_TRUTH_ATTRIBUTE)
        positive = optional(params.POSITIVE_LABEL)
        if positive is not None and positive.lower() == "nan":
            raise InputError("ENV_INVALID", name=params.POSITIVE_LABEL, value=positive, reason="NaN is a missing value, not a label")
        return ModelQualityParams(problem, inference, probability, threshold, truth, positive)
