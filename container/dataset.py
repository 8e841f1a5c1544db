"""Datasets as streams of Arrow record batches: CSV, JSON (Lines or documents), Parquet.

``read_dataset(source, fmt)`` lists the files and the columns; ``Dataset.batches()`` streams
them with pyarrow (bounded memory: one block per file at a time); ``Dataset.profile()`` is the
local driver: the batches profiled column by column on a thread pool, in file order, so that the
same files give the same report.

CSV is read as Spark's CSV reader (what SageMaker's analyzer uses) reads it: every column as
text; each file's first non-blank line dropped when there is a header; blank lines (nothing
left after Java's trim) skipped; an empty field is a missing value; a row with another number
of fields than the header is malformed (counted; missing fields are missing values, extra
fields are dropped); bytes that are not UTF-8 make that value missing (counted).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import lzma
import os
import queue
import threading
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from analyzer import DatasetProfile, ProfileOptions
from analyzer.errors import InputError
from analyzer.profile import Profiler
from analyzer.states import utf8_text

from . import storage
from .config import CsvFormat, JsonFormat, ParquetFormat
from .progress import Progress

log = logging.getLogger(__name__)

BLOCK_SIZE = 4 << 20  # bytes of CSV / JSON per record batch
MAX_BLOCK_SIZE = 256 << 20  # a CSV row longer than a block is read with blocks up to this size
MAX_COLUMNS = 20480  # Spark's CSV reader (maxColumns) refuses records with more fields
MAX_JSON_DEPTH = 200  # JSON records nested deeper are malformed (pyarrow's and Python's parsers recurse)
MAX_JSON_PARSER_DEPTH = 2000  # lines that may nest deeper are not given to pyarrow's parser (it crashes near 10,000)
PARQUET_BATCH_ROWS = 128 * 1024

_JAVA_WHITESPACE = "".join(map(chr, range(33)))
_UNREADABLE = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)  # what reading a damaged file raises
_UNSUPPORTED_COMPRESSION = {".deflate", ".lz4", ".snappy", ".lzo", ".br"}


@dataclass(frozen=True)
class Batch:
    """A record batch and what its reader noticed: malformed rows, undecodable values."""

    data: pa.RecordBatch
    malformed_rows: int = 0
    undecodable_values: int = 0


@dataclass(frozen=True)
class Dataset:
    """Files of one format and the column names they are read under."""

    source: str
    files: tuple[str, ...]
    fmt: object
    names: tuple[str, ...]
    sizes: tuple[int, ...] | None = None  # bytes of each file, from the listing (S3 objects have no local size)

    @property
    def total_bytes(self) -> int:
        if self.sizes is not None:
            return sum(self.sizes)
        return sum(os.path.getsize(f) for f in self.files)

    def renamed(self, names: "list[str] | tuple[str, ...]") -> "Dataset":
        """Columns named after ``names`` by position (the rest keep theirs)."""
        new = tuple(names[i] if i < len(names) else c for i, c in enumerate(self.names))
        return dataclasses.replace(self, names=new)

    def batches(self, progress: Progress | None = None) -> Iterator[Batch]:
        for path in self.files:
            if isinstance(self.fmt, CsvFormat):
                yield from _csv_batches(path, self.fmt, list(self.names), progress)
            elif isinstance(self.fmt, JsonFormat):
                yield from _json_batches(path, self.fmt, progress)
            else:
                yield from _parquet_batches(path, self.names, progress)

    def profile(self, options: ProfileOptions = ProfileOptions(), threads: int | None = None) -> DatasetProfile:
        """The local driver: every batch profiled in order, columns in parallel on ``threads``
        threads, while a reader thread parses the next batches."""
        use_system_allocator()
        log.info("Profiling %d columns of %s (%s in %d files)", len(self.names), self.source,
                 _megabytes(self.total_bytes), len(self.files))
        profiler = Profiler(self.names, options)
        with Progress(self.total_bytes, f"Profiling {self.source}") as progress, \
                ThreadPoolExecutor(threads or os.cpu_count() or 2, thread_name_prefix="mmon-profile") as pool:
            for batch in read_ahead(self.batches(progress)):
                profiler.update(batch.data, pool, batch.malformed_rows, batch.undecodable_values)
                progress.advance(rows=batch.data.num_rows)
        return profiler.result()


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def use_system_allocator() -> None:
    """Arrow's buffers from the C library's allocator: the profile allocates and frees a few
    arrays per column and batch, which pyarrow's default (mimalloc) returned to the kernel and
    faulted in again (about 0.6 s of system time on a 2 M-row CSV; measured)."""
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def read_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """``items``, produced by a thread of their own up to ``depth`` ahead of the consumer (an
    exception in the producer is raised in the consumer, in order). Memory: ``depth`` batches."""
    done = object()
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slots.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put((done, None))
        except BaseException as exc:  # handed to the consumer
            slots.put((done, exc))

    producer = threading.Thread(target=produce, name="mmon-read", daemon=True)
    producer.start()
    try:
        while True:
            item, error = slots.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        while producer.is_alive():  # let the producer see the stop and leave
            try:
                slots.get(timeout=0.1)
            except queue.Empty:
                pass


# ------------------------------------------------------------------ files
def list_data_files(source: str) -> list[str]:
    """A file, or every data file under a directory (recursively, following symbolic links),
    sorted; hidden files (``.name``), Spark/Hadoop markers (``_SUCCESS``) and checksum files are
    skipped. ``source`` may be an ``s3://bucket/prefix`` URI (an object, or the objects under the
    prefix as a folder): the files are then ``s3://`` URIs, read by streaming them."""
    return list(data_file_sizes(source))


def _skipped(rel: str) -> bool:
    """Hidden parts (``.name``), Spark/Hadoop markers (``_SUCCESS``, ``_temporary/``), checksums."""
    return any(part.startswith((".", "_")) for part in rel.split("/")) or Path(rel).suffix == ".crc"


def data_file_sizes(source: str) -> dict[str, int]:
    """``list_data_files`` with each file's size in bytes (from the listing for S3)."""
    if storage.is_s3(source):
        found = storage.list_objects(source, _skipped)
        if found is None:
            raise InputError("DATASET_SOURCE_MISSING", source=source)
    else:
        root = Path(source)
        if not root.exists():
            raise InputError("DATASET_SOURCE_MISSING", source=source)
        if root.is_file():
            return {str(root): root.stat().st_size}
        found = {str(path): size for path, size in sorted(_walk(root))}
    if not found:
        raise InputError("DATASET_NO_FILES", source=source)
    return found


def _walk(root: Path) -> Iterator[tuple[Path, int]]:
    """Files under ``root`` (not hidden, not markers, not checksums) and their sizes. Symbolic
    links to folders are followed (``Path.rglob`` does not), except a link back to a folder it
    is already inside (a loop)."""
    stack = [(root, frozenset({_identity(root)}))]
    while stack:
        folder, inside = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith((".", "_")):
                    continue
                try:
                    if entry.is_dir():
                        identity = _identity(Path(entry.path))
                        if identity in inside:
                            log.warning("Skipping %s: a link to a folder that holds it", entry.path)
                        else:
                            stack.append((Path(entry.path), inside | {identity}))
                    elif entry.is_file() and Path(entry.name).suffix != ".crc":
                        yield Path(entry.path), entry.stat().st_size
                except OSError:  # a link to nothing (or a file removed meanwhile): not a data file
                    continue


def _identity(folder: Path) -> tuple[int, int]:
    info = folder.stat()
    return info.st_dev, info.st_ino


def log_streaming(source: str, sizes) -> None:
    """Say once what a job reads from S3 (nothing is copied to disk first)."""
    if storage.is_s3(source):
        sizes = list(sizes)
        log.info("Reading %d objects (%.1f MB) from %s", len(sizes), sum(sizes) / 1e6, source)


_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def open_stream(path: str):
    """(stream of the file's decompressed bytes, the raw file whose position is the bytes read
    from disk, or from S3). Compression by suffix: gz, bz2 and zstd through pyarrow, xz through
    Python. An ``s3://`` object is streamed from its GET, never written to disk."""
    suffix = Path(path).suffix.lower()
    if suffix in _UNSUPPORTED_COMPRESSION:
        raise InputError("DATASET_UNREADABLE", what=f"file {path}", reason=f"{suffix} compression is not supported (gz, bz2, zst, xz are)")
    if storage.is_s3(path):
        raw = pa.PythonFile(storage.open_object(path), mode="r")
    else:
        try:
            raw = pa.OSFile(path)
        except OSError as exc:
            raise _unreadable(path, exc) from None
    if suffix == ".xz":
        return lzma.LZMAFile(raw), raw
    codec = _CODECS.get(suffix)
    return (pa.CompressedInputStream(raw, codec) if codec else raw), raw


def is_compressed(path: str) -> bool:
    """Whether :func:`open_stream` decompresses the file (its size is not its bytes' count)."""
    return Path(path).suffix.lower() in _CODECS or Path(path).suffix.lower() == ".xz"


def _unreadable(path: str, exc: BaseException) -> InputError:
    return InputError("DATASET_UNREADABLE", what=f"file {path}", reason=_first_line(exc))


def _is_blank(line: bytes) -> bool:
    """What Spark skips: a line that Java's trim() leaves empty."""
    return not line.decode("utf-8", "replace").strip(_JAVA_WHITESPACE)


def _line_end(data: bytes, more: bool) -> int:
    """The index of the last byte of the first line break in ``data`` (``\n``, ``\r\n`` or a
    lone ``\r``, as pyarrow's CSV reader and Hadoop's line reader end lines); -1 when there is
    none yet (or a ``\r`` ends the data and ``more`` may bring its ``\n``)."""
    lf, cr = data.find(b"\n"), data.find(b"\r")
    if cr < 0 or 0 <= lf < cr:
        return lf
    if cr + 1 < len(data):
        return cr + 1 if data[cr + 1 : cr + 2] == b"\n" else cr
    return -1 if more else cr


def _first_nonblank_line(path: str) -> tuple[bytes | None, int]:
    """The first non-blank line of a file and the number of (decompressed) bytes up to its end."""
    stream, _ = open_stream(path)
    consumed, pending = 0, b""
    try:
        with stream:
            while True:
                chunk = stream.read(1 << 16)
                pending += chunk
                while True:
                    end = _line_end(pending, bool(chunk))
                    if end < 0:
                        break
                    line, pending = pending[: end + 1], pending[end + 1 :]
                    consumed += len(line)
                    if not _is_blank(line):
                        return line, consumed
                if not chunk:
                    return (pending, consumed + len(pending)) if pending and not _is_blank(pending) else (None, 0)
    except _UNREADABLE + (pa.ArrowException,) as exc:
        raise _unreadable(path, exc) from None


# ------------------------------------------------------------------ CSV
def csv_columns(files: list[str], fmt: CsvFormat) -> list[str]:
    """Column names as Spark's CSV reader makes them: from the first non-blank line of the first
    file that has one (the header, or for headerless data the field count: ``_c0``, ``_c1``...).
    An empty header name becomes ``_c<index>``, and names repeated case-insensitively get their
    index appended. [] means the data has no line at all."""
    for path in files:
        line, _ = _first_nonblank_line(path)
        if line is None:
            continue
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text.startswith("\ufeff"):
            text = text[1:]
        fields = _split_line(text, fmt)
        if len(fields) > MAX_COLUMNS:
            raise InputError("DATASET_TOO_WIDE", file=path, columns=len(fields), limit=MAX_COLUMNS)
        if not fmt.header:
            return [f"_c{i}" for i in range(len(fields))]
        names = _header_names(fields)
        _check_unique(names, f"the header of CSV file {path}")
        _check_headers(files[files.index(path) + 1 :], fmt, path, names)
        return names
    return []


def _header_names(fields: list[str]) -> list[str]:
    lowered = Counter(f.lower() for f in fields if f)
    return [
        f"_c{i}" if not name else (f"{name}{i}" if lowered[name.lower()] > 1 else name)
        for i, name in enumerate(fields)
    ]


def _check_unique(names: list[str], what: str) -> None:
    """Columns must have distinct names (Spark's reader refuses a schema with a name twice)."""
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise InputError("DATASET_UNREADABLE", what=what, reason=(
                f"columns {seen[name] + 1} and {i + 1} are both named {name!r} (an empty name becomes _c<index>, "
                "a repeated one gets its index appended); rename one of them"))
        seen[name] = i


def _check_headers(files: list[str], fmt: CsvFormat, first: str, names: list[str]) -> None:
    """Every file's header must be the first file's (up to case, as Spark resolves names): Spark's
    reader (and SageMaker's) would put the columns of a file whose header differs under the first
    file's names, by position; a file without a header would lose its first record.
    The first lines are read 8 files at a time (objects on S3 are fetched)."""
    if not files:
        return
    with ThreadPoolExecutor(min(8, len(files)), thread_name_prefix="mmon-header") as pool:
        lines = pool.map(lambda f: _first_nonblank_line(f)[0], files)
    for path, line in zip(files, lines):
        if line is None:
            continue
        text = line.decode("utf-8", "replace").rstrip("\r\n").removeprefix("\ufeff")
        other = _header_names(_split_line(text, fmt))
        if [n.lower() for n in other] != [n.lower() for n in names]:  # Spark resolves names case-insensitively
            raise InputError("DATASET_HEADERS_DIFFER", file=path, header=_clip(",".join(other)), first=first,
                             first_header=_clip(",".join(names)))


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _split_line(text: str, fmt: CsvFormat) -> list[str]:
    if fmt.quote_character not in text:
        return text.split(fmt.field_delimiter)
    return next(csv.reader([text], delimiter=fmt.field_delimiter, quotechar=fmt.quote_character, doublequote=True), [""])


def _csv_batches(path: str, fmt: CsvFormat, names: list[str], progress: Progress | None) -> Iterator[Batch]:
    """One file's batches. pyarrow's reader runs first without a handler for ragged rows (it
    is faster without one); if the file has such rows, it is read again with the handler from
    the first row not yet delivered."""
    delivered, block_size = 0, BLOCK_SIZE
    while True:
        try:
            reading = _csv_reading(path, fmt, names, progress if block_size == BLOCK_SIZE else None, None, block_size)
            for batch in _after_rows(reading, delivered):
                delivered += batch.data.num_rows
                yield batch
            return
        except pa.ArrowInvalid as exc:
            if "straddling object" in str(exc) and block_size < MAX_BLOCK_SIZE:
                block_size *= 4  # a row longer than a block: read the rest again with larger blocks
                continue
            if "columns, got" not in str(exc):
                raise _unreadable(path, exc) from None
            break
    ragged: list[str] = []

    def invalid_row(row) -> str:
        if row.text.strip(_JAVA_WHITESPACE):
            ragged.append(row.text)
        return "skip"

    try:
        yield from _after_rows(_csv_reading(path, fmt, names, None, invalid_row, block_size), delivered)
    except pa.ArrowInvalid as exc:
        raise _unreadable(path, exc) from None
    if ragged:
        # Rows with another number of fields, as Spark reads them: padded with missing values
        # or cut to the header. Sorted: the reader's threads report them in any order.
        rows = [_split_line(text, fmt) for text in sorted(ragged)]
        columns = [[(row[i] or None) if i < len(row) else None for row in rows] for i in range(len(names))]
        data = pa.RecordBatch.from_arrays([pa.array(c, pa.string()) for c in columns], names=names)
        yield Batch(data, len(rows), 0)


def _after_rows(batches: Iterator[Batch], skip: int) -> Iterator[Batch]:
    """``batches`` without their first ``skip`` rows (those delivered by an earlier reading)."""
    for batch in batches:
        if skip >= batch.data.num_rows:
            skip -= batch.data.num_rows
            continue
        yield Batch(batch.data.slice(skip), 0, batch.undecodable_values) if skip else batch
        skip = 0


def _csv_reading(path: str, fmt: CsvFormat, names: list[str], progress: Progress | None, invalid_row,
                 block_size: int = BLOCK_SIZE) -> Iterator[Batch]:
    import pyarrow.csv as pcsv

    skip = _first_nonblank_line(path)[1] if fmt.header else 0  # each file's first non-blank line is its header
    stream, raw = open_stream(path)
    with stream:
        try:
            if skip:
                stream.read(skip)
            reader = pcsv.open_csv(
                stream,
                read_options=pcsv.ReadOptions(column_names=names, block_size=block_size),
                parse_options=pcsv.ParseOptions(
                    delimiter=fmt.field_delimiter, quote_char=fmt.quote_character or False, double_quote=True,
                    escape_char=False, newlines_in_values=False, ignore_empty_lines=True, invalid_row_handler=invalid_row,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types={name: pa.string() for name in names}, strings_can_be_null=True,
                    quoted_strings_can_be_null=True, null_values=[""], check_utf8=False,
                ),
            )
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise
        except _UNREADABLE + (pa.ArrowException,) as exc:
            raise _unreadable(path, exc) from None
        position = 0
        while True:
            try:
                data = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid:
                raise
            except _UNREADABLE + (pa.ArrowException,) as exc:
                raise _unreadable(path, exc) from None
            if progress is not None:
                now = raw.tell()
                progress.advance(nbytes=now - position)
                position = now
            if len(names) == 1:
                data = _without_blank_lines(data)
            data, undecodable = _valid_utf8(data)
            yield Batch(data, 0, undecodable)


def _without_blank_lines(data: pa.RecordBatch) -> pa.RecordBatch:
    """One-column CSV: a whitespace-only line is a value for pyarrow, a blank line for Spark."""
    blank = pc.match_substring_regex(data.column(0), r"^[\x00-\x20]*$")
    return data.filter(pc.invert(pc.fill_null(blank, False)))


def _valid_utf8(data: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    """Values whose bytes are not UTF-8 become missing; returns how many there were."""
    try:
        data.validate(full=True)
        return data, 0
    except pa.ArrowInvalid:
        pass
    columns, bad = [], 0
    for column in data.columns:
        try:
            column.validate(full=True)
            columns.append(column)
            continue
        except pa.ArrowInvalid:
            pass
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            raw = column.view(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary())
            text, undecodable = utf8_text(raw, column.type)
            columns.append(text)
            bad += undecodable
            continue
        # Nested or dictionary-encoded values (Parquet): a value holding such bytes is missing.
        keep = []
        for i in range(len(column)):
            try:
                column[i].as_py()
                keep.append(i)
            except UnicodeDecodeError:
                keep.append(len(column))
                bad += 1
        columns.append(pa.concat_arrays([column, pa.nulls(1, column.type)]).take(pa.array(keep, pa.int64())))
    return pa.RecordBatch.from_arrays(columns, names=data.schema.names), bad


# ------------------------------------------------------------------ JSON
def _json_batches(path: str, fmt: JsonFormat, progress: Progress | None) -> Iterator[Batch]:
    stream, raw = open_stream(path)
    try:
        with stream:
            if not fmt.lines:
                yield from _json_document_batches(path, stream.read())
                return
            pending, position = b"", 0
            while True:
                chunk = stream.read(BLOCK_SIZE)
                if progress is not None:
                    now = raw.tell()
                    progress.advance(nbytes=now - position)
                    position = now
                if not chunk:
                    yield from _json_lines_chunk(path, pending)
                    break
                end = chunk.rfind(b"\n")
                if end < 0:
                    pending += chunk
                    continue
                whole, pending = pending + chunk[: end + 1], chunk[end + 1 :]  # whole lines only
                yield from _json_lines_chunk(path, whole)
    except _UNREADABLE + (pa.ArrowException,) as exc:
        raise _unreadable(path, exc) from None


def _json_lines_chunk(path: str, chunk: bytes) -> Iterator[Batch]:
    """One chunk of JSON Lines: pyarrow's reader (types inferred) when every line is an object
    of consistent types; otherwise line by line, every scalar kept as the text it was written
    as. Lines that are not JSON objects are malformed records (counted, skipped)."""
    import pyarrow.json as pj

    if not chunk.strip():
        return
    if _most_opened_in_a_line(chunk) <= MAX_JSON_PARSER_DEPTH:  # pyarrow's parser recurses: deeper crashes it
        try:
            table = pj.read_json(io.BytesIO(chunk), read_options=pj.ReadOptions(use_threads=False))
            table.validate(full=True)  # strings that are not UTF-8: such a line is malformed, as below
            if _type_depth(table.schema) <= MAX_JSON_DEPTH:  # deeper: the lines concerned are malformed, below
                for data in table.to_batches():
                    yield Batch(data)
                return
        except pa.ArrowInvalid:
            pass
    rows, malformed = [], 0
    for line in chunk.splitlines():
        if not line.strip():
            continue
        try:
            doc = json.loads(line, parse_int=str, parse_float=str, parse_constant=str)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond Python's limit
            doc = None
        if not isinstance(doc, dict) or _too_deep(doc):
            malformed += 1
            continue
        rows.append(doc)
    if rows or malformed:
        yield Batch(_text_batch(rows), malformed, 0)


def _most_opened_in_a_line(chunk: bytes) -> int:
    """The most ``[`` and ``{`` in one line of ``chunk``: no line nests deeper than that."""
    if chunk.count(b"[") + chunk.count(b"{") <= MAX_JSON_PARSER_DEPTH:
        return 0
    import numpy as np

    marks = np.frombuffer(chunk.translate(_OPENS, _NOT_OPENS_OR_LF), np.uint8)  # 1 an opening bracket, 0 a line end
    opened = np.cumsum(marks, dtype=np.int64)
    per_line = np.diff(np.concatenate([[0], opened[marks == 0], opened[-1:]]))
    return int(per_line.max())


_OPENS = bytes.maketrans(b"[{\n", b"\x01\x01\x00")
_NOT_OPENS_OR_LF = bytes(b for b in range(256) if b not in b"[{\n")


def _type_depth(schema: pa.Schema) -> int:
    """How deep lists and structs nest in ``schema`` (iteratively: the type may be deep)."""
    deepest, stack = 0, [(field.type, 0) for field in schema]
    while stack:
        kind, level = stack.pop()
        if pa.types.is_struct(kind):
            stack.extend((kind.field(i).type, level + 1) for i in range(kind.num_fields))
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            stack.append((kind.value_type, level + 1))
        deepest = max(deepest, level)
    return deepest


def _too_deep(record: dict) -> bool:
    """Whether a record's values nest lists and objects more than MAX_JSON_DEPTH deep (as
    :func:`_type_depth` counts a column's type: the record's own object is not a level)."""
    return _depth(record) - 1 > MAX_JSON_DEPTH


def _depth(value) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar is 0)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_document_batches(path: str, raw: bytes) -> Iterator[Batch]:
    try:
        doc = json.loads(raw, parse_int=str, parse_float=str, parse_constant=str)
    except ValueError as exc:
        raise InputError("DATASET_UNREADABLE", what=f"JSON file {path}", reason=str(exc)) from None
    except RecursionError:
        raise InputError("DATASET_UNREADABLE", what=f"JSON file {path}",
                         reason="arrays or objects nested too deeply to read") from None
    records = doc if isinstance(doc, list) else [doc]
    rows = [r for r in records if isinstance(r, dict) and not _too_deep(r)]
    yield Batch(_text_batch(rows), len(records) - len(rows), 0)


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def _text_batch(rows: list[dict]) -> pa.RecordBatch:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    if not names:  # records without fields still count as rows
        return pa.RecordBatch.from_struct_array(pa.array([{}] * len(rows), pa.struct([])))
    arrays = [pa.array([_text(row.get(name)) for row in rows], pa.string()) for name in names]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _json_names(files: list[str], fmt: JsonFormat) -> list[str]:
    """Column names in order of first appearance, from the first record that has fields."""
    for path in files:
        for batch in _json_batches(path, fmt, None):
            if batch.data.schema.names:
                return list(batch.data.schema.names)
    return []


# ------------------------------------------------------------------ Parquet
def _open_parquet(path: str):
    """What pyarrow's Parquet reader reads: a local path as it is; an S3 object opened through
    pyarrow's own S3 client (``pyarrow.fs.S3FileSystem``: random access by ranged GETs, the
    footer first, then the column chunks), so Parquet on S3 is not downloaded either."""
    if not storage.is_s3(path):
        return path
    filesystem, inner = storage.arrow_filesystem(path)
    try:
        return filesystem.open_input_file(inner)
    except OSError as exc:
        raise InputError("DATASET_UNREADABLE", what=f"Parquet file {path}", reason=_first_line(exc)) from None


def _check_parquet(path: str, source=None) -> None:
    try:
        if source is not None and not isinstance(source, str):  # an S3 object (random access)
            size = source.size()
            head, tail = source.read_at(4, 0), source.read_at(4, max(0, size - 4))
        else:
            with open(path, "rb") as fh:
                head = fh.read(4)
                fh.seek(0, 2)
                size = fh.tell()
                fh.seek(max(0, size - 4))
                tail = fh.read(4)
    except OSError as exc:
        raise InputError("DATASET_UNREADABLE", what=f"Parquet file {path}", reason=str(exc)) from None
    if size < 12 or head != b"PAR1" or tail != b"PAR1":
        raise InputError(
            "DATASET_UNREADABLE", what=f"Parquet file {path}", reason="not a Parquet file (missing PAR1 magic; truncated or corrupt)"
        )


def _parquet_names(files: list[str]) -> list[str]:
    import pyarrow.parquet as pq

    names: dict[str, None] = {}
    for path in files:
        source = _open_parquet(path)
        try:
            _check_parquet(path, source)
            schema_names = pq.read_schema(source).names
            _check_unique(schema_names, f"Parquet file {path}")
            names.update(dict.fromkeys(schema_names))
        except (pa.ArrowException, OSError) as exc:
            raise InputError("DATASET_UNREADABLE", what=f"Parquet file {path}", reason=_first_line(exc)) from None
        finally:
            if not isinstance(source, str):
                source.close()
    return list(names)


def _parquet_batches(path: str, names: tuple[str, ...], progress: Progress | None) -> Iterator[Batch]:
    import pyarrow.parquet as pq

    source = _open_parquet(path)
    try:
        parquet = pq.ParquetFile(source)
        rows = max(parquet.metadata.num_rows, 1)
        size = os.path.getsize(path) if isinstance(source, str) else source.size()
        for data in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=False):
            if progress is not None:
                progress.advance(nbytes=size * data.num_rows // rows)
            data, undecodable = _valid_utf8(data)
            yield Batch(data, 0, undecodable)
    except (pa.ArrowException, OSError) as exc:
        raise InputError("DATASET_UNREADABLE", what=f"Parquet file {path}", reason=_first_line(exc)) from None
    finally:
        if not isinstance(source, str):
            source.close()


# ------------------------------------------------------------------ entry point
def empty_because(fmt) -> str:
    """Why a dataset of this format can have no records, for DATASET_EMPTY."""
    if isinstance(fmt, JsonFormat):
        return "empty files, or no line that is a JSON object" if fmt.lines else "empty files, or no JSON object"
    if isinstance(fmt, ParquetFormat):
        return "files without rows"
    return "header only or empty files"


def read_dataset(source: str, fmt) -> Dataset:
    """The files under ``source`` and the names of their columns (no data is read yet)."""
    sizes = data_file_sizes(source)
    files = list(sizes)
    log.info("Files to process: %d under %s", len(files), source)
    log_streaming(source, sizes.values())
    if isinstance(fmt, CsvFormat):
        names = csv_columns(files, fmt)
    elif isinstance(fmt, JsonFormat):
        names = _json_names(files, fmt)
    elif isinstance(fmt, ParquetFormat):
        names = _parquet_names(files)
    else:
        raise InputError("DATASET_FORMAT_UNSUPPORTED", name=type(fmt).__name__, supported="csv, json, parquet")
    if not names:
        raise InputError("DATASET_EMPTY", source=source, detail=f" (no columns: {empty_because(fmt)})")
    return Dataset(source, tuple(files), fmt, tuple(names), tuple(sizes.values()))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
