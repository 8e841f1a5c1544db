"""read_dataset(spark, config) -> DataFrame for csv / json / parquet (capture: see capture.py)."""
from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from analyzer import DatasetProfile, ProfileOptions, profile
from analyzer.errors import InputError
from analyzer.profile import Cells

from .config import CsvFormat, JsonFormat, ParquetFormat

log = logging.getLogger(__name__)

MALFORMED_COLUMN = "__mmon_malformed_record__"


@dataclass(frozen=True)
class Dataset:
    """A dataset ready to profile: a DataFrame of columns, or :class:`Cells` from the delimited
    text reader. That reader's reading is checked after the scan (``verified``, see
    :func:`_delimited_cells`); when the check fails, ``exact`` reads it with Spark's CSV reader."""

    df: object  # pyspark DataFrame, or Cells
    malformed_column: str | None
    files: tuple[str, ...]
    verified: Callable[[], bool] | None = None
    exact: Callable[[], "Dataset"] | None = None

    def renamed(self, names: list[str]) -> "Dataset":
        """Columns named after ``names`` by position (the rest keep theirs)."""
        if isinstance(self.df, Cells):
            features = list(self.df.features)
            df = self.df.renamed([names[i] if i < len(names) else c for i, c in enumerate(features)])
        else:
            df = self.df.select(*[
                self.df[f"`{c}`"].alias(names[i]) if i < len(names) and c != self.malformed_column else self.df[f"`{c}`"]
                for i, c in enumerate(self.df.columns)
            ])
        exact = self.exact
        return dataclasses.replace(self, df=df, exact=(lambda: exact().renamed(names)) if exact else None)

    def profile(self, options: ProfileOptions = ProfileOptions()) -> DatasetProfile:
        result = profile(self.df, dataclasses.replace(options, malformed_column=self.malformed_column))
        if self.verified is not None and not self.verified():
            log.info("Some data lines equal a header line: profiling again with Spark's CSV reader")
            return self.exact().profile(options)
        return result


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
        columns = csv_columns(files, fmt)
        if columns is None:  # a header line this reader leaves to Spark's
            try:
                columns = spark.read.options(**_spark_csv_options(fmt)).csv(files).columns
            except Exception as exc:  # an empty first file, unreadable bytes
                raise InputError("DATASET_EMPTY", source=source, detail=f" ({_first_line(exc)})") from None
            if not columns:
                raise InputError("DATASET_EMPTY", source=source, detail="")
            return _spark_csv(spark, files, fmt, columns)
        if not columns:
            raise InputError("DATASET_EMPTY", source=source, detail="")
        return _delimited_cells(spark, files, fmt, columns)
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


def _spark_csv_options(fmt: CsvFormat) -> dict[str, str]:
    return {"sep": fmt.field_delimiter, "quote": fmt.quote_character, "escape": fmt.quote_escape_character,
            "header": str(fmt.header).lower(), "encoding": "UTF-8"}


def _spark_csv(spark, files: list[str], fmt: CsvFormat, columns: list[str]) -> Dataset:
    """Spark's CSV reader: every column a string, malformed rows kept and marked."""
    from pyspark.sql import types as T

    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in columns] + [T.StructField(MALFORMED_COLUMN, T.StringType())]
    )
    df = (
        spark.read.options(**_spark_csv_options(fmt))
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", MALFORMED_COLUMN)
        .schema(schema)
        .csv(files)
    )
    return Dataset(df, MALFORMED_COLUMN, tuple(files))


def _delimited_cells(spark, files: list[str], fmt: CsvFormat, columns: list[str]) -> Dataset:
    """The CSV files as :class:`Cells`, read as text lines and split in Spark SQL.

    It reads what Spark's CSV reader (one record per line, the reader used otherwise) reads, and
    saves most of its cost: Spark's reader tokenises every line with univocity into a row that
    the profile then takes apart again; here a line without the quote character is split on the
    delimiter straight into cells, and only lines that hold the quote character go through the
    same parser (``from_csv``, same options). As in Spark's reader: lines that Java's trim()
    leaves empty are skipped; an empty field is a missing value; a line with another number of
    fields than the header is malformed (marked; missing fields are missing values, extra
    fields are dropped); with a header, each file's first non-blank line is dropped.

    That last rule is applied as "a line at the start of a file split that equals the first
    non-blank line of some file", which also drops a data line equal to a header near the start
    of a file. The scan counts the lines it dropped so (``verified``): when that is not exactly
    one per file, ``exact`` reads the files again with Spark's CSV reader.
    """
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    n = len(columns)
    lines = spark.read.text(files).select("value", F.col("_metadata.file_block_start").alias("start"))
    value = F.col("value")
    blank = (value < F.lit("!")) & value.rlike(r"^[\x00-\x20]*\z")
    lines = lines.where(~blank)
    verified = None
    if fmt.header:
        heads = []
        try:
            for path in files:
                first = _first_nonblank_line([path], _JAVA_WHITESPACE)
                if first is not None:
                    heads.append(first[1].rstrip("\r\n"))  # as csv_columns reads the line
        except _UNREADABLE:  # a file Python cannot read: Spark's reader decides
            return _spark_csv(spark, files, fmt, columns)
        expected = len(heads)
        is_head = (F.col("start") == 0) & value.isin(sorted(set(heads)))
        observation = Observation("csv_header_lines")
        lines = lines.observe(observation, F.count_if(is_head).alias("heads")).where(~is_head)

        def verified() -> bool:
            try:
                return int(observation.get["heads"]) == expected
            except Exception:  # no metrics: the scan found no line to profile (Spark drops the node)
                return False
    quote = fmt.quote_character
    # contains() tests the first byte before comparing (instr() compares at every position)
    quoted = value.contains(quote) if quote and quote != "\u0000" else F.lit(False)
    names = [f"c{i}" for i in range(n)]
    ddl = ", ".join(f"{c} STRING" for c in names) + f", {MALFORMED_COLUMN} STRING"
    options = {**_spark_csv_options(fmt), "header": "false", "mode": "PERMISSIVE", "columnNameOfCorruptRecord": MALFORMED_COLUMN}
    delimiter = fmt.field_delimiter
    pattern = delimiter if delimiter.isalnum() or delimiter in "\t " else "\\" + delimiter
    lines = lines.select(
        "value",
        quoted.alias("q"),
        F.when(~quoted, F.split(value, pattern, -1)).alias("tokens"),
        F.when(quoted, F.from_csv(value, ddl, options)).alias("parsed"),
    )
    tokens, parsed = F.col("tokens"), F.col("parsed")
    padded = F.slice(F.concat(tokens, F.array_repeat(F.lit(None).cast("string"), n)), 1, n)
    fields = (
        F.when(F.col("q"), F.array(*[parsed[c] for c in names]))
        .when(F.size(tokens) == n, tokens)
        .otherwise(padded)
    )
    malformed = F.when(F.col("q"), parsed[MALFORMED_COLUMN]).when(F.size(tokens) != n, value)
    cells = lines.select(F.posexplode(fields).alias("i", "v"), malformed.alias("line")).select(
        "i", F.nullif("v", F.lit("")).alias("v"), F.when(F.col("i") == 0, F.col("line")).alias("m")
    )
    return Dataset(
        Cells(cells, tuple(columns)), None, tuple(files), verified=verified,
        exact=lambda: _spark_csv(spark, files, fmt, columns),
    )


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
    except _UNREADABLE:
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
_UNREADABLE = (OSError, EOFError, ValueError, zlib.error)  # what reading a damaged (gzip) file raises
_COMPRESSED = {".bz2", ".deflate", ".lz4", ".snappy", ".zst", ".zstd", ".xz", ".lzo", ".br"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
