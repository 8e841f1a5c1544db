"""The Spark session, for jobs that run on a cluster (``MMON_SPARK_MASTER``); local jobs start
no JVM."""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import Mapping

from analyzer.errors import InputError

from . import params

log = logging.getLogger(__name__)

_MEMORY = re.compile(r"^\d+([kmgtpKMGTP][bB]?)?$")  # Spark's sizes: 1536m, 2g, 2gb


def spark_settings(env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The master URL and settings of the job's Spark session, validated before a JVM starts."""
    master = (env.get(params.SPARK_MASTER) or "").strip()
    if not master:
        raise InputError("ENV_MISSING", name=params.SPARK_MASTER)
    conf = {
        "spark.app.name": "mmon-analyzer",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "true" if sys.stderr.isatty() else "false",
        "spark.sql.session.timeZone": "UTC",
        # The CSV reader only flags ragged rows when it parses every column.
        "spark.sql.csv.parser.columnPruning.enabled": "false",
        "spark.local.dir": env.get("TMPDIR", "/tmp"),
        # Python workers run the profiler with this interpreter and its packages.
        "spark.pyspark.python": env.get("PYSPARK_PYTHON") or sys.executable,
    }
    memory, extra = check_spark_knobs(env)
    if memory:
        conf["spark.driver.memory"] = memory
    conf.update(extra)
    return master, conf


def check_spark_knobs(env: Mapping[str, str]) -> tuple[str | None, dict[str, str]]:
    """``MMON_DRIVER_MEMORY`` and ``MMON_SPARK_CONF``, checked (every job checks them before it
    starts, whether it runs on Spark or not): (driver memory or None, extra Spark settings)."""
    memory = (env.get(params.DRIVER_MEMORY) or "").strip() or None
    if memory and not _MEMORY.match(memory):
        raise InputError("ENV_INVALID", name=params.DRIVER_MEMORY, value=env[params.DRIVER_MEMORY],
                         reason="must be a size such as 2g or 1536m")
    raw = env.get(params.SPARK_CONF)
    extra: dict = {}
    if raw and raw.strip():
        try:
            extra = json.loads(raw)
            if not isinstance(extra, dict):
                raise ValueError(f"not an object but {type(extra).__name__}")
        except ValueError as exc:
            raise InputError("ENV_INVALID", name=params.SPARK_CONF, value=raw, reason=f"must be a JSON object ({exc})") from None
    return memory, {str(k): str(v) for k, v in extra.items()}


def build_session(env: Mapping[str, str]):
    from pyspark.sql import SparkSession

    master, conf = spark_settings(env)
    # PySpark's driver picks the workers' interpreter from this variable only.
    os.environ.setdefault("PYSPARK_PYTHON", conf["spark.pyspark.python"])
    builder = SparkSession.builder.master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    log.info("Starting Spark (master %s)", master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(env.get("MMON_SPARK_LOG_LEVEL", "ERROR"))
    return spark
