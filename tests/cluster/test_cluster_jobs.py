"""Jobs on a real two-worker standalone cluster (MMON_SPARK_MASTER): the executors profile the
partitions and the driver merges their states; the reports equal the local driver's.

The job runs as a process of its own (`mmon ... --spark-master`), as a user runs it: one
SparkContext per process, and the suite's local ``spark`` fixture must not be reused.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compare import assert_same_statistics
from tests.conftest import read_json
from tests.e2e.test_engine import _dataset

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]


def _cluster_env(cluster) -> dict:
    conf = {
        "spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2",
        "spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
        # several partitions per file, and tasks only once both executors have registered
        "spark.sql.files.maxPartitionBytes": str(256 * 1024),
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
    }
    env = {k: v for k, v in os.environ.items() if k != "MMON_SPARK_MASTER"}
    env.update(MMON_SPARK_CONF=json.dumps(conf), PYSPARK_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1")
    return env


def _mmon(args: list[str], env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "container.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    return proc


def test_baseline_on_the_cluster_equals_the_local_baseline(spark_cluster, tmp_path):
    source = _dataset(tmp_path / "data.csv", rows=60_000)
    local = _mmon(["baseline", str(source), "-o", str(tmp_path / "local")], dict(os.environ))
    assert local.returncode == 0, local.stderr[-3000:]
    before = {a["id"] for a in spark_cluster.applications()["completed"]}
    remote = _mmon(["baseline", str(source), "-o", str(tmp_path / "cluster"), "--spark-master", spark_cluster.master_url],
                   _cluster_env(spark_cluster))
    assert remote.returncode == 0, remote.stderr[-3000:] + spark_cluster.logs()
    assert "Completed: Job completed successfully" in remote.stdout

    # The executors did the work: several partial profiles, from Python workers of both workers.
    merged = re.search(r"Merged (\d+) partial profiles computed by (\d+) executor processes", remote.stderr)
    assert merged and int(merged.group(1)) >= 4 and int(merged.group(2)) >= 2, remote.stderr[-3000:]
    app = spark_cluster.wait_for(
        lambda: next((a for a in spark_cluster.applications()["completed"] if a["id"] not in before
                      and a.get("name") == "mmon-analyzer"), None),
        "the job's application among the master's completed applications",
    )
    for worker in spark_cluster.workers:
        assert worker.executors(app["id"]), f"no executor of {app['id']} on {worker.web_url}"

    ours, theirs = tmp_path / "cluster", tmp_path / "local"
    assert_same_statistics(read_json(ours / "statistics.json"), read_json(theirs / "statistics.json"))
    assert read_json(ours / "constraints.json") == read_json(theirs / "constraints.json")
