"""The Spark session: local[*] by default, any master and extra settings from the environment."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Mapping

from analyzer.errors import InputError

from . import jvm_archive, params

log = logging.getLogger(__name__)


def container_memory_bytes() -> int | None:
    """The memory this process may use: the cgroup limit when one is set, else physical memory."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < (1 << 60):
            return int(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_driver_memory() -> str:
    """A quarter of the container's memory for the driver JVM, between 1 and 2 GiB.

    The profile keeps only per-column sketches and counters, so its memory does not grow with
    rows: 2 GiB serves any row count (raise MMON_DRIVER_MEMORY for thousands of columns).
    A bigger heap only lets the JVM grow its footprint before collecting."""
    total = container_memory_bytes() or (8 << 30)
    mib = min(2048, max(1024, int(total * 0.25) // (1 << 20)))
    return f"{mib}m"


def spark_settings(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    master = env.get(params.SPARK_MASTER) or "local[*]"
    cores = os.cpu_count() or 2
    conf = {
        "spark.app.name": "mmon-analyzer",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "true" if sys.stderr.isatty() else "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(max(4, 2 * cores)),
        # The CSV reader only flags ragged rows when it parses every column.
        "spark.sql.csv.parser.columnPruning.enabled": "false",
        "spark.local.dir": env.get("TMPDIR", "/tmp"),
        # Python workers (user preprocessor scripts) use this interpreter and its packages.
        "spark.pyspark.python": env.get("PYSPARK_PYTHON") or sys.executable,
        # Spark's generated code can exceed HotSpot's 8000-byte limit for JIT compilation;
        # interpreted, such methods are many times slower. A job is one short-lived JVM: with
        # HotSpot's default thresholds its optimising compiler spends seconds of CPU on start-up
        # and planning code run a few thousand times (5.5 s on the benchmark, next to two cores
        # of work); ten times higher thresholds leave it the scan's hot loops (0.5 s faster).
        "spark.driver.extraJavaOptions": " ".join([
            "-XX:+UseParallelGC", "-XX:-DontCompileHugeMethods",
            "-XX:Tier4InvocationThreshold=50000", "-XX:Tier4CompileThreshold=100000",
            *jvm_archive.java_options(env),
        ]),
    }
    if master.startswith("local"):
        conf["spark.driver.memory"] = env.get(params.DRIVER_MEMORY) or default_driver_memory()
    raw = env.get(params.SPARK_CONF)
    if raw:
        try:
            extra = json.loads(raw)
            if not isinstance(extra, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise InputError("ENV_INVALID", name=params.SPARK_CONF, value=raw, reason=f"must be a JSON object ({exc})") from None
        for key, value in extra.items():
            key, value = str(key), str(value)
            if key == "spark.driver.extraJavaOptions":
                # Appended: later JVM flags win, and ours (JIT, class archive) stay unless overridden.
                value = f"{conf[key]} {value}"
            conf[key] = value
    return master, conf


def build_session(env: Mapping[str, str]):
    from pyspark.sql import SparkSession

    master, conf = spark_settings(env)
    # PySpark's driver picks the workers' interpreter from this variable only.
    os.environ.setdefault("PYSPARK_PYTHON", conf["spark.pyspark.python"])
    builder = SparkSession.builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("Starting Spark (master %s, driver memory %s)", master, conf.get("spark.driver.memory", "cluster default"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(env.get("MMON_SPARK_LOG_LEVEL", "ERROR"))
    return spark
