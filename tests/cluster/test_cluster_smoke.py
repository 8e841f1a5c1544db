"""Spark's Arrow batches on a real standalone cluster: ``mapInArrow`` runs in Python workers of
executors on both workers, and the master and the workers saw the application.

Needs Java and starts processes (see conftest.py). The driver is a process of its own (this file
run as a script): one SparkContext per process, and the suite's ``spark`` fixture
(local[2], with its own JVM options) must not share a JVM or a context with a cluster driver.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

APP_NAME = "mmon-cluster-smoke"
ROWS, PARTITIONS = 1000, 4
DRIVER_TIMEOUT_S = 300.0


# --- the driver (runs as `python test_cluster_smoke.py MASTER_URL RESULT_FILE`) ---------------

def per_batch(batches):
    """Runs in a Python worker: its pid, the batch's row count and the worker's folder."""
    import os

    import pyarrow as pa

    for batch in batches:
        yield pa.RecordBatch.from_pydict({"pid": [os.getpid()], "n": [batch.num_rows], "cwd": [os.getcwd()]},
                                         schema=pa.schema([("pid", pa.int64()), ("n", pa.int64()), ("cwd", pa.string())]))


def drive(master_url: str, result_file: Path) -> None:
    """Run the job, write what it saw to ``result_file``, then keep the application open until
    stdin closes, so that the test can look at it on the master while it runs."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master(master_url).appName(APP_NAME)
        .config("spark.executor.memory", "512m")
        .config("spark.executor.cores", "1")
        .config("spark.cores.max", "2")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Tasks only once both executors have registered, so that both get some.
        .config("spark.scheduler.minRegisteredResourcesRatio", "1.0")
        .config("spark.scheduler.maxRegisteredResourcesWaitingTime", "120s")
        .getOrCreate()
    )
    try:
        sc = spark.sparkContext
        tracker = sc._jsc.sc().statusTracker()
        deadline = time.monotonic() + 120
        while len(tracker.getExecutorInfos()) < 3 and time.monotonic() < deadline:  # the driver is one
            time.sleep(0.2)
        executors = len(tracker.getExecutorInfos()) - 1
        rows = spark.range(0, ROWS, numPartitions=PARTITIONS).mapInArrow(per_batch, "pid long, n long, cwd string").collect()
        result = {"driver_pid": os.getpid(), "app_id": sc.applicationId, "executors": executors,
                  "batches": [row.asDict() for row in rows]}
        tmp = result_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.rename(result_file)
        sys.stdin.read()  # until the test closes it
    finally:
        spark.stop()


# --- the test -----------------------------------------------------------------------------------

def test_map_in_arrow_runs_on_both_workers(spark_cluster, tmp_path):
    from .conftest import die_with_parent, stop_group

    cluster = spark_cluster
    result_file, driver_log = tmp_path / "result.json", tmp_path / "driver.log"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    env.pop("PYSPARK_DRIVER_PYTHON", None)
    with open(driver_log, "wb") as log:
        driver = subprocess.Popen([sys.executable, __file__, cluster.master_url, str(result_file)], cwd=tmp_path,
                                  env=env, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True, preexec_fn=die_with_parent)

    def failure_context() -> str:
        return f"--- driver ({driver_log}) ---\n{driver_log.read_text(errors='replace')[-4000:]}\n{cluster.logs()}"

    try:
        def job_done():
            if result_file.exists():
                return json.loads(result_file.read_text())
            if driver.poll() is not None:
                pytest.fail(f"the driver exited with {driver.returncode} before the job ended\n{failure_context()}",
                            pytrace=False)
            return None

        result = cluster.wait_for(job_done, "the driver's job", DRIVER_TIMEOUT_S, failure_context)
        app_id, batches = result["app_id"], result["batches"]

        # Every row went through a Python worker, none of them the driver's process or ours.
        assert sum(b["n"] for b in batches) == ROWS
        pids = {b["pid"] for b in batches}
        assert result["driver_pid"] not in pids and os.getpid() not in pids
        assert result["executors"] == 2, result

        # A Python worker runs in <worker work dir>/<app id>/<executor id>: both workers ran batches.
        ran_on = {}
        for b in batches:
            cwd = Path(b["cwd"]).resolve()
            owner = [i for i, w in enumerate(cluster.workers) if cwd.is_relative_to(w.work_dir.resolve() / app_id)]
            assert owner, f"a batch ran outside the workers' folders for {app_id}: {cwd}"
            ran_on.setdefault(owner[0], set()).add(b["pid"])
        assert sorted(ran_on) == [0, 1], f"batches ran on workers {sorted(ran_on)} only: {batches}"
        assert len(pids) >= 2  # one Python worker (at least) per executor

        # While the application runs: the master granted it both cores, each worker runs one of its executors.
        app = cluster.application(app_id)
        assert app is not None and app["state"] == "RUNNING" and app["name"] == APP_NAME, app
        assert app["cores"] == 2, app
        assert app_id in {a["id"] for a in cluster.applications()["active"]}
        for worker in cluster.workers:
            assert len(worker.executors(app_id, finished=False)) == 1, worker.state()

        # After the driver stops: the application is FINISHED on the master, and each worker's
        # executor of it ended.
        driver.stdin.close()
        assert driver.wait(timeout=120) == 0, failure_context()
        done = cluster.wait_for(lambda: (a := cluster.application(app_id)) and a["state"] != "RUNNING" and a,
                                f"{app_id} to complete on the master", 60, failure_context)
        assert done["state"] == "FINISHED" and app_id in {a["id"] for a in cluster.applications()["completed"]}, done
        for worker in cluster.workers:
            cluster.wait_for(lambda: len(worker.executors(app_id, finished=True)) == 1,
                             f"the executor of {app_id} on {worker.web_url} to finish", 60, failure_context)
    finally:
        if driver.poll() is None:
            try:
                if not driver.stdin.closed:
                    driver.stdin.close()
                driver.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                pass
        stop_group(driver)  # and the driver's JVM, whatever happened


if __name__ == "__main__":
    drive(sys.argv[1], Path(sys.argv[2]))
