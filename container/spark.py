"""The Spark driver: the same batch profiler, run by Spark's executors (``mapInArrow``) on the
partitions of a dataset read by Spark's readers; the driver merges the partial states in
partition order (so the same partitioning gives the same report)."""
from __future__ import annotations

import functools
import logging
import pickle
import tempfile
import zipfile
from pathlib import Path

from analyzer import DatasetProfile, ProfileOptions
from analyzer.errors import InputError
from analyzer.profile import Profiler, profile_partition

from .config import CsvFormat, JsonFormat, ParquetFormat
from .dataset import Dataset

log = logging.getLogger(__name__)

MALFORMED_COLUMN = "__mmon_malformed_record__"
_PARTIAL_SCHEMA = "pid long, state binary"


def ship_engine(spark) -> None:
    """Make the ``analyzer`` package importable on the executors (a zip on the Python path),
    so that a cluster needs only Python with pyarrow, NumPy and the Python packages it uses."""
    import analyzer

    package = Path(analyzer.__file__).parent
    folder = Path(tempfile.mkdtemp(prefix="mmon-engine-"))
    archive = folder / "mmon_analyzer.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(package.rglob("*.py")):
            zf.write(path, Path("analyzer") / path.relative_to(package))
    spark.sparkContext.addPyFile(str(archive))


def _frame(spark, dataset: Dataset):
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


def profile_frame(spark, df, options: ProfileOptions, malformed_column: str | None = None) -> DatasetProfile:
    """Profile a DataFrame on the executors and merge the partial profiles."""
    names = [c for c in df.columns if c != malformed_column]
    function = functools.partial(profile_partition, names=names, options=options, malformed_column=malformed_column)
    rows = df.mapInArrow(function, _PARTIAL_SCHEMA).collect()
    total = Profiler(names, options)
    for row in rows:  # collect() keeps partition order
        total.merge(pickle.loads(row["state"]))
    log.info("Merged %d partial profiles computed by %d executor processes", len(rows), len({r["pid"] for r in rows}))
    return total.result()


def profile_on_spark(spark, dataset: Dataset, options: ProfileOptions) -> DatasetProfile:
    ship_engine(spark)
    df, malformed = _frame(spark, dataset)
    return profile_frame(spark, df, options, malformed)
