"""The model-quality jobs (``analysis_type=MODEL_QUALITY``), as SageMaker's ModelQualityMonitor
runs them.

- Baseline: a labelled dataset (CSV with a header, or JSON Lines) whose columns
  ``inference_attribute`` / ``probability_attribute`` / ``ground_truth_attribute`` name -> the
  metrics (``statistics.json``) and constraints suggested from them (``constraints.json``).
- Monitoring: the ground-truth merge job's records (``sagemakerMergeJson``): the attributes
  index the endpoint's output (``"0"``: its first field; a key of a JSON output), the label is
  ``groundTruthData.data`` -> the current metrics and ``constraint_violations.json``.

The drivers only gather the three columns (locally by streaming the files, or on Spark with its
readers and the same record decoder on the executors); the metrics are computed over the
gathered columns by :mod:`analyzer.quality`. Merged records are decoded by the data-capture
payload rules (:func:`container.capture.payload_records`).
"""
from __future__ import annotations

import bisect
import dataclasses
import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import quality
from analyzer.errors import InputError
from analyzer.report import render_model_quality_html

from . import params
from .capture import MERGED_LINES, OUTPUT, check_bad_lines, files_in_window, instants, iso, object_lines, parse_time, payload_records, read_json_lines, read_lines
from .config import CsvFormat, JobConfig, JsonFormat, MergeFormat, ModelQualityParams
from .dataset import Dataset, list_data_files, open_stream, read_dataset
from .exit_message import completed
from .jobs import Drivers, JobResult, stage_report
from .metrics import metric_time, publish, record_maker
from .monitoring import load_baseline_file
from .outputs import ReportWriter

log = logging.getLogger(__name__)

ENDPOINT_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"
BATCH_NAMESPACE = "aws/sagemaker/ModelMonitoring/model-metrics"
_KEYS = ("truth", "predicted", "probability")


@dataclasses.dataclass
class Gathered:
    """The raw values of the three columns (text, numbers or None), record by record, and where
    each record came from (for error messages)."""

    truth: "pa.ChunkedArray | list"
    predicted: "pa.ChunkedArray | list | None"
    probability: "pa.ChunkedArray | list | None"
    where: Callable[[int], str]


def _attributes(mq: ModelQualityParams) -> dict[str, tuple[str, str]]:
    """key -> (parameter name, its value) for the columns the job reads."""
    wanted = {"truth": (params.GROUND_TRUTH_ATTRIBUTE, mq.ground_truth_attribute),
              "predicted": (params.INFERENCE_ATTRIBUTE, mq.inference_attribute),
              "probability": (params.PROBABILITY_ATTRIBUTE, mq.probability_attribute)}
    return {k: v for k, v in wanted.items() if v[1] is not None}


def labelled(mq: ModelQualityParams, gathered: Gathered, baseline: bool) -> quality.Labelled:
    names = _attributes(mq)
    # Merged records without ground_truth_attribute: the label is groundTruthData's (only) value.
    names.setdefault("truth", ("ground truth", "groundTruthData.data"))
    return quality.parse_columns(
        mq.problem_type, gathered.truth, gathered.predicted, gathered.probability,
        threshold=mq.probability_threshold, positive_label=mq.positive_label,
        names=names, where=gathered.where, baseline=baseline,
    )


# ------------------------------------------------------------------ baseline datasets
def _index(text: str) -> bool:
    """A position written in ASCII digits (``str.isdigit`` also takes ``"²"`` and ``"٢"``)."""
    return text.isascii() and text.isdigit()


def _column(dataset: Dataset, attribute: str, column: str) -> str:
    """The dataset column an attribute names: a header name, or a position (``"0"``) of a
    headerless CSV."""
    if column in dataset.names:
        return column
    if _index(column) and int(column) < len(dataset.names) and isinstance(dataset.fmt, CsvFormat) and not dataset.fmt.header:
        return dataset.names[int(column)]
    shown = ", ".join(dataset.names[:20]) + (", ..." if len(dataset.names) > 20 else "")
    raise InputError("MODEL_QUALITY_COLUMN_MISSING", attribute=attribute, column=column, source=dataset.source, columns=shown)


def _row_locator(files: list[str], ends: list[int]) -> Callable[[int], str]:
    """record index -> "file, row k" (rows counted from 1 in each file, the header not counted)."""

    def where(i: int) -> str:
        f = bisect.bisect_right(ends, i)
        first = ends[f - 1] if f else 0
        return f"{files[f]}, row {i - first + 1}"

    return where


def _flat(type_: pa.DataType) -> bool:
    return pa.types.is_string(type_) or pa.types.is_large_string(type_) or pa.types.is_integer(type_) \
        or pa.types.is_floating(type_) or pa.types.is_boolean(type_) or pa.types.is_null(type_)


def _column_values(chunks: list):
    """One gathered column: Arrow (a few bytes a value) when every batch has one flat type,
    else Python values (JSON Lines whose values change type, or hold arrays or objects)."""
    types = {c.type for c in chunks if not pa.types.is_null(c.type)}
    if len(types) <= 1 and all(_flat(t) for t in types):
        typ = next(iter(types), pa.string())
        return pa.chunked_array([c.cast(typ) if pa.types.is_null(c.type) else c for c in chunks], type=typ)
    return [v for c in chunks for v in c.to_pylist()]


def gather_dataset(dataset: Dataset, mq: ModelQualityParams) -> Gathered:
    """The local driver: the files streamed batch by batch, only the named columns kept."""
    columns = {key: _column(dataset, attribute, column) for key, (attribute, column) in _attributes(mq).items()}
    chunks: dict[str, list] = {key: [] for key in columns}
    ends: list[int] = []
    rows = 0
    for path in dataset.files:
        for batch in dataclasses.replace(dataset, files=(path,)).batches():
            if batch.malformed_rows and isinstance(dataset.fmt, JsonFormat):  # CSV: ragged rows, values missing
                raise _not_json_objects(path, dataset.fmt, batch.malformed_rows)
            for key, name in columns.items():
                index = batch.data.schema.get_field_index(name)
                chunks[key].append(batch.data.column(index) if index >= 0 else pa.nulls(batch.data.num_rows))
            rows += batch.data.num_rows
        ends.append(rows)
    values = {key: _column_values(c) for key, c in chunks.items()}
    return Gathered(values.get("truth", []), values.get("predicted"), values.get("probability"),
                    _row_locator(list(dataset.files), ends))


def _not_json_objects(path: str, fmt: JsonFormat, count: int) -> InputError:
    """A JSON dataset with records that are not objects: the JSON reader skips them, and a
    model-quality job must not compute its metrics without them. Names the first such line."""
    if not fmt.lines:
        return InputError("DATASET_UNREADABLE", what=f"JSON file {path}",
                          reason=f"{count} of its records are not JSON objects (a record must be an object)")
    first = _first_non_object_line(path)
    where = f"line {first[0]} is not a JSON object ({_clip(first[1])!r})" if first else f"{count} lines are not JSON objects"
    if first and "\ufffd" in first[1]:
        where += " (bytes that are not UTF-8 are shown as \ufffd)"
    return InputError("DATASET_UNREADABLE", what=f"JSON Lines file {path}",
                      reason=f"{where}; every line must be one record, an object")


def _first_non_object_line(path: str) -> tuple[int, str] | None:
    """(line number, text) of the first non-blank line that is not a JSON object (read again,
    only when a job fails on it)."""
    stream, _ = open_stream(path)
    number, pending = 0, b""
    with stream:
        while True:
            chunk = stream.read(1 << 22)
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop() if chunk else b""
            for line in lines:
                number += 1
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except (ValueError, RecursionError):
                    doc = None
                if not isinstance(doc, dict):
                    return number, line.decode("utf-8", "replace")
            if not chunk:
                return None


def _clip(text: str, limit: int = 80) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "..."


def gather_dataset_on_spark(spark, dataset: Dataset, mq: ModelQualityParams) -> Gathered:
    """Spark's reader for the dataset, the named columns collected in partition order."""
    from .spark import frame

    columns = {key: _column(dataset, attribute, column) for key, (attribute, column) in _attributes(mq).items()}
    df, _ = frame(spark, dataset)
    missing = [c for c in columns.values() if c not in df.columns]
    table = df.select(*[f"`{c}`" for c in columns.values() if c in df.columns]).toArrow()
    values = {key: (_column_values(table.column(name).chunks) if name not in missing
                    else pa.nulls(table.num_rows, pa.string())) for key, name in columns.items()}
    log.info("Collected %d records of %d columns from Spark", table.num_rows, len(columns))
    return Gathered(values.get("truth", []), values.get("predicted"), values.get("probability"),
                    lambda i: f"{dataset.source}, record {i + 1}")


# ------------------------------------------------------------------ merged records
class BadRecord(ValueError):
    """A merged line that cannot be used; the message says why."""


def _path(value, steps: list[str]):
    """A value inside parsed JSON by keys and list positions (``SageMakerOutput.score``)."""
    for step in steps:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and _index(step) and int(step) < len(value):
            value = value[int(step)]
        else:
            return _MISSING
    return value


_MISSING = object()


def _field(fields: tuple, keys: dict | None, attribute: str, name: str):
    if keys is not None:  # a JSON object: the attribute is a key, a dotted path, or a position
        if attribute in keys:
            return keys[attribute]
        head, _, rest = attribute.partition(".")
        if rest and head in keys and keys[head] is not None:
            try:
                found = _path(json.loads(keys[head]), rest.split("."))
            except (ValueError, RecursionError):
                found = _MISSING
            if found is not _MISSING:
                return found if found is None or isinstance(found, str) else json.dumps(found)
        if _index(attribute) and int(attribute) < len(keys):
            return list(keys.values())[int(attribute)]
        raise BadRecord(f"{name} {attribute!r} is not a key of the endpoint output ({', '.join(list(keys)[:10])})")
    if not _index(attribute):
        raise BadRecord(f"{name} {attribute!r} must be the index of a field of the endpoint's CSV output")
    if int(attribute) >= len(fields):
        raise BadRecord(f"{name} {attribute!r} is past the {len(fields)} field(s) of the endpoint output")
    return fields[int(attribute)]


def _label(fields: tuple, keys: dict | None, attribute: str | None):
    if keys is not None:
        if attribute is not None:  # named: that key and no other
            if attribute in keys:
                return keys[attribute]
            raise BadRecord(f"{params.GROUND_TRUTH_ATTRIBUTE} {attribute!r} is not a key of groundTruthData "
                            f"({', '.join(list(keys)[:10])})")
        if len(keys) == 1:
            return next(iter(keys.values()))
        raise BadRecord(f"groundTruthData has keys {', '.join(list(keys)[:10])}: set ground_truth_attribute to the label's key")
    return fields[0] if fields else None


def merged_rows(text: str, sides: tuple[str, ...], mq: ModelQualityParams, start: datetime | None,
                end: datetime | None) -> list[tuple] | None:
    """One merged line -> its (truth, predicted, probability) rows; None when it lies outside the
    window; BadRecord when it cannot be used."""
    try:
        record = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's parser goes
        raise BadRecord("not JSON") from None
    if not isinstance(record, dict):
        raise BadRecord("not a JSON object")
    meta = record.get("eventMetadata") if isinstance(record.get("eventMetadata"), dict) else {}
    if start is not None or end is not None:
        when = parse_time(meta.get("inferenceTime")) if isinstance(meta.get("inferenceTime"), str) else None
        if when is None:
            raise BadRecord("eventMetadata.inferenceTime is missing or not an ISO-8601 time")
        if (start is not None and when < start) or (end is not None and when >= end):
            return None
    truth = record.get("groundTruthData")
    if not isinstance(truth, dict) or not isinstance(truth.get("data"), str):
        raise BadRecord("no groundTruthData.data (is this a record of the ground-truth merge job?)")
    capture = record.get("captureData") if isinstance(record.get("captureData"), dict) else {}
    names = [s for s in (*sides, "batchTransformOutput") if s != "endpointInput"]  # batch records: their output
    side = next((capture[s] for s in names if isinstance(capture.get(s), dict)), None)
    if side is None or not isinstance(side.get("data"), str):
        raise BadRecord(f"no captureData.{names[0]}.data")
    for where, obj in (("groundTruthData", truth), ("the endpoint output", side)):
        if obj.get("encoding") is not None and not isinstance(obj["encoding"], str):
            raise BadRecord(f"encoding of {where} is {_json_type(obj['encoding'])}, not a string")
    # A content type that is not text is no content type (CSV is read without one, as by columns).
    content_type = side.get("observedContentType") if isinstance(side.get("observedContentType"), str) else None
    try:
        outputs = payload_records(side["data"], side.get("encoding"), content_type)
        kind = (truth.get("encoding") or "CSV").upper()
        labels = payload_records(truth["data"], kind, "application/json" if kind == "JSON" else "text/csv")
    except ValueError as exc:
        raise BadRecord(str(exc)) from None
    if len(outputs) != len(labels):
        raise BadRecord(f"the endpoint output holds {len(outputs)} records but groundTruthData {len(labels)} labels")
    rows = []
    for (fields, keys), (label_fields, label_keys) in zip(outputs, labels):
        predicted = _field(fields, keys, mq.inference_attribute, params.INFERENCE_ATTRIBUTE) if mq.inference_attribute else None
        probability = _field(fields, keys, mq.probability_attribute, params.PROBABILITY_ATTRIBUTE) if mq.probability_attribute else None
        rows.append((_label(label_fields, label_keys, mq.ground_truth_attribute), predicted, probability))
    return rows


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, (int, float)) else "an array" if isinstance(value, list) else "an object"


_SIDE = pa.struct([("data", pa.string()), ("encoding", pa.string())])
_OUTPUT_SIDES = (OUTPUT, "batchTransformOutput")
_MERGED_JSON = pa.schema([
    ("groundTruthData", _SIDE),
    ("captureData", pa.struct([(name, _SIDE) for name in _OUTPUT_SIDES])),
    ("eventMetadata", pa.struct([("inferenceTime", pa.string())])),
])
_PLAIN_CSV = r"^[^\"\r\n]*[^\"\r\n \t][^\"\r\n]*\r?\n?$"  # one record, no quotes, not blank


@dataclasses.dataclass
class MergedChunk:
    """A chunk of merged lines decoded: the rows of the lines read by columns (one each) and the
    lines left to :func:`merged_rows` (``slow``, indices into the chunk), in line order."""

    lines: int  # non-blank lines
    fast: np.ndarray  # indices of the lines decoded by columns
    columns: dict[str, pa.Array]  # truth / predicted / probability of those lines
    slow: np.ndarray  # indices of the other non-blank lines (outside the window: in neither)


def decode_merged(lines: pa.StringArray, sides: tuple[str, ...], mq: ModelQualityParams, start: datetime | None,
                  end: datetime | None) -> MergedChunk:
    """The common merged line (CSV output and label, one record each, no quotes) decoded by
    pyarrow's JSON reader and string kernels; every other line is left to :func:`merged_rows`,
    whose rules these are (the tests feed both the same lines)."""
    blank, objects = object_lines(lines)
    candidates = np.flatnonzero(objects)
    nonblank = np.flatnonzero(~blank)
    empty = MergedChunk(len(nonblank), np.zeros(0, np.int64), {}, nonblank)
    attributes = [a for a in (mq.inference_attribute, mq.probability_attribute) if a is not None]
    names = [s for s in (*sides, "batchTransformOutput") if s != "endpointInput" and s in _OUTPUT_SIDES]
    if not len(candidates) or not names or not all(_index(a) for a in attributes):
        return empty
    table = read_json_lines(lines.take(pa.array(candidates)) if len(candidates) < len(lines) else lines, _MERGED_JSON)
    if table is None:
        return empty
    ok = np.ones(len(candidates), bool)
    outside = np.zeros(len(candidates), bool)
    if start is not None or end is not None:
        micros, readable = instants(pc.struct_field(table.column("eventMetadata").combine_chunks(), "inferenceTime"))
        ok &= readable
        if start is not None:
            outside |= readable & (micros < _micros(start))
        if end is not None:
            outside |= readable & (micros >= _micros(end))
    truth = table.column("groundTruthData").combine_chunks()
    capture = table.column("captureData").combine_chunks()
    # The first output side present as an object, as merged_rows picks it.
    side = pc.struct_field(capture, names[0])
    for name in names[1:]:
        side = pc.if_else(pc.is_valid(side), side, pc.struct_field(capture, name))
    data, encoding = pc.struct_field(side, "data"), pc.struct_field(side, "encoding")
    label, label_encoding = pc.struct_field(truth, "data"), pc.struct_field(truth, "encoding")
    plain = pc.and_(pc.match_substring_regex(data, _PLAIN_CSV), pc.equal(pc.utf8_upper(encoding), "CSV"))
    plain = pc.and_(plain, pc.match_substring_regex(label, _PLAIN_CSV))
    plain = pc.and_(plain, pc.or_(pc.is_null(label_encoding), pc.equal(pc.utf8_upper(label_encoding), "CSV")))
    fields = pc.split_pattern(pc.utf8_rtrim(pc.fill_null(data, ""), "\r\n"), ",")
    width = pc.list_value_length(fields).to_numpy(zero_copy_only=False)
    ok &= pc.fill_null(plain, False).to_numpy(zero_copy_only=False)
    if attributes:
        ok &= width > max(int(a) for a in attributes)
    fast = ok & ~outside
    take = pa.array(np.flatnonzero(fast))

    def field(attribute: str | None):
        if attribute is None:
            return pa.nulls(len(take), pa.string())
        values = pc.list_element(fields.take(take), int(attribute))
        return pc.if_else(pc.equal(values, ""), None, values)

    first = pc.list_element(pc.split_pattern(pc.utf8_rtrim(label.take(take), "\r\n"), ","), 0)
    columns = {"truth": pc.if_else(pc.equal(first, ""), None, first),
               "predicted": field(mq.inference_attribute), "probability": field(mq.probability_attribute)}
    slow = np.sort(np.concatenate([np.flatnonzero(~blank & ~objects), candidates[~ok & ~outside]]))
    return MergedChunk(len(nonblank), candidates[fast], columns, slow)


def _micros(when: datetime) -> int:
    return (when - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)


def _slow_rows(lines: pa.StringArray, chunk: MergedChunk, decode, on_bad) -> dict[int, list[tuple]]:
    """The lines :func:`decode_merged` left, decoded one by one: {line index: rows}."""
    found: dict[int, list[tuple]] = {}
    texts = lines.take(pa.array(chunk.slow)).to_pylist() if len(chunk.slow) else []
    for i, text in zip(chunk.slow.tolist(), texts):
        try:
            rows = decode(text)
        except BadRecord as exc:
            on_bad(i, str(exc))
            continue
        if rows:
            found[i] = rows
    return found


def _in_line_order(chunk: MergedChunk, slow: dict[int, list[tuple]]) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Rows of the fast and the slow lines together, in line order: (columns, line of each row)."""
    if not slow:
        return chunk.columns, chunk.fast
    by_line = dict(zip(chunk.fast.tolist(), zip(*(chunk.columns[k].to_pylist() for k in _KEYS)))) if chunk.columns else {}
    rows = [(i, row) for i, row in by_line.items()] + [(i, row) for i, found in slow.items() for row in found]
    rows.sort(key=lambda item: item[0])  # stable: a line's several rows keep their order
    columns = {k: pa.array([None if row[j] is None else str(row[j]) for _, row in rows], pa.string())
               for j, k in enumerate(_KEYS)}
    return columns, np.array([i for i, _ in rows], np.int64)


def gather_merged(config: JobConfig) -> Gathered:
    """The local driver: every merged file (hour folders outside the window skipped), in chunks."""
    mq, fmt, start, end = config.model_quality, config.dataset_format, config.start_time, config.end_time
    files = files_in_window(list_data_files(config.dataset_source), start, end)
    parts: list[dict[str, pa.Array]] = []
    file_of, line_of = [], []
    total = bad = 0
    first_bad: list[str] = []

    def decode(text: str):
        return merged_rows(text, fmt.capture_index_names, mq, start, end)

    for file_index, path in enumerate(files):
        for lines in read_lines(path, what="merged-records file"):
            chunk = decode_merged(lines.lines, fmt.capture_index_names, mq, start, end)
            total += chunk.lines

            def on_bad(i: int, reason: str) -> None:
                nonlocal bad
                bad += 1
                if not first_bad:
                    first_bad.append(f"{path} line {lines.first_line + i}: {reason}")

            columns, rows_lines = _in_line_order(chunk, _slow_rows(lines.lines, chunk, decode, on_bad))
            parts.append(columns)
            file_of.append(np.full(len(rows_lines), file_index, np.int32))
            line_of.append(rows_lines + lines.first_line)
    example = first_bad[0] if first_bad else None
    check_bad_lines(bad, total, config.capture_max_bad_fraction, example or "?", MERGED_LINES)
    if bad:
        log.warning("Skipped %d of %d merged records that could not be used; first: %s", bad, total, example)
    files_at, lines_at = (np.concatenate(a) if a else np.zeros(0, np.int64) for a in (file_of, line_of))
    if not len(lines_at):
        _no_merged_records(config, total, len(files))
    return _gathered(mq, parts, lambda i: f"{files[files_at[i]]} line {lines_at[i]}")


def _no_merged_records(config: JobConfig, lines: int, files: int):
    raise InputError("NO_MERGED_RECORDS", start=iso(config.start_time), end=iso(config.end_time),
                     source=config.dataset_source, detail=f" ({lines} lines in {files} files)")


def _gathered(mq: ModelQualityParams, parts: list[dict[str, pa.Array]], where: Callable[[int], str]) -> Gathered:
    def column(key: str) -> pa.ChunkedArray:
        return pa.chunked_array([p[key] for p in parts if key in p], pa.string())

    return Gathered(column("truth"), column("predicted") if mq.inference_attribute else None,
                    column("probability") if mq.probability_attribute else None, where)


def _merged_partition(batches, sides, mq, start, end):
    """Spark's mapInArrow body: lines (with their file) -> record rows (``bad`` null), one row a
    bad line (``bad`` its reason) and one row counting the batch's lines (``bad`` empty)."""
    for batch in batches:
        lines, files = batch.column(0), batch.column(1)
        chunk = decode_merged(lines, sides, mq, start, end)
        bad_lines: list[tuple[int, str]] = []
        slow = _slow_rows(lines, chunk, lambda text: merged_rows(text, sides, mq, start, end),
                          lambda i, reason: bad_lines.append((i, reason)))
        columns, row_lines = _in_line_order(chunk, slow)
        n, extra = len(row_lines), len(bad_lines) + 1
        out = {key: pa.concat_arrays([columns[key] if key in columns else pa.nulls(n, pa.string()),
                                      pa.nulls(extra, pa.string())]) for key in _KEYS}
        out["file"] = pa.concat_arrays([files.take(pa.array(row_lines, pa.int64())).cast(pa.string()),
                                        files.take(pa.array([i for i, _ in bad_lines] + [0], pa.int64())).cast(pa.string())])
        out["bad"] = pa.array([None] * n + [reason for _, reason in bad_lines] + [""], pa.string())
        out["lines"] = pa.array([0] * (n + extra - 1) + [chunk.lines], pa.int64())
        yield pa.RecordBatch.from_pydict(out, schema=_MERGED_SCHEMA)


_MERGED_SCHEMA = pa.schema([*((name, pa.string()) for name in (*_KEYS, "file", "bad")), ("lines", pa.int64())])
_MERGED_DDL = "truth string, predicted string, probability string, file string, bad string, lines long"


def gather_merged_on_spark(spark, config: JobConfig) -> Gathered:
    """Spark reads the merged lines; the executors decode them (:func:`decode_merged`)."""
    import functools

    from pyspark.sql import functions as F

    from .spark import ship_engine

    mq, fmt = config.model_quality, config.dataset_format
    files = files_in_window(list_data_files(config.dataset_source), config.start_time, config.end_time)
    if not files:
        _no_merged_records(config, 0, 0)
    ship_engine(spark)
    lines = spark.read.text(files).select("value", F.input_file_name().alias("file"))
    body = functools.partial(_merged_partition, sides=fmt.capture_index_names, mq=mq, start=config.start_time, end=config.end_time)
    table = lines.mapInArrow(body, _MERGED_DDL).toArrow()
    bad_column = table.column("bad")
    total = int(pc.sum(table.column("lines")).as_py() or 0)
    is_bad = pc.fill_null(pc.not_equal(bad_column, ""), False)
    bad = int(pc.sum(is_bad).as_py() or 0)
    first = int(np.argmax(is_bad.to_numpy(zero_copy_only=False))) if bad else None
    example = f"{table.column('file')[first].as_py()}: {bad_column[first].as_py()}" if bad else None
    check_bad_lines(bad, total, config.capture_max_bad_fraction, example or "?", MERGED_LINES)
    records = table.filter(pc.is_null(bad_column))
    if not records.num_rows:
        _no_merged_records(config, total, len(files))
    names = records.column("file")
    return _gathered(mq, [{k: records.column(k).combine_chunks() for k in _KEYS}], lambda i: f"{names[i].as_py()}")


# ------------------------------------------------------------------ the jobs
def _evaluation_time(config: JobConfig) -> str:
    """When the metrics were computed: a monitoring run's window (metric_time, else end_time),
    so that a rerun of the same window writes the same file; otherwise now."""
    when = config.metric_time or config.end_time or datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _statistics(config: JobConfig, data: quality.Labelled) -> dict:
    doc = quality.compute_metrics(data)
    doc["dataset"] = {**doc["dataset"], "evaluation_time": _evaluation_time(config)}
    return doc


def _gather_dataset(drivers: Drivers, config: JobConfig) -> Gathered:
    """The named columns of a labelled CSV / JSON Lines dataset, by the job's driver."""
    dataset = read_dataset(config.dataset_source, config.dataset_format)
    if config.spark_master:
        return gather_dataset_on_spark(drivers.spark, dataset, config.model_quality)
    return gather_dataset(dataset, config.model_quality)


def run_model_quality_baseline(drivers: Drivers, config: JobConfig, writer: ReportWriter) -> JobResult:
    fmt = config.dataset_format
    if not isinstance(fmt, (CsvFormat, JsonFormat)):
        raise InputError("DATASET_FORMAT_UNSUPPORTED", name=type(fmt).__name__.removesuffix("Format").lower(),
                         supported="csv (with a header), json (lines) for a model-quality baseline")
    mq = config.model_quality
    gathered = _gather_dataset(drivers, config)
    if not len(gathered.truth):
        raise InputError("DATASET_EMPTY", source=config.dataset_source, detail="")
    statistics = _statistics(config, labelled(mq, gathered, baseline=True))
    log.info("Model-quality baseline of %d records (%s)", statistics["dataset"]["item_count"], mq.problem_type)
    constraints = quality.suggest_constraints(statistics)
    writer.stage(params.STATISTICS_FILE, statistics)
    writer.stage(params.CONSTRAINTS_FILE, constraints)
    stage_report(writer, config, statistics, render=render_model_quality_html, constraints=constraints,
                 title="Model quality baseline report")
    return JobResult(0, tuple(writer.commit()))


def _json_object(doc) -> dict:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def metric_records(statistics: dict, config: JobConfig) -> list[dict]:
    """CloudWatch records: one per scalar metric (curves and the confusion matrix are not
    metrics), named as the statistics' keys, as SageMaker's model-quality metrics are."""
    record = record_maker(metric_time(config), config.endpoint_name, config.schedule_name)
    section = next(v for k, v in statistics.items() if k.endswith("_metrics"))
    return [record(name, Value=float(metric["value"]), Unit="None") for name, metric in section.items()
            if isinstance(metric, dict) and isinstance(metric.get("value"), (int, float))]


def run_model_quality_monitoring(drivers: Drivers, config: JobConfig, writer: ReportWriter) -> JobResult:
    if config.baseline_constraints is None:
        raise InputError("ENV_MISSING", name=params.BASELINE_CONSTRAINTS)
    constraints = load_baseline_file(config.baseline_constraints, "constraints", _json_object)
    mq = config.model_quality
    if isinstance(config.dataset_format, MergeFormat):
        gathered = gather_merged_on_spark(drivers.spark, config) if config.spark_master else gather_merged(config)
    elif isinstance(config.dataset_format, (CsvFormat, JsonFormat)):  # a labelled dataset, as for a baseline
        if mq.ground_truth_attribute is None:
            raise InputError("ENV_MISSING", name=params.GROUND_TRUTH_ATTRIBUTE)
        gathered = _gather_dataset(drivers, config)
    else:
        raise InputError("DATASET_FORMAT_UNSUPPORTED", name=type(config.dataset_format).__name__.removesuffix("Format"),
                         supported="sagemakerMergeJson (the ground-truth merge job's records), csv, json")
    if not len(gathered.truth):
        raise InputError("DATASET_EMPTY", source=config.dataset_source, detail=" in the analysis window")
    statistics = _statistics(config, labelled(mq, gathered, baseline=False))
    try:
        violations = quality.check(statistics, constraints)
    except ValueError as exc:
        raise InputError("BASELINE_INVALID", which="constraints", path=config.baseline_constraints, reason=str(exc)) from None
    for v in violations:
        log.info("Violation: %s", v.description)
    violations_doc = quality.violations_document(violations)
    writer.stage(params.STATISTICS_FILE, statistics)
    writer.stage(params.VIOLATIONS_FILE, violations_doc)
    stage_report(writer, config, statistics, render=render_model_quality_html, constraints=constraints,
                 violations=violations_doc, message=completed(len(violations)), title="Model quality monitoring report")
    if config.publish_cloudwatch_metrics:
        publish(metric_records(statistics, config), config, ENDPOINT_NAMESPACE, BATCH_NAMESPACE)
    return JobResult(len(violations), tuple(writer.commit()))
