"""The Spark session: local[*] by default, any master and extra settings from the environment."""
from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
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


JIT_DIRECTIVES = Path(__file__).with_name("jit-directives.json")


def jit_options() -> list[str]:
    """HotSpot compiler directives for the driver JVM (see ``spark_settings``)."""
    if not JIT_DIRECTIVES.is_file():
        return []
    return ["-XX:+UnlockDiagnosticVMOptions", f"-XX:CompilerDirectivesFile={JIT_DIRECTIVES}"]


def java_options_value(options: list[str]) -> str:
    """``extraJavaOptions`` from single options: Spark splits the value on spaces outside double
    quotes, so an option that holds one (a path under a folder with a space) is quoted."""
    return " ".join(f'"{o}"' if any(c.isspace() for c in o) else o for o in options)


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
        # interpreted, such methods are many times slower. A job is one short-lived JVM, and its
        # optimising compiler (C2) shares the cores with the scan: by default it spent seconds of
        # CPU on start-up and planning code (the SQL parser, janino, catalyst's rules, class
        # loading) that runs a few thousand times. JIT_DIRECTIVES keeps C2 off those packages
        # (C1 still compiles them), so C2 works on the scan's hot loops sooner.
        "spark.driver.extraJavaOptions": java_options_value([
            "-XX:+UseParallelGC", "-XX:-DontCompileHugeMethods", *jit_options(),
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


def _import_quietly(module: str) -> None:
    try:
        importlib.import_module(module)
    except Exception:  # noqa: BLE001 - PySpark copes without it; this only saves time
        pass


def build_session(env: Mapping[str, str]):
    from pyspark.sql import SparkSession

    master, conf = spark_settings(env)
    # PySpark's driver picks the workers' interpreter from this variable only.
    os.environ.setdefault("PYSPARK_PYTHON", conf["spark.pyspark.python"])
    builder = SparkSession.builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    # PySpark's first call into the new JVM imports pandas (about 0.25 s) while the JVM waits;
    # imported here, in parallel, it is ready by then.
    threading.Thread(target=_import_quietly, args=("pandas",), name="mmon-preload", daemon=True).start()
    log.info("Starting Spark (master %s, driver memory %s)", master, conf.get("spark.driver.memory", "cluster default"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(env.get("MMON_SPARK_LOG_LEVEL", "ERROR"))
    return spark
