"""Errors that end a job.

Violations are data (see :mod:`analyzer.checks`); an exception means the job cannot run.
Every error carries a stable code whose template renders the one-line exit message.
"""
from __future__ import annotations

from typing import Any, Mapping

# code -> message template. Keep sorted; tests check that every template renders.
CODES: Mapping[str, str] = {
    "BASELINE_INVALID": "Baseline {which} file {path} is not valid: {reason}",
    "BASELINE_MISSING": "Baseline {which} file {path} does not exist or cannot be read",
    "CAPTURE_DECODE_FAILED": "Capture record {where} has data that does not decode as {encoding}: {reason}",
    "CAPTURE_TOO_MANY_BAD_LINES": (
        "{bad} of {total} {lines} (more than the allowed "
        "{allowed_percent}%); first problem: {example}"
    ),
    "CLOUDWATCH_FAILED": "PutMetricData to namespace {namespace} failed: {reason}",
    "DATASET_EMPTY": "Dataset {source} has no records{detail}",
    "DATASET_FORMAT_INVALID": "Invalid dataset_format {value!r}: {reason}",
    "DATASET_FORMAT_UNSUPPORTED": "Unsupported dataset_format {name!r}; supported: {supported}",
    "DATASET_HEADERS_DIFFER": (
        "CSV file {file} has another header ({header}) than {first} ({first_header}): the files of a dataset "
        "must share one header, or their columns would be mixed up by position"
    ),
    "DATASET_IS_CAPTURE": (
        "Dataset {source} holds SageMaker data-capture lines ({file} starts with one), not {format} records: "
        "use the sagemakerCaptureJson dataset_format (mmon: --format capture)"
    ),
    "DATASET_NO_FILES": "dataset_source {source} holds no data files",
    "DATASET_SOURCE_MISSING": "dataset_source {source} does not exist",
    "DATASET_TOO_WIDE": (
        "File {file} has {columns} columns, more than the {limit} a record may have (Spark's CSV reader limit)"
    ),
    "DATASET_UNREADABLE": "Could not read {what}: {reason}",
    "ENV_INVALID": "Invalid value {value!r} for {name}: {reason}",
    "ENV_MISSING": "Required parameter {name} is not set",
    "GROUND_TRUTH_EMPTY": "ground_truth_source {source} {reason}",
    "GROUND_TRUTH_INVALID": "Ground-truth file {file} line {line} is not a ground-truth record: {reason}",
    "INTERNAL": "Internal error: {reason}",
    "MODEL_QUALITY_COLUMN_MISSING": "{attribute} {column!r} names no column of {source}; its columns: {columns}",
    "MODEL_QUALITY_VALUE_INVALID": "{attribute} {column!r}: {reason}; first at {where}: {value}",
    "NO_CAPTURE_IN_WINDOW": "No capture records found between {start} and {end} in {source}",
    "NO_MERGED_RECORDS": "No records with ground truth between {start} and {end} in {source}{detail}",
    "OUTPUT_NOT_WRITABLE": "Output path {path} cannot be written: {reason}",
    "S3_ACCESS_DENIED": "Access denied to {uri} ({operation}): check the credentials and the bucket policy",
    "S3_BUCKET_MISSING": "S3 bucket {bucket} of {uri} does not exist",
    "S3_ERROR": "S3 {operation} of {uri} failed: {reason}",
    "SCRIPT_FAILED": "{which} script {path} failed: {reason}",
    "STOPPED": "Job stopped by {signal} before it completed; no reports were written",
    "TIME_WINDOW_INVALID": "start_time {start} is not before end_time {end}",
}


class AnalyzerError(Exception):
    """Base of all job-ending errors; ``str(e)`` is the user-facing one-line message."""

    exit_code = 255
    kind = "AnalyzerError"

    def __init__(self, code: str, **params: Any) -> None:
        if code not in CODES:
            raise KeyError(f"unknown error code {code}")
        self.code = code
        self.params = params
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = CODES[self.code].format(**self.params)
        return " ".join(f"[{self.code}] {text}".split())


class InputError(AnalyzerError):
    """The customer's input (environment, dataset, baseline files) is at fault."""

    kind = "ClientError"


class AlgorithmError(AnalyzerError):
    """Our code or the runtime failed."""

    kind = "AlgorithmError"
