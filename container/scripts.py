"""Users' record preprocessor and post-analytics scripts, as SageMaker's image runs them.

- ``record_preprocessor_script``: a Python file defining ``preprocess_handler(inference_record)``
  (or ``preprocess_handler(inference_record, logger)``). For capture data the record is a
  ``CapturedData`` (``.endpoint_input`` / ``.endpoint_output`` with ``.data`` not decoded,
  ``.event_metadata``, ...); for CSV the raw line (with its line break); for JSON Lines the parsed
  object. A dict becomes one row (keys are columns, ``None`` is missing), a list of dicts several
  rows, ``[]`` or ``None`` drops the record. The handler runs in the job's process, over the
  files in order, with the job's variables in ``os.environ``.
- ``post_analytics_processor_script``: a Python file defining ``postprocess_handler()``, called
  with no arguments after the reports are written.

Which lines reach the handler: capture lines pass the decoder's own line rules
(:func:`container.capture.screen`: bad lines counted against ``MMON_CAPTURE_MAX_BAD_FRACTION``,
shadow traffic and lines outside the window dropped); CSV lines as the CSV reader reads them
(blank lines skipped; with a header, each file's first non-blank line is the header); JSON
lines that parse (blank lines skipped, the others counted as bad lines).

Any exception from a script ends the job ``Failed`` with the script's error in one line.
"""
from __future__ import annotations

import contextlib
import importlib.util
import inspect
import json
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator, Sequence

import pyarrow as pa

from analyzer.errors import InputError

from .capture import CAPTURE_LINES, JSON_LINES, CaptureRules, Origin, check_bad_lines, files_in_window, read_lines, screen, string_array
from .config import CaptureFormat, CsvFormat, JsonFormat

log = logging.getLogger(__name__)
SCRIPT_ERROR_MARKER = "MMON_USER_SCRIPT_ERROR:"  # marks a script's error inside an executor's traceback
PREPROCESSOR, POSTPROCESSOR = "record_preprocessor_script", "post_analytics_processor_script"
BATCH_ROWS = 64 * 1024
_JAVA_WHITESPACE = "".join(map(chr, range(33)))  # what the CSV reader's blank-line test trims


def load_module(path: str, which: str, handler: str) -> ModuleType:
    file = Path(path)
    if not file.is_file():
        raise InputError("SCRIPT_FAILED", which=which, path=path, reason="the file does not exist")
    try:
        spec = importlib.util.spec_from_file_location(f"mmon_user_{which}", file)
        module = importlib.util.module_from_spec(spec)
        with _user_output():
            spec.loader.exec_module(module)  # type: ignore[union-attr]
    except _USER_ERRORS as exc:  # the user's code: any error is theirs (sys.exit() too)
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
        with _user_output():
            module.postprocess_handler()
    except _USER_ERRORS as exc:
        raise InputError("SCRIPT_FAILED", which=POSTPROCESSOR, path=path, reason=_one_line(exc)) from None


# What users' code may raise: anything. The job runs in a worker thread, so SystemExit
# (sys.exit()), KeyboardInterrupt or another BaseException there comes from the script, never
# from a signal (the main thread gets those).
_USER_ERRORS = (BaseException,)


def _user_output():
    """Users' ``print`` goes to stderr (the log): stdout holds only the exit message (``mmon``)."""
    return contextlib.redirect_stdout(sys.stderr)


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


# ------------------------------------------------------------------ lines -> records
@dataclass
class _LineCounts:
    """Lines read and bad lines (capture: the decoder's rules; JSON: lines that do not parse)."""

    lines: int = 0
    bad: int = 0
    example: str | None = None
    example_position: tuple[int, int] | None = None

    def add_bad(self, position: tuple[int, int], text: str) -> None:
        self.bad += 1
        if self.example_position is None or position < self.example_position:
            self.example, self.example_position = text, position


def _capture_records(files: Sequence[str], rules: CaptureRules, counts: _LineCounts) -> Iterator[CapturedData]:
    """The capture lines the decoder would analyse, as ``CapturedData`` (same rules, same lines)."""
    for index, path in enumerate(files):
        for chunk in read_lines(path):
            screened = screen(chunk.lines, rules, Origin(path, index, chunk.first_line))
            summary = screened.summary
            counts.lines += summary.lines
            if summary.bad_lines:
                example = summary.bad_example
                counts.add_bad(example.position, example.text)
                counts.bad += summary.bad_lines - 1
            for i in screened.kept:
                yield CapturedData(json.loads(chunk.lines[int(i)].as_py().lstrip("\ufeff")))


def _csv_records(files: Sequence[str], header: bool, counts: _LineCounts) -> Iterator[str]:
    """Raw CSV lines with a line break, as the CSV reader reads the files: blank lines skipped,
    each file's first non-blank line dropped when there is a header."""
    for path in files:
        skip_header = header
        for chunk in read_lines(path):
            for j, text in enumerate(chunk.lines.to_pylist()):
                if chunk.first_line + j == 1 and text.startswith("\ufeff"):  # a byte-order mark starts the file
                    text = text[1:]
                line = text[:-1] if text.endswith("\n") else text
                if line.endswith("\r"):
                    line = line[:-1]
                if not line.strip(_JAVA_WHITESPACE):
                    continue
                if skip_header:
                    skip_header = False
                    continue
                counts.lines += 1
                yield line + "\n"


def _json_records(files: Sequence[str], counts: _LineCounts) -> Iterator[object]:
    """Parsed JSON Lines (blank lines skipped; lines that do not parse are bad lines)."""
    for index, path in enumerate(files):
        for chunk in read_lines(path):
            for j, text in enumerate(chunk.lines.to_pylist()):
                if not text.strip():
                    continue
                counts.lines += 1
                try:
                    record = json.loads(text.lstrip("\ufeff"))
                except (ValueError, RecursionError) as exc:
                    line = chunk.first_line + j
                    reason = getattr(exc, "msg", None) or "nested too deeply"
                    counts.add_bad((index, line), f"line {line} of {path}: not JSON ({reason})")
                    continue
                yield record


# ------------------------------------------------------------------ records -> rows -> batches
def _cell(value) -> str | None:
    """A handler's value as column text: JSON text for numbers, booleans and nested values
    (``1.5``, ``true``), the string itself, None for None and empty strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, int, float, list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return str(value)


def _handler(path: str) -> Callable[[object], object]:
    handler = load_module(path, PREPROCESSOR, "preprocess_handler").preprocess_handler
    if "logger" in inspect.signature(handler).parameters:
        user_log = logging.getLogger("Preprocessing")
        return lambda record: handler(record, user_log)
    return handler


def _rows(handler: Callable[[object], object], records: Iterator[object], path: str) -> Iterator[dict[str, str | None]]:
    """The handler's rows, values as text."""
    for record in records:
        try:
            result = handler(record)
        except _USER_ERRORS as exc:  # the user's code: any error is theirs
            raise InputError("SCRIPT_FAILED", which=PREPROCESSOR, path=path, reason=_one_line(exc)) from None
        for row in result if isinstance(result, list) else ([] if result is None else [result]):
            if not isinstance(row, dict):
                raise InputError(
                    "SCRIPT_FAILED", which=PREPROCESSOR, path=path,
                    reason=f"preprocess_handler returned {type(row).__name__}, not a dict",
                )
            cells = {}
            for key, value in row.items():
                try:
                    cells[str(key)] = _cell(value)
                except (TypeError, ValueError, RecursionError) as exc:  # not JSON: a tuple key, a cycle, too deep
                    raise InputError(
                        "SCRIPT_FAILED", which=PREPROCESSOR, path=path,
                        reason=f"preprocess_handler returned a value for {str(key)!r} that cannot be written as JSON "
                               f"({_one_line(exc)})",
                    ) from None
            yield cells


@dataclass(frozen=True)
class PreprocessedRows:
    """The handler's rows as record batches of string columns (``names``: the baseline's
    features that occur, in its order, then the other keys sorted)."""

    names: tuple[str, ...]
    batches: tuple[pa.RecordBatch, ...]
    rows: int
    lines: int
    bad_lines: int


def _batches(rows: list[dict[str, str | None]], names: Sequence[str]) -> tuple[pa.RecordBatch, ...]:
    out = []
    for start in range(0, len(rows), BATCH_ROWS):
        part = rows[start: start + BATCH_ROWS]
        if names:
            arrays = [string_array([r.get(n) for r in part]) for n in names]
            out.append(pa.RecordBatch.from_arrays(arrays, names=list(names)))
        else:  # rows without keys still count
            out.append(pa.RecordBatch.from_struct_array(pa.array([{}] * len(part), pa.struct([]))))
    return tuple(out)


def preprocess(files: Sequence[str], config, baseline_names: Sequence[str]) -> PreprocessedRows:
    """Lines of ``files`` -> the user's ``preprocess_handler`` (in this process) -> rows.

    Capture files are taken as given (the caller drops hours outside the window); capture lines
    pass :func:`container.capture.screen` with the job's window. Bad lines count against
    ``MMON_CAPTURE_MAX_BAD_FRACTION`` of the lines read.
    """
    fmt = config.dataset_format
    path = config.record_preprocessor_script
    counts = _LineCounts()
    if isinstance(fmt, CaptureFormat):
        records: Iterator[object] = _capture_records(files, CaptureRules.of(fmt, config.start_time, config.end_time), counts)
    elif isinstance(fmt, JsonFormat):
        records = _json_records(files, counts)
    else:
        records = _csv_records(files, fmt.header, counts)
    with _user_output():  # around every call of the handler, entered once
        rows = list(_rows(_handler(path), records, path))
    keys = set().union(*rows) if rows else set()
    names = tuple([n for n in baseline_names if n in keys] + sorted(keys - set(baseline_names)))
    log.info("Preprocessor produced %d rows from %d lines; %d lines were not valid records", len(rows), counts.lines, counts.bad)
    check_bad_lines(counts.bad, counts.lines, config.capture_max_bad_fraction, counts.example or "?",
                    CAPTURE_LINES if isinstance(fmt, CaptureFormat) else JSON_LINES)
    return PreprocessedRows(names, _batches(rows, names), len(rows), counts.lines, counts.bad)


def preprocessed_files(config) -> list[str]:
    """The files the preprocessor reads: capture files only in the window's hours."""
    from .dataset import data_file_sizes, log_streaming

    sizes = data_file_sizes(config.dataset_source)
    files = list(sizes)
    if isinstance(config.dataset_format, CaptureFormat):
        files = files_in_window(files, config.start_time, config.end_time)
    log_streaming(config.dataset_source, (sizes[f] for f in files))
    return files


def preprocessed_profile(config, baseline_names: Sequence[str], options, threads: int | None = None):
    """Profile of the preprocessor's rows (an empty profile when it produced none)."""
    from analyzer.profile import profile_batches

    result = preprocess(preprocessed_files(config), config, baseline_names)
    with ThreadPoolExecutor(threads or os.cpu_count() or 2, thread_name_prefix="mmon-profile") as pool:
        return profile_batches(result.batches, result.names, options, pool)
