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


def test_capture_monitoring_on_the_cluster_equals_the_local_job(spark_cluster, tmp_path):
    from tests.capture_tools import write_capture
    from tests.e2e.test_monitoring_job import H11, WINDOW, make_frame, rows_to_records

    make_frame(4000, seed=1).to_csv(tmp_path / "train.csv", index=False)
    base = _mmon(["baseline", str(tmp_path / "train.csv"), "-o", str(tmp_path / "base")], dict(os.environ))
    assert base.returncode == 0, base.stderr[-3000:]
    frame = make_frame(3000, seed=5, shift=1.0)
    frame.loc[frame.index % 30 == 0, "color"] = "purple"
    write_capture(tmp_path / "capture", rows_to_records(frame, H11), lines_per_file=500)
    common = ["monitor", str(tmp_path / "capture"), "--format", "capture",
              "--statistics", str(tmp_path / "base" / "statistics.json"),
              "--constraints", str(tmp_path / "base" / "constraints.json"),
              "--start-time", WINDOW["start_time"], "--end-time", WINDOW["end_time"]]
    local = _mmon([*common, "-o", str(tmp_path / "local")], dict(os.environ))
    assert local.returncode == 0, local.stderr[-3000:]
    remote = _mmon([*common, "-o", str(tmp_path / "cluster"), "--spark-master", spark_cluster.master_url],
                   _cluster_env(spark_cluster))
    assert remote.returncode == 0, remote.stderr[-3000:] + spark_cluster.logs()
    merged = re.search(r"Merged (\d+) partial profiles computed by (\d+) executor processes", remote.stderr)
    assert merged and int(merged.group(2)) >= 2, remote.stderr[-3000:]

    def pairs(out: Path) -> list[tuple[str, str]]:
        return [(v["feature_name"], v["constraint_check_type"]) for v in read_json(out / "constraint_violations.json")["violations"]]

    assert pairs(tmp_path / "cluster") == pairs(tmp_path / "local")
    assert ("color", "categorical_values_check") in pairs(tmp_path / "local")
    assert_same_statistics(read_json(tmp_path / "cluster" / "statistics.json"), read_json(tmp_path / "local" / "statistics.json"))
    assert remote.stdout.strip().splitlines()[-1] == local.stdout.strip().splitlines()[-1]


def test_model_quality_loop_on_the_cluster_equals_the_local_jobs(spark_cluster, tmp_path):
    """The README's model-quality loop on the bundled sample: baseline, merge, then monitoring
    with the merged records decoded by the cluster's executors: the same reports as locally."""
    sample = ROOT / "sample" / "model-quality"
    mq = ["--problem-type", "BinaryClassification"]
    window = ["--start-time", "2024-03-05T11:00:00Z", "--end-time", "2024-03-05T12:00:00Z"]
    merged = _mmon(["merge", str(sample / "capture"), "--ground-truth", str(sample / "groundtruth"),
                    "-o", str(tmp_path / "merged"), *window], dict(os.environ))
    assert merged.returncode == 0, merged.stderr[-3000:]
    outputs = {}
    for name, extra, env in (("local", [], dict(os.environ)),
                             ("cluster", ["--spark-master", spark_cluster.master_url], _cluster_env(spark_cluster))):
        base = _mmon(["baseline", str(sample / "baseline.csv"), "-o", str(tmp_path / f"base-{name}"), *mq,
                      "--inference-attribute", "prediction", "--probability-attribute", "probability",
                      "--ground-truth-attribute", "label", *extra], env)
        assert base.returncode == 0, base.stderr[-3000:] + (spark_cluster.logs() if extra else "")
        mon = _mmon(["monitor", str(tmp_path / "merged"), "--constraints", str(tmp_path / "base-local" / "constraints.json"),
                     "-o", str(tmp_path / f"mon-{name}"), *mq, "--probability-attribute", "0", *window, *extra], env)
        assert mon.returncode == 0, mon.stderr[-3000:] + (spark_cluster.logs() if extra else "")
        assert "CompletedWithViolations" in mon.stdout
        outputs[name] = {f: (tmp_path / f"mon-{name}" / f).read_bytes() for f in ("statistics.json", "constraint_violations.json")}
        outputs[f"base-{name}"] = read_json(tmp_path / f"base-{name}" / "constraints.json")
    assert outputs["cluster"] == outputs["local"]
    assert outputs["base-cluster"] == outputs["base-local"]
