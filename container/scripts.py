"""Users' record preprocessor and post-analytics scripts, as SageMaker's image runs them.

- ``record_preprocessor_script``: a Python file defining ``preprocess_handler(inference_record)``
  (or ``preprocess_handler(inference_record, logger)``). For capture data the record is a
  ``CapturedData`` (``.endpoint_input`` / ``.endpoint_output`` with ``.data`` not decoded,
  ``.event_metadata``, ...); for CSV the raw line (with its line break); for JSON Lines the parsed
  object. A dict becomes one row (keys are columns, ``None`` is missing), a list of dicts several
  rows, ``[]`` or ``None`` drops the record. The handler runs inside Spark's Python workers on
  batches of lines (``mapInArrow``), not once per row through a UDF.
- ``post_analytics_processor_script``: a Python file defining ``postprocess_handler()``, called
  with no arguments after the reports are written.

Any exception from a script ends the job ``Failed`` with the script's error in one line.
"""
from __future__ import annotations

import importlib.util
import inspect
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from analyzer.errors import InputError

from .config import CaptureFormat, CsvFormat, JsonFormat

log = logging.getLogger(__name__)
SCRIPT_ERROR_MARKER = "MMON_USER_SCRIPT_ERROR:"
PREPROCESSOR, POSTPROCESSOR = "record_preprocessor_script", "post_analytics_processor_script"


def load_module(path: str, which: str, handler: str) -> ModuleType:
    file = Path(path)
    if not file.is_file():
        raise InputError("SCRIPT_FAILED", which=which, path=path, reason="the file does not exist")
    try:
        spec = importlib.util.spec_from_file_location(f"mmon_user_{which}", file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # the user's code: any error is theirs
        raise InputError("SCRIPT_FAILED", which=which, path=path, reason=_one_line(exc)) from None
    if not callable(getattr(module, handler, None)):
        raise InputError("SCRIPT_FAILED", which=which, path=path, reason=f"it does not define {handler}()")
    return module


def validate(config) -> None:
    """Check the scripts before any work starts, as SageMaker's image does."""
    if config.record_preprocessor_script:
        if not isinstance(config.dataset_format, (CaptureFormat, CsvFormat, JsonFormat)):
            raise InputError(
                "SCRIPT_FAILED", which=PREPROCESSOR, path=config.record_preprocessor_script,
                reason="Preprocessor script not supported for format parquet",
            )
        load_module(config.record_preprocessor_script, PREPROCESSOR, "preprocess_handler")
    if config.post_analytics_processor_script:
        load_module(config.post_analytics_processor_script, POSTPROCESSOR, "postprocess_handler")


def run_postprocessor(path: str) -> None:
    module = load_module(path, POSTPROCESSOR, "postprocess_handler")
    log.info("Running postprocess_handler of %s", path)
    try:
        module.postprocess_handler()
    except Exception as exc:
        raise InputError("SCRIPT_FAILED", which=POSTPROCESSOR, path=path, reason=_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:400]


# ------------------------------------------------------------------ the record objects
class EventData:
    def __init__(self, d: dict | None) -> None:
        d = d or {}
        self.observedContentType = d.get("observedContentType")
        self.mode = d.get("mode")
        self.data = d.get("data")
        self.encoding = d.get("encoding")


class EventMetadata:
    def __init__(self, d: dict | None) -> None:
        d = d or {}
        self.event_id = d.get("eventId")
        self.event_time = d.get("inferenceTime")
        self.inference_id = d.get("inferenceId")
        self.custom_attribute = d.get("customAttributes")


class CapturedData:
    """One capture line, with the attribute names SageMaker's preprocessing wrapper gives it."""

    def __init__(self, event: dict) -> None:
        capture = event.get("captureData") or {}
        self.event_dict = event
        self.event_metadata = EventMetadata(event.get("eventMetadata"))
        self.endpoint_input = EventData(capture.get("endpointInput")) if "endpointInput" in capture else None
        self.endpoint_output = EventData(capture.get("endpointOutput")) if "endpointOutput" in capture else None
        self.batch_transform_output = (
            EventData(capture.get("batchTransformOutput")) if "batchTransformOutput" in capture else None
        )
        self.ground_truth = EventData(event.get("groundTruthData")) if "groundTruthData" in event else None
        self.event_version = event.get("eventVersion")

    def as_dict(self) -> dict:
        return self.event_dict


# ------------------------------------------------------------------ preprocessing in Spark
def _batch_function(path: str, kind: str, start: str | None, end: str | None, environment: dict):
    """A mapInArrow function: batches of raw text lines -> one JSON object per produced row.
    ``environment`` (the job's variables) is set in the worker, which may predate the job."""

    def run(batches):
        import os

        import pyarrow as pa

        os.environ.update(environment)

        module = load_module(path, PREPROCESSOR, "preprocess_handler")
        handler = module.preprocess_handler
        wants_logger = "logger" in inspect.signature(handler).parameters
        user_log = logging.getLogger("Preprocessing")
        lo = datetime.fromisoformat(start) if start else None
        hi = datetime.fromisoformat(end) if end else None
        for batch in batches:
            rows, bad = [], 0
            for line in batch.column("value").to_pylist():
                if kind == "capture":
                    if not line.strip():
                        continue
                    try:
                        event = json.loads(line)
                        if not isinstance(event, dict) or "captureData" not in event:
                            raise ValueError
                    except ValueError:
                        bad += 1
                        continue
                    meta = event.get("eventMetadata") or {}
                    if meta.get("invocationSource") == "ShadowExperiment":
                        continue
                    if lo or hi:
                        try:
                            when = datetime.fromisoformat(str(meta.get("inferenceTime")).replace("Z", "+00:00"))
                        except ValueError:
                            bad += 1
                            continue
                        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
                        if (lo and when < lo) or (hi and when >= hi):
                            continue
                    record = CapturedData(event)
                elif kind == "json":
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:
                        bad += 1
                        continue
                else:
                    record = line + "\n"
                try:
                    result = handler(record, user_log) if wants_logger else handler(record)
                except Exception as exc:
                    raise RuntimeError(f"{SCRIPT_ERROR_MARKER} {_one_line(exc)}") from None
                for row in result if isinstance(result, list) else ([] if result is None else [result]):
                    if not isinstance(row, dict):
                        raise RuntimeError(f"{SCRIPT_ERROR_MARKER} preprocess_handler returned {type(row).__name__}, not a dict")
                    rows.append(json.dumps({str(k): v for k, v in row.items()}, default=str))
            yield pa.RecordBatch.from_pydict(
                {"row": rows + [None] * bad, "bad": [False] * len(rows) + [True] * bad},
                schema=pa.schema([("row", pa.string()), ("bad", pa.bool_())]),
            )

    return run


def preprocessed_rows(spark, files: list[str], config, baseline_names: list[str]):
    """Lines -> the user's rows -> a DataFrame of string columns (baseline order, then the rest sorted)."""
    from pyspark.sql import functions as F

    from .capture import check_bad_lines, sql_string

    fmt = config.dataset_format
    kind = "capture" if isinstance(fmt, CaptureFormat) else "json" if isinstance(fmt, JsonFormat) else "csv"
    lines = spark.read.text(files)
    if kind == "csv" and fmt.header:
        # the header line of each file is not a record
        header = lines.first()["value"] if files else None
        lines = lines.where(F.col("value") != F.lit(header))
    start = config.start_time.isoformat() if config.start_time else None
    end = config.end_time.isoformat() if config.end_time else None
    import os

    function = _batch_function(config.record_preprocessor_script, kind, start, end, dict(os.environ))
    produced = lines.mapInArrow(function, "row string, bad boolean")
    parsed = produced.select("bad", F.from_json("row", "map<string,string>").alias("m")).persist()
    summary = parsed.agg(
        F.count_if("bad"), F.count("m"), F.expr("array_distinct(flatten(collect_set(map_keys(m))))")
    ).collect()[0]
    bad, count, keys = int(summary[0]), int(summary[1]), set(summary[2] or ())
    log.info("Preprocessor produced %d rows; %d lines were not valid records", count, bad)
    check_bad_lines(bad, count + bad, config.capture_max_bad_fraction, "(lines before the preprocessor)")
    names = [n for n in baseline_names if n in keys] + sorted(keys - set(baseline_names))
    columns = [F.expr(f"nullif(try_element_at(m, '{sql_string(n)}'), '')").alias(n) for n in names]
    return parsed.where(F.col("m").isNotNull()).select(*columns), count
