"""read_dataset(spark, config) -> DataFrame for csv / json / parquet (capture: see capture.py)."""
from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from analyzer.errors import InputError

from .config import CsvFormat, JsonFormat, ParquetFormat

log = logging.getLogger(__name__)

MALFORMED_COLUMN = "__mmon_malformed_record__"


@dataclass(frozen=True)
class Dataset:
    df: object  # pyspark DataFrame
    malformed_column: str | None
    files: tuple[str, ...]


def list_data_files(source: str) -> list[str]:
    """A file, or every data file under a directory (recursively), sorted; hidden files
    (``.name``), Spark/Hadoop markers (``_SUCCESS``) and checksum files are skipped."""
    root = Path(source)
    if not root.exists():
        raise InputError("DATASET_SOURCE_MISSING", source=source)
    if root.is_file():
        return [str(root)]
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith((".", "_")) for part in rel) or path.suffix == ".crc":
            continue
        if path.is_file():
            files.append(str(path))
    if not files:
        raise InputError("DATASET_NO_FILES", source=source)
    return files


def _open_text(path: str):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _first_nonblank_line(files: list[str], whitespace: str | None = None) -> tuple[str, str] | None:
    """(file, line) of the first line, across the files in order, that is not blank once
    ``whitespace`` is stripped (Python's whitespace by default). Read errors propagate."""
    for path in files:
        with _open_text(path) as fh:
            for line in fh:
                if line.strip(whitespace):
                    return path, line
    return None


def _first_json_keys(files: list[str]) -> list[str]:
    """Key order of the first JSON record, so that features follow the input's column order
    (Spark's JSON reader sorts fields by name)."""
    try:
        first = _first_nonblank_line(files)
        doc = json.loads(first[1]) if first else None
    except (OSError, ValueError):
        return []
    return list(doc) if isinstance(doc, dict) else []


def _check_parquet(files: list[str]) -> None:
    for path in files:
        try:
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


def read_dataset(spark, source: str, fmt) -> Dataset:
    files = list_data_files(source)
    log.info("Files to process: %d under %s", len(files), source)
    if isinstance(fmt, CsvFormat):
        from pyspark.sql import types as T

        options = {"sep": fmt.field_delimiter, "quote": fmt.quote_character, "escape": fmt.quote_escape_character,
                   "header": str(fmt.header).lower(), "encoding": "UTF-8"}
        columns = csv_columns(files, fmt)
        if columns is None:  # a header line this reader leaves to Spark's
            try:
                columns = spark.read.options(**options).csv(files).columns
            except Exception as exc:  # an empty first file, unreadable bytes
                raise InputError("DATASET_EMPTY", source=source, detail=f" ({_first_line(exc)})") from None
        if not columns:
            raise InputError("DATASET_EMPTY", source=source, detail="")
        schema = T.StructType(
            [T.StructField(c, T.StringType()) for c in columns] + [T.StructField(MALFORMED_COLUMN, T.StringType())]
        )
        df = (
            spark.read.options(**options)
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", MALFORMED_COLUMN)
            .schema(schema)
            .csv(files)
        )
        return Dataset(df, MALFORMED_COLUMN, tuple(files))
    if isinstance(fmt, JsonFormat):
        reader = spark.read.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", MALFORMED_COLUMN)
        if not fmt.lines:
            reader = reader.option("multiLine", "true")
        try:
            df = reader.json(files)
        except Exception as exc:
            raise InputError("DATASET_UNREADABLE", what=f"JSON dataset {source}", reason=_first_line(exc)) from None
        names = [c for c in df.columns if c != MALFORMED_COLUMN]
        if not names:
            raise InputError("DATASET_EMPTY", source=source, detail=" (no JSON records with fields)")
        first = [k for k in _first_json_keys(files) if k in names] if fmt.lines else []
        ordered = first + [c for c in names if c not in first]
        malformed = MALFORMED_COLUMN if MALFORMED_COLUMN in df.columns else None
        df = df.select(*[f"`{c}`" for c in ordered], *([MALFORMED_COLUMN] if malformed else []))
        return Dataset(df, malformed, tuple(files))
    if isinstance(fmt, ParquetFormat):
        _check_parquet(files)
        try:
            df = spark.read.option("mergeSchema", "true").parquet(*files)
        except Exception as exc:
            raise InputError("DATASET_UNREADABLE", what=f"Parquet dataset {source}", reason=_first_line(exc)) from None
        return Dataset(df, None, tuple(files))
    raise InputError("DATASET_FORMAT_UNSUPPORTED", name=type(fmt).__name__, supported="csv, json, parquet")


def csv_columns(files: list[str], fmt: CsvFormat) -> list[str] | None:
    """Column names as Spark's CSV reader would make them, without a Spark job.

    The first line of the first non-empty file gives the names (header) or the column count
    (no header: ``_c0``, ``_c1``...). As in Spark, an empty header name becomes ``_c<index>`` and
    names repeated case-insensitively get their index appended. Returns None, so that Spark
    decides, whenever this simple reading might differ from Spark's: quotes or escapes in the
    line, a multi-character delimiter, a byte-order mark or undecodable bytes, compression other
    than gzip, or an unreadable file. [] means the data has no line at all.
    """
    if len(fmt.field_delimiter) != 1:
        return None
    try:
        first = _first_nonblank_line(files, _JAVA_WHITESPACE)  # Spark skips blank lines (Java's trim)
    except (OSError, EOFError, ValueError):
        return None
    if first is None:
        return []
    path, line = first[0], first[1].rstrip("\r\n")
    if Path(path).suffix.lower() in _COMPRESSED:
        return None
    if any(ch and ch in line for ch in (fmt.quote_character, fmt.quote_escape_character, "\ufeff", "\ufffd", "\r")):
        return None
    fields = line.split(fmt.field_delimiter)
    if not fmt.header:
        return [f"_c{i}" for i in range(len(fields))]
    lowered = [f.lower() for f in fields if f]
    repeated = {name for name in lowered if lowered.count(name) > 1}
    return [
        f"_c{i}" if not name else (f"{name}{i}" if name.lower() in repeated else name)
        for i, name in enumerate(fields)
    ]


_JAVA_WHITESPACE = "".join(map(chr, range(33)))
_COMPRESSED = {".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".xz", ".lzo", ".br"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
