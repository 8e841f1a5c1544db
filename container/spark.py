"""The Spark driver: the same batch profiler, run by Spark's executors (``mapInArrow``) on the
partitions of a dataset read by Spark's readers; the driver merges the partial states in
partition order (so the same partitioning gives the same report)."""
from __future__ import annotations

import atexit
import functools
import logging
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

from analyzer import DatasetProfile, ProfileOptions
from analyzer.errors import InputError
from analyzer.profile import Profiler, profile_partition

from .config import CsvFormat, JsonFormat, ParquetFormat
from .dataset import Dataset

log = logging.getLogger(__name__)

MALFORMED_COLUMN = "__mmon_malformed_record__"
_PARTIAL_SCHEMA = "pid long, state binary"


_SHIPPED: dict[str, Path] = {}


def ship_engine(spark) -> None:
    """Make this project's code (``analyzer``, and ``container`` for the capture decoder)
    importable on the executors, a zip on their Python path: a cluster needs only Python with
    pyarrow and NumPy. Once per Spark application; the zip is removed when the process ends."""
    import analyzer

    application = spark.sparkContext.applicationId
    if application in _SHIPPED:
        return
    root = Path(analyzer.__file__).parent.parent
    folder = Path(tempfile.mkdtemp(prefix="mmon-engine-"))
    if not _SHIPPED:
        atexit.register(lambda: [shutil.rmtree(f, ignore_errors=True) for f in _SHIPPED.values()])
    _SHIPPED[application] = folder
    archive = folder / "mmon_engine.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for package in ("analyzer", "container"):
            for path in sorted((root / package).rglob("*.py")):
                zf.write(path, path.relative_to(root))
    spark.sparkContext.addPyFile(str(archive))


def frame(spark, dataset: Dataset):
    """The dataset as a DataFrame read by Spark's own reader, columns named as ``dataset``."""
    from pyspark.sql import types as T

    files = list(dataset.files)
    fmt = dataset.fmt
    if isinstance(fmt, CsvFormat):
        schema = T.StructType(
            [T.StructField(c, T.StringType()) for c in dataset.names] + [T.StructField(MALFORMED_COLUMN, T.StringType())]
        )
        return (
            spark.read.options(sep=fmt.field_delimiter, quote=fmt.quote_character, escape=fmt.quote_escape_character,
                               header=str(fmt.header).lower(), encoding="UTF-8", mode="PERMISSIVE",
                               columnNameOfCorruptRecord=MALFORMED_COLUMN)
            .schema(schema).csv(files)
        ), MALFORMED_COLUMN
    if isinstance(fmt, JsonFormat):
        reader = spark.read.option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", MALFORMED_COLUMN)
        if not fmt.lines:
            reader = reader.option("multiLine", "true")
        df = reader.json(files)
        names = [c for c in dataset.names if c in df.columns] + sorted(
            c for c in df.columns if c not in dataset.names and c != MALFORMED_COLUMN
        )
        extra = [MALFORMED_COLUMN] if MALFORMED_COLUMN in df.columns else []
        return df.select(*[f"`{c}`" for c in names + extra]), MALFORMED_COLUMN if extra else None
    if isinstance(fmt, ParquetFormat):
        return spark.read.option("mergeSchema", "true").parquet(*files), None
    raise InputError("DATASET_FORMAT_UNSUPPORTED", name=type(fmt).__name__, supported="csv, json, parquet")


def profile_frame(df, options: ProfileOptions, malformed_column: str | None = None) -> DatasetProfile:
    """Profile a DataFrame on the executors and merge the partial profiles."""
    names = [c for c in df.columns if c != malformed_column]
    function = functools.partial(profile_partition, names=names, options=options, malformed_column=malformed_column)
    return _merged(df.mapInArrow(function, _PARTIAL_SCHEMA).collect(), names, options)


def _merged(rows, names: list[str], options: ProfileOptions) -> DatasetProfile:
    """The partial profiles of ``profile_partition`` rows, merged in partition order (the order
    ``collect()`` keeps)."""
    total = Profiler(names, options)
    for row in rows:
        total.merge(pickle.loads(row["state"]))
    log.info("Merged %d partial profiles computed by %d executor processes", len(rows), len({r["pid"] for r in rows}))
    return total.result()


def profile_on_spark(spark, dataset: Dataset, options: ProfileOptions) -> DatasetProfile:
    log.info("Profiling %d columns of %s on Spark (%d files)", len(dataset.names), dataset.source, len(dataset.files))
    ship_engine(spark)
    df, malformed = frame(spark, dataset)
    return profile_frame(df, options, malformed)


# ------------------------------------------------------------------ captured data
def _capture_summaries(batches, rules) -> Iterator:
    """Pass 1 on an executor: the merged summary of a partition's capture lines."""
    import pyarrow as pa

    from .capture import summarize

    total = None
    for batch in batches:
        part = summarize(batch.column(0), rules)
        total = part if total is None else total.merge(part)
    yield pa.RecordBatch.from_pydict({"summary": [pickle.dumps(total)]}, schema=pa.schema([("summary", pa.binary())]))


def _capture_profiles(batches, rules, columns, options) -> Iterator:
    """Pass 2 on an executor: a partition's records, decoded, laid out and profiled."""
    from .capture import decode, tabulate

    def tables():
        for batch in batches:
            yield tabulate(decode(batch.column(0), rules)[1], columns)

    yield from profile_partition(tables(), [c.name for c in columns], options)


def profile_capture_on_spark(spark, source: str, fmt, baseline_names, start, end, max_bad_fraction: float,
                             options: ProfileOptions) -> DatasetProfile:
    """Captured data on Spark: the lines read by Spark, decoded by the executors twice (a summary
    first, to lay out the columns as the local driver does; then the records, profiled)."""
    from .capture import CaptureRules, check_summary, files_in_window, iso, layout, log_summary
    from .dataset import list_data_files

    files = files_in_window(list_data_files(source), start, end)
    if not files:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)
    ship_engine(spark)
    rules = CaptureRules.of(fmt, start, end, baseline_names)
    lines = spark.read.text(files)
    summaries = [pickle.loads(r["summary"]) for r in lines.mapInArrow(
        functools.partial(_capture_summaries, rules=rules), "summary binary").collect()]
    summary = None
    for part in summaries:  # partition order
        if part is not None:
            summary = part if summary is None else summary.merge(part)
    if summary is None:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=source)
    log_summary(summary)
    check_summary(summary, source, start, end, max_bad_fraction)
    columns = layout(summary, baseline_names)
    function = functools.partial(_capture_profiles, rules=rules, columns=columns, options=options)
    return _merged(lines.mapInArrow(function, _PARTIAL_SCHEMA).collect(), [c.name for c in columns], options)
