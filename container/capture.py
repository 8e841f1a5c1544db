"""SageMaker data-capture lines -> records -> tables of string columns, on Arrow (no Spark).

Each capture line is one inference: ``captureData.endpointInput`` / ``endpointOutput`` hold a
payload (``data``) in an ``encoding`` (CSV, JSON or BASE64 of ``observedContentType``).

Lines (:class:`CaptureRules`, one implementation for the decoder and the users' preprocessor):

- Blank lines (only spaces, tabs, line breaks) are skipped and not counted.
- A line is *bad* (counted against ``MMON_CAPTURE_MAX_BAD_FRACTION``) when it is not JSON, not a
  JSON object, has no ``captureData`` object, no analysed side (``captureIndexNames``) with
  ``data``, or a field the decoder reads (a side's ``data``, ``encoding``,
  ``observedContentType``; ``eventId``, ``inferenceTime``, ``invocationSource``) of another JSON
  type than a string (``"data": 5``, say).
- Shadow-variant traffic (``eventMetadata.invocationSource == "ShadowExperiment"``) is skipped.
- With a window, ``start <= inferenceTime < end`` is kept. The time is ISO-8601 as Python's
  ``datetime.fromisoformat`` reads it (``2024-03-05T11:20:00Z``, fractional seconds, offsets); a
  time without an offset is UTC. A missing or unreadable ``inferenceTime`` while a window is set
  makes the line bad: it cannot be placed in or out of the window, which is a defect of the line.

Payloads (one or more records each; a record is a list of fields and/or a map of JSON keys):

- CSV: trailing line breaks are removed, then one record per line (``\\n``, or ``\\r\\n``; a lone
  ``\\r`` is data), blank lines skipped, fields split on commas as a CSV reader splits them
  (double-quoted fields may hold commas and line breaks, ``""`` inside quotes is a quote). An
  empty field is a missing value; a blank payload is one record with one missing field (so that
  the fields after it keep their positions).
- JSON: an object is one record keyed by name; an object with a single array member
  (``{"instances": [...]}``) stands for that array; an array whose first element is an array or
  object is one record per element, any other array one positional record; a scalar is a
  one-field record. ``application/jsonlines`` payloads are split into lines first. Values keep
  their JSON text (``2.50`` stays ``2.50``; ``true``; nested objects and arrays as compact JSON
  text); ``null`` and ``""`` are missing. ``[]``, ``{}``, ``{"instances": []}`` and a blank payload
  are one record without fields: the line still counts, its other side keeps its fields.
- BASE64: decoded (whitespace ignored, otherwise strict), then CSV or JSON by content type
  (``csv`` / ``json`` in ``observedContentType``). Other content types, invalid base64, bytes
  that are not UTF-8, JSON that does not parse, an unknown encoding, and a record with more than
  ``CaptureRules.max_fields`` fields or keys make the line *undecodable* (counted, skipped).

Records of a line: the output's records zipped with the input's (output first, SageMaker's START
position: fields concatenated; keys merged, the output's value winning). Columns
(:func:`layout`): position ``i`` is named after the baseline's ``i``-th feature (``_c<i>`` past
them), JSON keys that are feature names fill those features, other keys are extra columns sorted
after them.

Two steps, so that a Spark driver can distribute the first: :func:`decode` (pure: a pyarrow
array of lines -> a mergeable :class:`CaptureSummary` and picklable :class:`Records`), then
:func:`layout` from the merged summary and :func:`tabulate` into record batches.
:func:`profile_capture` is the local driver.

Speed: lines are parsed by pyarrow's JSON reader; lines that cannot be capture objects (not
starting with ``{`` and ending with ``}``) and pieces of lines that pyarrow rejects are parsed by
Python's ``json`` instead, whose reading is the reference (pyarrow's schema accepts a subset of
it, read identically). One-line CSV payloads without quotes or line breaks (the usual capture)
are joined, output then input, and split by pyarrow's CSV reader, with no Python per record;
other payloads (quoted, several lines, JSON, BASE64) are decoded per record in Python, with the
same results (about 4 us of CPU per line on the vectorised path, 20-30 us per record in Python).
"""
from __future__ import annotations

import base64
import binascii
import csv
import io
import itertools
import json
import logging
import lzma
import os
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json

from analyzer.errors import InputError

from .config import CaptureFormat

log = logging.getLogger(__name__)

INPUT, OUTPUT = "endpointInput", "endpointOutput"
SHADOW_SOURCE = "ShadowExperiment"
CHUNK_BYTES = 16 << 20  # bytes of a capture file decoded at a time
MIN_MAX_FIELDS = 1000  # a record may always open this many columns

# The capture fields the decoder reads (others, such as mode and inferenceId, are not parsed).
_PAYLOAD_FIELDS = ("observedContentType", "data", "encoding")
_META_FIELDS = ("eventId", "inferenceTime", "invocationSource")
_SIDE_TYPE = pa.struct([(name, pa.string()) for name in _PAYLOAD_FIELDS])
_SCHEMA = pa.schema([
    ("captureData", pa.struct([(INPUT, _SIDE_TYPE), (OUTPUT, _SIDE_TYPE)])),
    ("eventMetadata", pa.struct([(name, pa.string()) for name in _META_FIELDS])),
])
# Columns of parsed lines: "problem" (why a line is not a capture object; null when it is),
# "captureData" (bool: an object), "<side>.<field>", and the metadata fields.
_COLUMNS = (
    "problem", "captureData",
    *[f"{side}.{name}" for side in (INPUT, OUTPUT) for name in _PAYLOAD_FIELDS],
    *_META_FIELDS,
)
_PIECE_LINES = 1024  # lines re-read apart when pyarrow rejects a chunk
_HOUR_PATH = re.compile(r"(?:^|/)(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")
_UNREADABLE = (OSError, EOFError, zlib.error, lzma.LZMAError, pa.ArrowException)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_SNIPPET = 80


# ------------------------------------------------------------------ rules
@dataclass(frozen=True)
class CaptureRules:
    """Which capture lines are analysed, and how wide a record may be.

    Parameters
    ----------
    sides : the analysed sides (``captureIndexNames``).
    start, end : the window ``start <= inferenceTime < end`` (aware datetimes; None = open).
    max_fields : a record with more fields (or JSON keys) is undecodable.
    """

    sides: tuple[str, ...] = (INPUT, OUTPUT)
    start: datetime | None = None
    end: datetime | None = None
    max_fields: int = MIN_MAX_FIELDS

    @classmethod
    def of(cls, fmt: CaptureFormat, start: datetime | None, end: datetime | None,
           baseline_names: Sequence[str] = ()) -> "CaptureRules":
        """The job's rules: records may have ``max(4 * baseline features, 1000)`` fields."""
        return cls(tuple(fmt.capture_index_names), start, end, max(4 * len(baseline_names), MIN_MAX_FIELDS))

    @property
    def order(self) -> tuple[str, ...]:
        """The analysed sides in record order: the output first."""
        return tuple(s for s in (OUTPUT, INPUT) if s in self.sides)

    @property
    def windowed(self) -> bool:
        return self.start is not None or self.end is not None


def parse_time(text: str) -> datetime | None:
    """An ``inferenceTime`` as an aware UTC datetime, or None when it is not ISO-8601.

    Examples
    --------
    >>> parse_time("2024-03-05T11:20:00.5+01:00")
    datetime.datetime(2024, 3, 5, 10, 20, 0, 500000, tzinfo=datetime.timezone.utc)
    >>> parse_time("yesterday") is None
    True
    """
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def files_in_window(files: list[str], start: datetime | None, end: datetime | None) -> list[str]:
    """Drop capture files whose yyyy/mm/dd/hh folder lies wholly outside the window."""
    if start is None and end is None:
        return files
    kept = []
    for path in files:
        match = _HOUR_PATH.search(path.replace("\\", "/"))
        if match is None:
            kept.append(path)
            continue
        hour = datetime(*map(int, match.groups()), tzinfo=timezone.utc)
        if (start is None or hour + timedelta(hours=1) > start) and (end is None or hour < end):
            kept.append(path)
    return kept


# ------------------------------------------------------------------ summary
@dataclass(frozen=True)
class Origin:
    """Where a chunk of lines comes from: the file, its rank in the job's file order, and the
    number (1-based) of the chunk's first line in the file."""

    file: str = "?"
    file_index: int = 0
    first_line: int = 1


@dataclass(frozen=True)
class Example:
    """The first line with a given problem: ``position`` (file rank, line number) orders
    examples of several chunks; ``where`` and ``reason`` go into the job's message."""

    position: tuple[int, int]
    where: str
    reason: str
    encoding: str = ""

    @property
    def text(self) -> str:
        return f"{self.where}: {self.reason}"


def _first(a: Example | None, b: Example | None) -> Example | None:
    if a is None or b is None:
        return a or b
    return a if a.position <= b.position else b


@dataclass(frozen=True)
class CaptureSummary:
    """Counts over capture lines; summaries of parts merge into the summary of the whole.

    ``lines`` counts non-blank lines; each is bad, shadow, outside the window, undecodable, or
    decoded into ``records`` (at least one). ``max_fields`` is the widest record's field count,
    ``keys`` the JSON keys seen (sorted).
    """

    lines: int = 0
    bad_lines: int = 0
    shadow: int = 0
    outside_window: int = 0
    undecodable: int = 0
    records: int = 0
    max_fields: int = 0
    keys: tuple[str, ...] = ()
    bad_example: Example | None = None
    undecodable_example: Example | None = None

    @property
    def usable(self) -> int:
        """Lines that passed the line rules (decodable or not)."""
        return self.lines - self.bad_lines - self.shadow - self.outside_window

    def merge(self, other: "CaptureSummary") -> "CaptureSummary":
        return CaptureSummary(
            lines=self.lines + other.lines,
            bad_lines=self.bad_lines + other.bad_lines,
            shadow=self.shadow + other.shadow,
            outside_window=self.outside_window + other.outside_window,
            undecodable=self.undecodable + other.undecodable,
            records=self.records + other.records,
            max_fields=max(self.max_fields, other.max_fields),
            keys=tuple(sorted(set(self.keys) | set(other.keys))),
            bad_example=_first(self.bad_example, other.bad_example),
            undecodable_example=_first(self.undecodable_example, other.undecodable_example),
        )


# ------------------------------------------------------------------ reading lines
class LineChunk(NamedTuple):
    """Consecutive lines of a file (each with its ``\\n``) and the number of the first."""

    first_line: int
    lines: pa.StringArray


def _open(path: str):
    """A capture file's decompressed bytes (by suffix, as datasets are read; ``s3://`` objects
    streamed)."""
    from .dataset import open_stream

    return open_stream(path)[0]


def read_lines(path: str, chunk_bytes: int = CHUNK_BYTES, what: str = "capture file") -> Iterator[LineChunk]:
    """A file's lines in chunks of about ``chunk_bytes`` (decompressed by suffix: .gz, .bz2, .zst, .xz).

    Bytes that are not UTF-8 are replaced by U+FFFD (the profile counts such values as missing).
    ``what`` names the file in the error of an unreadable one.
    """
    first, pending = 1, b""
    try:
        with _open(path) as fh:
            while True:
                block = fh.read(chunk_bytes)
                data = pending + block if pending else block
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if cut:
                    if not block and not data.endswith(b"\n"):
                        data += b"\n"
                        cut += 1
                    lines = lines_array(pa.py_buffer(data).slice(0, cut))
                    yield LineChunk(first, lines)
                    first += len(lines)
                pending = data[cut:]
                if not block:
                    return
    except _UNREADABLE as exc:
        raise InputError("DATASET_UNREADABLE", what=f"{what} {path}", reason=_one_line(exc)) from None


def lines_array(data: pa.Buffer) -> pa.StringArray:
    """Bytes ending with ``\\n`` -> one string per line, the ``\\n`` kept (no copy when UTF-8)."""
    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
    offsets = np.zeros(len(ends) + 1, np.int32)
    offsets[1:] = ends
    binary = pa.Array.from_buffers(pa.binary(), len(ends), [None, pa.py_buffer(offsets), data])
    try:
        return binary.cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8: replace the bad bytes, line breaks stay where they were
        return lines_array(pa.py_buffer(data.to_pybytes().decode("utf-8", "replace").encode("utf-8")))


def _first_nonblank_line(path: str, limit: int = 1 << 20) -> str | None:
    """The first line of a file holding something other than whitespace (at most ``limit`` bytes read)."""
    try:
        with _open(path) as fh:
            head = fh.read(limit)
    except _UNREADABLE:
        return None
    for line in head.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line
    return None


def looks_like_capture(source: str) -> bool:
    """Whether a file, or a folder's first data file, starts with a data-capture line."""
    from .dataset import list_data_files

    try:
        files = list_data_files(source)
    except InputError:
        return False
    line = _first_nonblank_line(files[0])
    return line is not None and '"captureData"' in line


def reject_capture_lines(source: str, fmt_name: str) -> None:
    """Fail when a CSV or JSON dataset holds data-capture lines (they need the capture format)."""
    from .dataset import list_data_files

    files = list_data_files(source)
    line = _first_nonblank_line(files[0])
    if line is not None and '"captureData"' in line:
        raise InputError("DATASET_IS_CAPTURE", source=source, file=files[0], format=fmt_name)


# ------------------------------------------------------------------ parsing lines
def _offsets(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, bytes) of a string array, as numpy views."""
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], np.int32)[array.offset: array.offset + len(array) + 1]
    data = np.frombuffer(buffers[2], np.uint8) if buffers[2] is not None else np.zeros(1, np.uint8)
    return offsets, data


def _byte_at(offsets: np.ndarray, data: np.ndarray, position: np.ndarray, fill: int) -> np.ndarray:
    """The byte at ``position`` of each value (``fill`` where the value is too short)."""
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.full(len(lengths), fill, np.uint8)
    index = np.where(position >= 0, starts + position, offsets[1:] + position)
    present = (position < lengths) & (-position <= lengths) & (lengths > 0)
    out[present] = data[index[present]]
    return out


def _blank(lines: pa.StringArray) -> np.ndarray:
    """Lines holding only JSON whitespace (or null). Lines starting with ``{`` are not tested."""
    offsets, data = _offsets(lines)
    first = _byte_at(offsets, data, np.zeros(len(lines), np.int64), 32)
    blank = np.zeros(len(lines), bool)
    maybe = np.flatnonzero(first != ord("{"))
    if len(maybe):
        test = pc.match_substring_regex(lines.take(maybe), r"^[ \t\r\n]*$")
        blank[maybe] = pc.fill_null(test, True).to_numpy(zero_copy_only=False)
    return blank


def _suspect(lines: pa.StringArray) -> np.ndarray:
    """Lines that cannot be a JSON object: not starting with ``{`` or not ending with ``}`` (before
    the line break). These are parsed by Python (to tell why), the rest by pyarrow."""
    offsets, data = _offsets(lines)
    n = len(lines)
    first = _byte_at(offsets, data, np.zeros(n, np.int64), 0)
    ending = np.where(_byte_at(offsets, data, np.full(n, -1, np.int64), 0) == 10, -2, -1)
    last = _byte_at(offsets, data, ending, 0)
    last = np.where(last == 13, _byte_at(offsets, data, ending - 1, 0), last)  # a \r\n line break
    return (first != ord("{")) | (last != ord("}"))


def _terminated(lines: pa.StringArray) -> pa.Buffer:
    """The lines as one buffer, each followed by a line break (no copy when they all have one)."""
    offsets, data = _offsets(lines)
    ends_with_break = _byte_at(offsets, data, np.full(len(lines), -1, np.int64), 0) == 10
    if lines.null_count == 0 and ends_with_break.all():
        return lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    joined = pc.binary_join_element_wise(lines, "", "\n", null_handling="replace")
    joined_offsets, _ = _offsets(joined)
    return joined.buffers()[2].slice(int(joined_offsets[0]), int(joined_offsets[-1] - joined_offsets[0]))


def object_lines(lines: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """(blank, may be a JSON object) masks of lines, as the decoder screens them: the second for
    the lines pyarrow's JSON reader is given."""
    blank = _blank(lines)
    return blank, ~blank & ~_suspect(lines)


def read_json_lines(lines: pa.StringArray, schema: pa.Schema) -> pa.Table | None:
    """Non-blank lines read by pyarrow's JSON reader in ``schema`` (other fields ignored); None
    when it rejects any (not JSON, or a field of another JSON type than the schema's).

    One block, one thread: chunks are decoded in parallel instead (cheaper than pyarrow's own
    threads, and the columns come out in one piece)."""
    buffer = _terminated(lines)
    options = pa_json.ReadOptions(use_threads=False, block_size=max(1 << 20, buffer.size + 1))
    try:
        table = pa_json.read_json(
            pa.BufferReader(buffer), read_options=options,
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except pa.ArrowException:
        return None
    return table if table.num_rows == len(lines) else None


def _arrow_events(lines: pa.StringArray) -> dict[str, pa.Array] | None:
    """Capture fields of non-blank lines by pyarrow's JSON reader; None when it rejects any."""
    table = read_json_lines(lines, _SCHEMA)
    if table is None:
        return None
    capture, meta = table.column("captureData"), table.column("eventMetadata")
    columns: dict[str, pa.Array] = {
        "problem": pa.nulls(table.num_rows, pa.string()),
        "captureData": pc.is_valid(capture),
    }
    for side in (INPUT, OUTPUT):
        payload = pc.struct_field(capture, side)
        for name in _PAYLOAD_FIELDS:
            columns[f"{side}.{name}"] = pc.struct_field(payload, name)
    for name in _META_FIELDS:
        columns[name] = pc.struct_field(meta, name)
    return {k: _one_array(v) if isinstance(v, pa.ChunkedArray) else v for k, v in columns.items()}


_SURROGATE = re.compile("[\ud800-\udfff]")


def _string(value: object, where: str) -> str | None:
    """A capture field's value: text or null; another JSON type is a defect of the line."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _NotCapture(f"{where} is not a string")
    return _SURROGATE.sub("\ufffd", value)


class _NotCapture(Exception):
    """A line that is not a capture object; the message says why."""


def _python_event(text: str) -> tuple:
    """One line's capture fields in ``_COLUMNS`` order, as Python's json reads it."""
    try:
        try:
            event = json.loads(text.lstrip("\ufeff"))
        except (ValueError, RecursionError):
            raise _NotCapture("not JSON") from None
        if not isinstance(event, dict):
            raise _NotCapture("not a JSON object")
        capture = event.get("captureData")
        if capture is not None and not isinstance(capture, dict):
            raise _NotCapture("captureData is not an object")
        values: list = [None, capture is not None]
        for side in (INPUT, OUTPUT):
            payload = capture.get(side) if capture else None
            if payload is not None and not isinstance(payload, dict):
                raise _NotCapture(f"captureData.{side} is not an object")
            values += [_string((payload or {}).get(name), f"captureData.{side}.{name}") for name in _PAYLOAD_FIELDS]
        meta = event.get("eventMetadata")
        if meta is not None and not isinstance(meta, dict):
            raise _NotCapture("eventMetadata is not an object")
        values += [_string((meta or {}).get(name), f"eventMetadata.{name}") for name in _META_FIELDS]
        return tuple(values)
    except _NotCapture as exc:
        return (str(exc), False) + (None,) * (len(_COLUMNS) - 2)


def _python_events(lines: pa.StringArray) -> dict[str, pa.Array]:
    rows = [_python_event(text) for text in lines.to_pylist()]
    columns = list(zip(*rows)) if rows else [()] * len(_COLUMNS)
    return {
        name: pa.array(values, pa.bool_() if name == "captureData" else pa.string())
        for name, values in zip(_COLUMNS, columns)
    }


@dataclass(frozen=True)
class _Events:
    """Capture fields of a chunk's non-blank lines: ``line`` (index in the chunk) and columns."""

    line: np.ndarray
    columns: dict[str, pa.Array]

    def take(self, index: np.ndarray) -> "_Events":
        if len(index) == len(self.line):
            return self
        indices = pa.array(index, pa.int64())
        return _Events(self.line[index], {k: v.take(indices) for k, v in self.columns.items()})


def _parse(lines: pa.StringArray) -> _Events:
    """Parse the non-blank lines: pyarrow for lines that look like objects (in pieces when it
    rejects the chunk: the rejected pieces go to Python), Python for the rest."""
    blank = _blank(lines)
    suspect = _suspect(lines) & ~blank
    parts: list[tuple[np.ndarray, dict[str, pa.Array]]] = []
    clean = np.flatnonzero(~blank & ~suspect)
    if len(clean):
        subset = lines if len(clean) == len(lines) - int(blank.sum()) and not suspect.any() else lines.take(clean)
        whole = _arrow_events(subset)
        if whole is not None and len(whole["problem"]) == len(clean):
            parts.append((clean, whole))
        else:
            for start in range(0, len(clean), _PIECE_LINES):
                piece = clean[start: start + _PIECE_LINES]
                lines_of_piece = lines.take(piece)
                events = _arrow_events(lines_of_piece)
                if events is None or len(events["problem"]) != len(piece):
                    events = _python_events(lines_of_piece)
                parts.append((piece, events))
    odd = np.flatnonzero(suspect)
    if len(odd):
        parts.append((odd, _python_events(lines.take(odd))))
    if not parts:
        return _Events(np.zeros(0, np.int64), _python_events(pa.array([], pa.string())))
    if len(parts) == 1:
        return _Events(parts[0][0], parts[0][1])
    line = np.concatenate([p[0] for p in parts])
    order = pa.array(np.argsort(line, kind="stable"), pa.int64())
    columns = {name: pa.concat_arrays([p[1][name] for p in parts]).take(order) for name in _COLUMNS}
    return _Events(np.sort(line), columns)


# ------------------------------------------------------------------ the rules, vectorised
_KEEP, _SHADOW, _OUTSIDE, _BAD = 0, 1, 2, 3
_NOT_CAPTURE, _NO_CAPTURE_DATA, _NO_PAYLOAD, _NO_TIME, _BAD_TIME = 1, 2, 3, 4, 5
# The common inferenceTime form, YYYY-MM-DDTHH:MM:SSZ: where its digits and marks are.
_DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
_MARKS = ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "Z"))
_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _bools(array: pa.Array, fill: bool = False) -> np.ndarray:
    return pc.fill_null(array, fill).to_numpy(zero_copy_only=False)


def _micros(when: datetime) -> int:
    """Microseconds since the epoch (a time without an offset is UTC)."""
    return ((when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when) - _EPOCH) // _MICROSECOND


def _plain_times(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(microseconds since the epoch, read) of values in the common form ``YYYY-MM-DDTHH:MM:SSZ``
    (a valid date and time), read from the bytes with NumPy; other values are not read."""
    n = len(texts)
    micros, plain = np.zeros(n, np.int64), np.zeros(n, bool)
    offsets, data = _offsets(texts)
    rows = np.flatnonzero((np.diff(offsets) == 20) & _bools(pc.is_valid(texts)))
    if not len(rows):
        return micros, plain
    chars = data[offsets[rows][:, None] + np.arange(20)]
    digits = (chars - 48).astype(np.int64)  # uint8 wraps below "0": not a digit either way
    ok = (digits[:, _DIGIT_AT] <= 9).all(axis=1)
    for at, char in _MARKS:
        ok &= chars[:, at] == ord(char)

    def number(first: int, width: int) -> np.ndarray:
        return sum(digits[:, first + i] * 10 ** (width - 1 - i) for i in range(width))

    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (hour <= 23) & (minute <= 59) & (second <= 59)
    ok &= day <= _DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
    # days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
    micros[rows[ok]] = seconds[ok] * 1_000_000
    plain[rows[ok]] = True
    return micros, plain


def instants(texts: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(microseconds since the epoch, readable) of ``inferenceTime`` values: the common form by
    :func:`_plain_times`, the others by :func:`parse_time` (the same instants for both)."""
    micros, readable = _plain_times(texts)
    for i in np.flatnonzero(~readable & _bools(pc.is_valid(texts))):
        when = parse_time(texts[int(i)].as_py())
        if when is not None:
            micros[i], readable[i] = _micros(when), True
    return micros, readable


def _verdicts(events: _Events, rules: CaptureRules) -> tuple[np.ndarray, np.ndarray]:
    """(verdict, reason) per line: kept, shadow, outside the window or bad (and why)."""
    columns = events.columns
    n = len(events.line)
    has_payload = np.zeros(n, bool)
    for side in rules.sides:
        has_payload |= _bools(pc.is_valid(columns[f"{side}.data"]))
    reason = np.select(
        [_bools(pc.is_valid(columns["problem"])), ~_bools(columns["captureData"]), ~has_payload],
        [_NOT_CAPTURE, _NO_CAPTURE_DATA, _NO_PAYLOAD], 0,
    ).astype(np.int8)
    verdict = np.where(reason > 0, _BAD, _KEEP).astype(np.int8)
    verdict[(verdict == _KEEP) & _bools(pc.equal(columns["invocationSource"], SHADOW_SOURCE))] = _SHADOW
    if rules.windowed:
        texts = columns["inferenceTime"]
        open_ = verdict == _KEEP
        missing = open_ & ~_bools(pc.is_valid(texts))
        micros, readable = instants(texts)
        unreadable = open_ & ~missing & ~readable
        reason[missing], reason[unreadable] = _NO_TIME, _BAD_TIME
        verdict[missing | unreadable] = _BAD
        inside = np.ones(n, bool)
        if rules.start is not None:
            inside &= micros >= _micros(rules.start)
        if rules.end is not None:
            inside &= micros < _micros(rules.end)
        verdict[(verdict == _KEEP) & ~inside] = _OUTSIDE
    return verdict, reason


def _bad_reason(events: _Events, i: int, reason: int, rules: CaptureRules) -> str:
    if reason == _NOT_CAPTURE:
        return events.columns["problem"][i].as_py()
    if reason == _NO_CAPTURE_DATA:
        return "no captureData"
    if reason == _NO_PAYLOAD:
        return f"no data in {' or '.join(rules.sides)}"
    if reason == _NO_TIME:
        return "no eventMetadata.inferenceTime (a time window is set)"
    return f"eventMetadata.inferenceTime {events.columns['inferenceTime'][i].as_py()!r} is not an ISO-8601 time"


def _where(origin: Origin, line: int, event_id: str | None = None) -> str:
    at = f"line {origin.first_line + line} of {origin.file}"
    return f"eventId {event_id} ({at})" if event_id is not None else at


def _snippet(lines: pa.StringArray, line: int) -> str:
    text = (lines[line].as_py() or "").strip()
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


@dataclass(frozen=True)
class Screened:
    """Lines after the line rules: the counts (bad, shadow, outside the window) and the lines
    to analyse (``kept``: indices into the chunk's lines, in order)."""

    summary: CaptureSummary
    kept: np.ndarray
    events: _Events  # capture fields of the kept lines


def _as_lines(lines: "pa.Array | pa.ChunkedArray") -> pa.StringArray:
    """Lines as one ``string`` array (Spark may hand over ``large_string`` or chunks)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks() if lines.num_chunks else pa.array([], pa.string())
    return lines if lines.type == pa.string() else lines.cast(pa.string())


def screen(lines: pa.StringArray, rules: CaptureRules, origin: Origin = Origin()) -> Screened:
    """Apply the line rules (the decoder's and the users' preprocessor's) to a chunk of lines."""
    lines = _as_lines(lines)
    events = _parse(lines)
    verdict, reason = _verdicts(events, rules)
    bad = np.flatnonzero(verdict == _BAD)
    example = None
    if len(bad):
        i = int(bad[0])
        line = int(events.line[i])
        example = Example(
            (origin.file_index, origin.first_line + line), _where(origin, line),
            f"{_bad_reason(events, i, int(reason[i]), rules)} ({_snippet(lines, line)!r})",
        )
    keep = np.flatnonzero(verdict == _KEEP)
    summary = CaptureSummary(
        lines=len(verdict), bad_lines=len(bad), shadow=int((verdict == _SHADOW).sum()),
        outside_window=int((verdict == _OUTSIDE).sum()), bad_example=example,
    )
    kept = events.take(keep)
    return Screened(summary, kept.line, kept)


# ------------------------------------------------------------------ payloads -> records
Record = tuple[tuple["str | None", ...], "dict[str, str | None] | None"]  # (fields, JSON keys)


class _Undecodable(Exception):
    """A payload that does not decode; the message says why."""


class _Number(str):
    """A JSON number, kept as the text it was written as."""


def _json_load(text: str):
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number)


def _json_text(value) -> str:
    """Compact JSON text of a parsed value (numbers as written)."""
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v) for v in value) + "]"
    return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + _json_text(v) for k, v in value.items()) + "}"


def _cell(value) -> str | None:
    """A JSON value as a field: text, None for null and empty strings."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return str.__str__(value) if isinstance(value, _Number) else value
    if value is True or value is False:
        return "true" if value else "false"
    return _json_text(value)


def _json_records(doc: str) -> list[Record]:
    if not doc.strip():
        return [((), None)]
    try:
        value = _json_load(doc)
    except (ValueError, RecursionError):
        raise _Undecodable("not JSON") from None
    if isinstance(value, dict) and len(value) == 1:
        (only,) = value.values()
        if isinstance(only, list):
            value = only
    elements = value if isinstance(value, list) and value and isinstance(value[0], (list, dict)) else [value]
    records: list[Record] = []
    escaped = "\\u" in doc  # keys may hold lone surrogates, which are not text
    for element in elements:
        if isinstance(element, dict):
            records.append(((), {(_SURROGATE.sub("\ufffd", k) if escaped else k): _cell(v) for k, v in element.items()}))
        elif isinstance(element, list):
            records.append((tuple(_cell(v) for v in element), None))
        else:
            records.append(((_cell(element),), None))
    return records


def _json_payload(text: str, content_type: str) -> list[Record]:
    if "jsonl" not in content_type:  # application/jsonlines, application/jsonl
        return _json_records(text)
    docs = [line for line in text.rstrip("\r\n").split("\n") if line.strip(" \t\r")] or [""]
    return [record for doc in docs for record in _json_records(doc)]


def _csv_payload(text: str) -> list[Record]:
    """CSV records of a payload (see the module's rules); fields are text or None."""
    text = text.rstrip("\r\n")
    if '"' not in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        rows = [tuple(f or None for f in line.split(",")) for line in lines if line.strip(" \t\r")]
        return [(row, None) for row in rows] or [((None,), None)]
    return [(row, None) for row in _quoted_csv(text)] or [((None,), None)]


def _quoted_csv(text: str) -> list[tuple[str | None, ...]]:
    """Rows of CSV text with double quotes (see :func:`_split_quoted`). Python's csv reader
    reads the same rows, faster, from text without carriage returns (it ends rows at a lone
    ``\\r``) when no row is a single run of spaces (blank, or a quoted blank: it cannot tell)."""
    if "\r" not in text:
        try:
            rows = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error:  # a quote left open, a field over its size limit
            rows = None
        if rows is not None and not any(len(r) == 1 and r[0] and not r[0].strip(" \t") for r in rows):
            return [tuple(f or None for f in row) for row in rows if row]
    return _split_quoted(text)


def _split_quoted(text: str) -> list[tuple[str | None, ...]]:
    """Rows of CSV text with double quotes, as a CSV reader splits them: a field starting with a
    quote runs to the closing quote (commas and line breaks inside are data, ``""`` is a quote),
    characters after the closing quote are appended; rows end at ``\\n`` or ``\\r\\n`` outside
    quotes; rows whose text is blank are skipped; a quote left open runs to the end."""
    rows: list[tuple[str | None, ...]] = []
    fields: list[str] = []
    current: list[str] = []
    quoted, at_start = False, True
    row_start, i, n = 0, 0, len(text)

    def end_row(stop: int) -> None:
        fields.append("".join(current))
        if text[row_start:stop].strip(" \t\r"):
            rows.append(tuple(f or None for f in fields))
        fields.clear()

    while i < n:
        c = text[i]
        if quoted:
            if c == '"':
                if i + 1 < n and text[i + 1] == '"':
                    current.append('"')
                    i += 1
                else:
                    quoted = False
            else:
                current.append(c)
        elif c == '"' and at_start:
            quoted = True
        elif c == ",":
            fields.append("".join(current))
            current = []
            at_start = True
            i += 1
            continue
        elif c == "\n" or (c == "\r" and i + 1 < n and text[i + 1] == "\n"):
            end_row(i)
            current = []
            at_start = True
            i += 2 if c == "\r" else 1
            row_start = i
            continue
        else:
            current.append(c)
        at_start = False
        i += 1
    end_row(n)
    return rows


def _payload_records(data: str, encoding: str | None, content_type: str | None) -> list[Record]:
    """One side's payload -> its records, or _Undecodable."""
    kind = (encoding or "").upper()
    ct = (content_type or "").lower()
    if kind == "CSV":
        return _csv_payload(data)
    if kind == "JSON":
        return _json_payload(data, ct)
    if kind != "BASE64":
        raise _Undecodable(f"unknown encoding {encoding!r}")
    if "csv" not in ct and "json" not in ct:
        raise _Undecodable(f"content type {content_type!r} is neither CSV nor JSON")
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _Undecodable("invalid base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Undecodable("the decoded bytes are not UTF-8 text") from None
    return _csv_payload(text) if "csv" in ct else _json_payload(text, ct)


def payload_records(data: str, encoding: str | None, content_type: str | None) -> list[Record]:
    """A payload's records as the capture decoder reads them (fields, or a JSON object's keys):
    for the model-quality job's endpoint outputs and labels. ValueError when it does not decode."""
    try:
        return _payload_records(data, encoding, content_type)
    except _Undecodable as exc:
        raise ValueError(str(exc)) from None


_NO_RECORD: Record = ((), None)


def _paired(sides: list[list[Record]]) -> list[Record]:
    """Records of a line: the sides' records zipped (fields concatenated; keys merged, the
    earlier side's value winning)."""
    present = [records for records in sides if records]
    if len(present) == 1:
        return present[0]
    paired: list[Record] = []
    for group in itertools.zip_longest(*present, fillvalue=_NO_RECORD):
        fields = group[0][0]
        for record in group[1:]:
            fields += record[0]
        keyed = None
        for _, keys in reversed(group):
            if keys is not None:
                keyed = {**keyed, **keys} if keyed else dict(keys)
        paired.append((fields, keyed))
    return paired


def _line_records(values: list[tuple], rules: CaptureRules) -> list[Record]:
    """(data, encoding, content type) of each side in record order -> the line's records.

    _Undecodable's arguments: why, and the encoding it failed in."""
    sides = []
    for side, (data, encoding, content_type) in zip(rules.order, values):
        try:
            sides.append(_payload_records(data, encoding, content_type) if data is not None else [])
        except _Undecodable as exc:
            raise _Undecodable(f"{side}: {exc}", f"{encoding} ({content_type or 'no content type'})") from None
    records = _paired(sides)
    for fields, keys in records:
        width = max(len(fields), len(keys) if keys else 0)
        if width > rules.max_fields:
            raise _Undecodable(f"a record with {width} fields (more than {rules.max_fields})", _encoding_of(values))
    return records


@dataclass(frozen=True)
class Records:
    """Decoded records of a chunk, in line order once tabulated: ``table`` holds the records of
    the vectorised path (column ``i`` = field ``i``), ``rows`` those of the per-record path;
    ``table_lines`` / ``row_lines`` give each record's line (its rank in the chunk)."""

    table: pa.Table | None = None
    table_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rows: tuple[Record, ...] = ()
    row_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.table_lines) + len(self.row_lines)


def _plain_payloads(data: pa.StringArray) -> tuple[np.ndarray, pa.StringArray]:
    """(eligible, text) of CSV payloads for the vectorised path: one line (after trailing line
    breaks) without quotes or carriage returns; blank payloads become the empty text."""
    offsets, raw = _offsets(data)
    n = len(data)
    last = _byte_at(offsets, raw, np.full(n, -1, np.int64), 0)
    if ((last == 10) | (last == 13)).any():
        data = pc.utf8_rtrim(data, "\r\n")
        offsets, raw = _offsets(data)
    body = raw[offsets[0]: offsets[-1]]
    hits = np.flatnonzero((body == 34) | (body == 10) | (body == 13)) + offsets[0]
    eligible = np.ones(n, bool)
    eligible[np.searchsorted(offsets, hits, side="right") - 1] = False
    first = _byte_at(offsets, raw, np.zeros(n, np.int64), 0)
    eligible &= first != 0xEF  # a leading byte-order mark would be dropped by the CSV reader
    spaced = np.flatnonzero((first == 32) | (first == 9))
    if len(spaced):
        blank = np.zeros(n, bool)
        blank[spaced] = _bools(pc.match_substring_regex(data.take(pa.array(spaced, pa.int64())), r"^[ \t]*$"))
        if blank.any():
            data = pc.if_else(pa.array(blank), "", data)
    return eligible, data


def _field_counts(texts: list[pa.StringArray]) -> np.ndarray:
    counts = np.zeros(len(texts[0]), np.int64)
    for text in texts:
        counts += pc.count_substring(text, ",").to_numpy(zero_copy_only=False) + 1
    return counts


def _read_rows(texts: list[pa.StringArray], pad: pa.Array | str, width: int) -> pa.Table:
    """The joined payloads (each row: the sides' texts, a comma, ``pad``) through pyarrow's CSV
    reader: ``width`` string columns, empty fields null (the column after the last is dropped)."""
    joined = pc.binary_join_element_wise(*texts, pad, ",")
    offsets, _ = _offsets(joined)
    buffer = joined.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    names = [f"f{i}" for i in range(width + 1)]
    return pa_csv.read_csv(
        pa.BufferReader(buffer),
        read_options=pa_csv.ReadOptions(column_names=names, use_threads=False, block_size=max(1 << 20, buffer.size + 1)),
        parse_options=pa_csv.ParseOptions(quote_char=False, escape_char=False, ignore_empty_lines=False),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in names}, include_columns=names[:width],
            strings_can_be_null=True, null_values=[""], check_utf8=False,
        ),
    )


def _vectorised_csv(texts: list[pa.StringArray], max_fields: int) -> tuple[pa.Table, np.ndarray]:
    """One-line CSV payloads (per side, in record order) -> (table of the rows that fit, too wide).

    Rows are tried at the first row's width; only when widths differ are they counted, and
    padded with commas to the widest (rows wider than ``max_fields`` are left out)."""
    n = len(texts[0])
    first_width = sum(len(t[0].as_py().split(",")) for t in texts)
    if first_width <= max_fields:
        try:
            return _read_rows(texts, "\n", first_width), np.zeros(n, bool)
        except pa.ArrowInvalid:
            pass  # rows of other widths
    counts = _field_counts(texts)
    too_wide = counts > max_fields
    if too_wide.any():
        fit = pa.array(~too_wide)
        texts = [t.filter(fit) for t in texts]
        counts = counts[~too_wide]
        if not len(counts):  # every row too wide: nothing for the reader (it refuses empty input)
            return pa.table({}), too_wide
    width = int(counts.max()) if len(counts) else 0
    pads = pa.array(["," * j + "\n" for j in range(width + 1)])
    return _read_rows(texts, pads.take(pa.array(width - counts)), width), too_wide


def _side_values(columns: dict[str, pa.Array], rows: np.ndarray, order: tuple[str, ...]) -> list[list[tuple]]:
    """(data, encoding, content type) of each side in record order, for the entries ``rows``."""
    take = pa.array(rows, pa.int64())
    sides = [
        [columns[f"{side}.{name}"].take(take).to_pylist() for name in ("data", "encoding", "observedContentType")]
        for side in order
    ]
    return [[(data[j], encoding[j], ct[j]) for data, encoding, ct in sides] for j in range(len(rows))]


def _vectorised_part(columns: dict[str, pa.Array], rules: CaptureRules) -> tuple[np.ndarray, pa.Table | None, np.ndarray]:
    """The entries whose payloads are all one-line plain CSV, decoded without Python per record:
    (those entries, their table, which of them are too wide: not in the table)."""
    n = len(columns["eventId"])
    plain = np.ones(n, bool)
    for side in rules.order:
        plain &= _bools(pc.equal(columns[f"{side}.encoding"], "CSV")) & _bools(pc.is_valid(columns[f"{side}.data"]))
    rows = np.flatnonzero(plain)
    if not len(rows):
        return rows, None, np.zeros(0, bool)
    texts = []
    take = pa.array(rows, pa.int64())
    for side in rules.order:
        data = columns[f"{side}.data"]
        eligible, text = _plain_payloads(data if len(rows) == n else data.take(take))
        plain[rows[~eligible]] = False
        texts.append(text)
    fit = np.flatnonzero(plain[rows])
    if not len(fit):
        return fit, None, np.zeros(0, bool)
    if len(fit) < len(rows):
        texts = [t.take(pa.array(fit, pa.int64())) for t in texts]
    table, too_wide = _vectorised_csv(texts, rules.max_fields)
    return rows[fit], table, too_wide


def decode(lines: pa.StringArray, rules: CaptureRules, origin: Origin = Origin(),
           vectorised: bool = True) -> tuple[CaptureSummary, Records]:
    """Capture lines (with or without their line breaks) -> summary and records.

    A pure function of its arguments (no files), usable on a Spark executor. ``vectorised=False``
    decodes every payload per record (the reference the vectorised path is tested against).
    """
    lines = _as_lines(lines)
    screened = screen(lines, rules, origin)
    columns, line_of = screened.events.columns, screened.kept
    fast, table, too_wide = _vectorised_part(columns, rules) if vectorised and len(line_of) else (np.zeros(0, np.int64), None, None)
    per_record = np.ones(len(line_of), bool)
    per_record[fast] = False
    # Over-wide rows of the vectorised path are undecodable; the per-record path says why.
    failing = np.sort(np.concatenate([np.flatnonzero(per_record), fast[too_wide] if table is not None else []])).astype(np.int64)
    rows_out: list[Record] = []
    row_lines: list[int] = []
    keys: set[str] = set()
    undecodable, failed = 0, None
    for i, values in zip(failing, _side_values(columns, failing, rules.order) if len(failing) else []):
        try:
            records = _line_records(values, rules)
        except _Undecodable as exc:
            undecodable += 1
            failed = failed or (int(i), exc.args[0], exc.args[1])
            continue
        rows_out += records
        row_lines += [int(line_of[i])] * len(records)
        keys.update(key for _, named in records if named for key in named)
    example = None
    if failed:
        i, reason, encoding = failed
        line = int(line_of[i])
        example = Example((origin.file_index, origin.first_line + line), _where(origin, line, columns["eventId"][i].as_py() or "?"), reason, encoding)
    table_lines = line_of[fast[~too_wide]] if table is not None else np.zeros(0, np.int64)
    records = Records(table, table_lines, tuple(rows_out), np.array(row_lines, np.int64))
    widest = max([table.num_columns if table is not None and table.num_rows else 0, *(len(r[0]) for r in rows_out)])
    summary = replace(
        screened.summary, undecodable=undecodable, records=len(records), max_fields=widest,
        keys=tuple(sorted(keys)), undecodable_example=example,
    )
    return summary, records


def _encoding_of(values: list[tuple]) -> str:
    """The sides' encodings, each once: ``CSV (text/csv)``, ``CSV (text/csv) and JSON (...)``."""
    named = [f"{e} ({ct or 'no content type'})" for d, e, ct in values if d is not None]
    return " and ".join(dict.fromkeys(named))


def summarize(lines: pa.StringArray, rules: CaptureRules, origin: Origin = Origin()) -> CaptureSummary:
    """The summary of :func:`decode` alone (a distributed first pass that keeps no records)."""
    return decode(lines, rules, origin)[0]


# ------------------------------------------------------------------ records -> columns
class LayoutColumn(NamedTuple):
    """A column of the current data: its name, the record field it takes (by position), and
    whether a JSON key of that name fills it (first, before the field)."""

    name: str
    position: int | None
    by_key: bool


Layout = tuple[LayoutColumn, ...]


def layout(summary: CaptureSummary, baseline_names: Sequence[str]) -> Layout:
    """Columns in SageMaker's order: position ``i`` is named after the baseline's ``i``-th
    feature (``_c<i>`` past them); JSON keys fill the feature of that name, other keys follow,
    sorted.

    Examples
    --------
    >>> [c.name for c in layout(CaptureSummary(max_fields=3, keys=("b", "z")), ["y", "a", "b", "c"])]
    ['y', 'a', 'b', 'z']
    """
    keys = set(summary.keys)
    columns = []
    for i in range(summary.max_fields):
        name = baseline_names[i] if i < len(baseline_names) else f"_c{i}"
        columns.append(LayoutColumn(name, i, name in keys))
    named = {c.name for c in columns}
    columns += [LayoutColumn(key, None, True) for key in sorted(keys - named)]
    rank = {name: i for i, name in enumerate(baseline_names)}
    first = sorted((c for c in columns if c.name in rank), key=lambda c: rank[c.name])
    return tuple(first + [c for c in columns if c.name not in rank])


def string_array(values: Sequence[str | None]) -> pa.Array:
    """Text values as an Arrow array (lone surrogates from JSON escapes become U+FFFD)."""
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        return pa.array([v if v is None else _SURROGATE.sub("\ufffd", v) for v in values], pa.string())


def _row_arrays(rows: tuple[Record, ...], columns: Layout) -> list[pa.Array]:
    """Columns of per-record rows: fields transposed by position; a column filled by a JSON key
    takes the key's value where the record has one, else the field at its position."""
    transposed = list(itertools.zip_longest(*(fields for fields, _ in rows), fillvalue=None))
    keyed = any(keys for _, keys in rows)
    arrays = []
    for column in columns:
        at = column.position
        positional = transposed[at] if at is not None and at < len(transposed) else None
        if column.by_key and keyed:
            values = [keys.get(column.name) if keys else None for _, keys in rows]
            if positional is not None:
                values = [v if v is not None else p for v, p in zip(values, positional)]
            arrays.append(string_array(values))
        else:
            arrays.append(string_array(positional) if positional is not None else pa.nulls(len(rows), pa.string()))
    return arrays


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    """A column as one array (``combine_chunks`` copies even a single chunk)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def tabulate(records: Records, columns: Layout) -> pa.RecordBatch:
    """Records as a batch of string columns named by ``columns`` (null = missing), in line order."""
    names = [c.name for c in columns]
    parts: list[list[pa.Array]] = []
    table = records.table
    if table is not None and len(records.table_lines):
        n = table.num_rows
        parts.append([
            _one_array(table.column(c.position)) if c.position is not None and c.position < table.num_columns
            else pa.nulls(n, pa.string())
            for c in columns
        ])
    if records.rows:
        parts.append(_row_arrays(records.rows, columns))
    if not parts:
        return pa.RecordBatch.from_arrays([pa.array([], pa.string()) for _ in names], names=names)
    if len(parts) == 1:
        arrays = parts[0]
    else:
        order = pa.array(np.argsort(np.concatenate([records.table_lines, records.row_lines]), kind="stable"), pa.int64())
        arrays = [pa.concat_arrays([a, b]).take(order) for a, b in zip(*parts)]
    if not arrays:  # records without fields: the rows still count
        return pa.RecordBatch.from_struct_array(pa.array([{}] * len(records), pa.struct([])))
    return pa.RecordBatch.from_arrays(arrays, names=names)


# ------------------------------------------------------------------ the local driver
def decode_files(files: Sequence[str], rules: CaptureRules, chunk_bytes: int = CHUNK_BYTES,
                 threads: int | None = None) -> tuple[CaptureSummary, list[Records]]:
    """Decode capture files (chunks in parallel); the records come back in file and line order."""

    summary, parts = CaptureSummary(), []
    for part_summary, records in iter_decoded(files, rules, chunk_bytes, threads):
        summary = summary.merge(part_summary)
        if len(records):
            parts.append(records)
    return summary, parts


def iter_decoded(files: Sequence[str], rules: CaptureRules, chunk_bytes: int = CHUNK_BYTES,
                 threads: int | None = None, progress=None) -> Iterator[tuple[CaptureSummary, Records]]:
    """The chunks of capture files decoded in parallel, yielded in file and line order (the
    bytes read are counted on ``progress``, a :class:`container.progress.Progress`)."""

    def one(task: tuple[int, str, LineChunk]) -> tuple[CaptureSummary, Records]:
        index, path, chunk = task
        return decode(chunk.lines, rules, Origin(path, index, chunk.first_line))

    def chunks(path: str) -> Iterator[LineChunk]:
        for chunk in read_lines(path, chunk_bytes):
            if progress is not None:  # the bytes of the file's lines (decompressed)
                offsets, _ = _offsets(chunk.lines)
                progress.advance(nbytes=int(offsets[-1] - offsets[0]) if len(offsets) else 0)
            yield chunk

    tasks = ((i, path, chunk) for i, path in enumerate(files) for chunk in chunks(path))
    with ThreadPoolExecutor(max(1, min(threads or os.cpu_count() or 2, 4)), thread_name_prefix="mmon-capture") as pool:
        yield from _ordered_map(pool, one, tasks, window=2 * (threads or os.cpu_count() or 2))


def _ordered_map(pool: ThreadPoolExecutor, function, items: Iterable, window: int) -> Iterator:
    """``pool.map`` with at most ``window`` items read ahead (bounded memory), results in order."""
    pending = []
    for item in items:
        pending.append(pool.submit(function, item))
        if len(pending) >= window:
            yield pending.pop(0).result()
    for future in pending:
        yield future.result()


CAPTURE_LINES = "capture lines are not valid capture records"
MERGED_LINES = "merged lines are not valid merged records"
JSON_LINES = "JSON lines are not JSON records"


def check_bad_lines(bad: int, total: int, max_bad_fraction: float, example: str, lines: str = CAPTURE_LINES) -> None:
    """Skip a few malformed lines; fail past the allowed fraction (``lines`` says which lines
    were bad, and how)."""
    if total and bad / total > max_bad_fraction:
        raise InputError(
            "CAPTURE_TOO_MANY_BAD_LINES", bad=bad, total=total, lines=lines, allowed_percent=max_bad_fraction * 100,
            example=example,
        )


def check_summary(s: CaptureSummary, source: str, start: datetime | None, end: datetime | None,
                  max_bad_fraction: float) -> None:
    """The job's budget: bad lines, undecodable lines (of the usable ones), and some records."""
    check_bad_lines(s.bad_lines, s.lines, max_bad_fraction, s.bad_example.text if s.bad_example else "?")
    usable = s.usable
    if usable and s.undecodable / usable > max_bad_fraction:
        example = s.undecodable_example
        raise InputError(
            "CAPTURE_DECODE_FAILED",
            where=(example.where if example else "?") + (f" (and {s.undecodable - 1} more)" if s.undecodable > 1 else ""),
            encoding=example.encoding if example and example.encoding else "its declared encoding and content type",
            reason=f"{example.reason if example else '?'}; {s.undecodable} of {usable} records undecodable",
        )
    if s.records == 0:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)


def log_summary(s: CaptureSummary) -> None:
    log.info(
        "Capture lines: %d; skipped %d malformed, %d shadow, %d outside the window, %d undecodable; %d records",
        s.lines, s.bad_lines, s.shadow, s.outside_window, s.undecodable, s.records,
    )
    if s.bad_example is not None:
        log.warning("First malformed capture line: %s", s.bad_example.text)
    if s.undecodable_example is not None:
        log.warning("First undecodable capture record: %s: %s", s.undecodable_example.where, s.undecodable_example.reason)


def profile_capture(source: str, fmt: CaptureFormat, baseline_names: Sequence[str], start: datetime | None,
                    end: datetime | None, max_bad_fraction: float, options, threads: int | None = None):
    """Decode the capture in the window and profile its records (the local driver).

    Every file in the window's hours is decoded once and its records kept (an hour of traffic);
    the columns are laid out from the merged summary (the widest record, the JSON keys), then
    the records are tabulated and profiled in file and line order.
    """
    from analyzer.profile import Profiler, profile_batches  # the decoder itself does not need the profiler

    from .dataset import data_file_sizes, is_compressed, log_streaming
    from .progress import Progress

    sizes = data_file_sizes(source)
    all_files = list(sizes)
    files = files_in_window(all_files, start, end)
    log.info("Capture files: %d under %s, %d in the hours of the window", len(all_files), source, len(files))
    if not files:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)
    log_streaming(source, (sizes[f] for f in files))
    rules = CaptureRules.of(fmt, start, end, baseline_names)
    # The usual capture has the baseline's layout: its records are profiled in that layout as
    # they are decoded. Only when the records turn out wider, or keyed by other names, are the
    # kept records profiled again in the layout they have.
    assumed = tuple(LayoutColumn(name, i, True) for i, name in enumerate(baseline_names))
    summary, parts = CaptureSummary(), []
    with ThreadPoolExecutor(threads or os.cpu_count() or 2, thread_name_prefix="mmon-profile") as pool:
        early = Profiler([c.name for c in assumed], options) if assumed else None
        # The total is known when no file is compressed (the bytes counted are decompressed ones).
        compressed = any(is_compressed(f) for f in files)
        with Progress(None if compressed else sum(sizes[f] for f in files), "Decoding capture") as progress:
            for part_summary, records in iter_decoded(files, rules, threads=threads, progress=progress):
                summary = summary.merge(part_summary)
                progress.advance(rows=len(records))
                if len(records):
                    parts.append(records)
                    if early is not None:
                        early.update(tabulate(records, assumed), pool)
        log_summary(summary)
        check_summary(summary, source, start, end, max_bad_fraction)
        columns = layout(summary, baseline_names)
        extra = [c.name for c in columns if c.name not in set(baseline_names)]
        if extra:
            log.info("Capture columns beyond the baseline's features: %s", ", ".join(extra))
        position = {name: i for i, name in enumerate(baseline_names)}
        if early is not None and all(c.name in position and c.position in (None, position[c.name]) for c in columns):
            return early.result().only([c.name for c in columns])

        def batches() -> Iterator[pa.RecordBatch]:
            while parts:  # each part is released once profiled
                yield tabulate(parts.pop(0), columns)

        return profile_batches(batches(), [c.name for c in columns], options, pool)


def iso(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else "(open)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:300]
