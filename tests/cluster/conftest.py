"""A real Spark standalone cluster on 127.0.0.1: one master and two workers of one core each.

These tests need Java (Spark's runtime) and start processes: the master and worker JVMs from
PySpark's own launcher (``bin/spark-class``), executor JVMs and their Python workers, and a
driver. They are marked ``cluster`` (``pytest -m "not cluster"`` leaves them out). Where Java
cannot run they are skipped with the reason, except in CI (CI=true/1/yes), where that fails them.

The cluster is started once per session (about 10 s) in a temporary folder that holds its logs
and the workers' folders, and every process it started is ended afterwards (each daemon leads a
process group of its own, executors and Python workers included; the group is killed), also
when a test fails. What the master and the workers know comes from their web UIs' ``/json/``:

* the master's lists the workers (``state``, ``cores``, ``coresused``) and the applications
  (``activeapps``/``completedapps``: ``id``, ``name``, ``cores`` granted, ``state``), but not
  which worker ran an application's executors;
* each worker's lists its executors (``executors`` while the application runs,
  ``finishedexecutors`` after it, each with the ``appid``), so that is what shows where an
  application ran;
* a Python worker runs in its executor's folder, ``<worker work dir>/<app id>/<executor id>``,
  so ``os.getcwd()`` inside a task tells which worker ran it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TypeVar

import pytest

STARTUP_TIMEOUT_S = 90.0
WORKERS = 2
T = TypeVar("T")


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _unavailable(reason: str):
    if in_ci():
        pytest.fail(f"Spark cluster tests cannot run in CI: {reason}")
    pytest.skip(reason)


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def wait_until(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25,
               on_timeout: Callable[[], str] | None = None) -> T:
    """Call ``probe`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except (OSError, ValueError, urllib.error.URLError) as exc:  # not up yet, or mid-restart
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            extra = on_timeout() if on_timeout else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}\n{extra}", pytrace=False)
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"({path}: {exc})"
    return "\n".join(text[-lines:])


@dataclass
class Worker:
    web_url: str
    work_dir: Path
    log: Path

    def state(self) -> dict:
        """The worker's ``/json/``: ``executors`` (running) and ``finishedexecutors``, each with ``appid``."""
        return get_json(f"{self.web_url}/json/")

    def executors(self, app_id: str, finished: bool | None = None) -> list[dict]:
        """This worker's executors of ``app_id``: running (finished=False), ended (True) or both (None)."""
        state = self.state()
        keys = {None: ("executors", "finishedexecutors"), False: ("executors",), True: ("finishedexecutors",)}[finished]
        return [e for key in keys for e in state.get(key, []) if e.get("appid") == app_id]


@dataclass
class SparkCluster:
    master_url: str
    web_url: str
    workers: list[Worker]
    base_dir: Path
    master_log: Path
    processes: list[subprocess.Popen] = field(default_factory=list, repr=False)

    def state(self) -> dict:
        """The master's ``/json/``."""
        return get_json(f"{self.web_url}/json/")

    def applications(self) -> dict[str, list[dict]]:
        """``{"active": [...], "completed": [...]}`` as the master reports them."""
        state = self.state()
        return {"active": state.get("activeapps", []), "completed": state.get("completedapps", [])}

    def application(self, app_id: str) -> dict | None:
        """The master's entry for ``app_id`` (``state`` RUNNING while active, FINISHED after), or None."""
        apps = self.applications()
        for app in apps["active"] + apps["completed"]:
            if app.get("id") == app_id:
                return app
        return None

    def alive_workers(self) -> int:
        return sum(1 for w in self.state().get("workers", []) if w.get("state") == "ALIVE")

    def wait_for(self, probe: Callable[[], T | None], what: str, timeout: float = 60.0,
                 context: Callable[[], str] | None = None) -> T:
        """``probe()`` once it is truthy; else fail after ``timeout`` s with ``context()`` and the logs."""
        return wait_until(probe, timeout, what, on_timeout=lambda: (context() + "\n" if context else "") + self.logs())

    def logs(self, lines: int = 30) -> str:
        """The tails of the master's, the workers' and the executors' logs, for failure messages."""
        parts = [f"--- master ({self.master_log}) ---\n{tail(self.master_log, lines)}"]
        for i, worker in enumerate(self.workers, 1):
            parts.append(f"--- worker {i} ({worker.log}) ---\n{tail(worker.log, lines)}")
            for stderr in sorted(worker.work_dir.glob("app-*/*/stderr"))[-2:]:
                parts.append(f"--- executor {stderr.parent.relative_to(worker.work_dir)} ---\n{tail(stderr, lines)}")
        return "\n".join(parts)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    from pyspark.find_spark_home import _find_spark_home

    return Path(_find_spark_home())


def java_problem() -> str | None:
    """Why Java cannot run here, or None."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home, "bin", "java")) if java_home else shutil.which("java")
    if not java:
        return "no java on PATH and JAVA_HOME unset (Spark needs Java 17+)"
    try:
        done = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{java} -version could not run: {exc}"
    if done.returncode != 0:
        return f"{java} -version exited {done.returncode}: {done.stderr.strip()[-500:]}"
    return None


try:
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # pragma: no cover
    _LIBC = None


def _set_parent_death_signal() -> None:  # pragma: no cover - runs in the child between fork and exec
    _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG; kept across the exec of java


# For Popen(preexec_fn=...): on Linux the child gets SIGTERM if pytest dies without tearing down
# (SIGKILL, a crash); None elsewhere.
die_with_parent = _set_parent_death_signal if _LIBC is not None else None


def _launch(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_group(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the process group ``proc`` leads (executors and Python workers included), then SIGKILL."""
    pgid = proc.pid  # start_new_session: the child leads its own group
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _group_alive(pgid):
                return
            time.sleep(0.1)
    proc.poll()


@pytest.fixture(scope="session")
def spark_cluster(tmp_path_factory):
    """A started standalone cluster (master and two 1-core workers), torn down after the session."""
    home = spark_home()
    launcher = home / "bin" / "spark-class"
    if not launcher.is_file() or not (home / "jars").is_dir():
        _unavailable(f"no Spark launcher or jars under {home}")
    if shutil.which("bash") is None:
        _unavailable("no bash (bin/spark-class is a bash script)")
    problem = java_problem()
    if problem:
        _unavailable(problem)

    base = tmp_path_factory.mktemp("spark-cluster")
    logs, conf = base / "logs", base / "conf"
    logs.mkdir()
    conf.mkdir()  # empty: no spark-env.sh or spark-defaults.conf from the machine
    # Fixed ports that never move: a port taken between choosing and binding stops the daemon
    # (instead of Spark quietly taking the next one), and the start is tried again.
    fixed = "-Dspark.port.maxRetries=0"
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(logs),
        "SPARK_WORKER_DIR": str(base / "work"),
        "SPARK_DAEMON_MEMORY": "512m",
        "SPARK_MASTER_OPTS": f"{fixed} -Dspark.master.rest.enabled=false",
        "SPARK_WORKER_OPTS": fixed,
        "PYSPARK_PYTHON": sys.executable,
    }
    for name in ("PYSPARK_DRIVER_PYTHON", "SPARK_MASTER_HOST", "SPARK_MASTER_PORT", "SPARK_MASTER_WEBUI_PORT"):
        env.pop(name, None)

    cluster: SparkCluster | None = None
    started: list[subprocess.Popen] = []
    failures: list[str] = []
    try:
        for attempt in range(1, 4):
            cluster, why, retry = _start(launcher, env, base / f"attempt{attempt}", started)
            if cluster is not None:
                break
            failures.append(f"attempt {attempt}: {why}")
            for proc in reversed(started):
                stop_group(proc)
            started.clear()
            if not retry:
                break
        if cluster is None:
            pytest.fail("the Spark standalone cluster did not start:\n" + "\n\n".join(failures), pytrace=False)
        cluster.processes = started
        yield cluster
    finally:
        for proc in reversed(started):  # workers (and their executors) first, the master last
            stop_group(proc)


def _start(launcher: Path, env: dict, folder: Path,
           started: list[subprocess.Popen]) -> tuple[SparkCluster | None, str, bool]:
    """One try at starting the master and the workers: (cluster, "", False), or (None, why with
    the logs' tails, whether to try again: a daemon that exited, e.g. on a port taken meanwhile)."""
    folder.mkdir()
    master_port, master_ui = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    web_url = f"http://127.0.0.1:{master_ui}"
    master_log = folder / "master.log"
    started.append(_launch([str(launcher), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                            "--port", str(master_port), "--webui-port", str(master_ui)], env, master_log))
    workers = []
    for i in range(1, WORKERS + 1):
        work_dir = folder / f"worker{i}"
        work_dir.mkdir()
        worker = Worker(web_url=f"http://127.0.0.1:{free_port()}", work_dir=work_dir, log=folder / f"worker{i}.log")
        started.append(_launch([str(launcher), "org.apache.spark.deploy.worker.Worker", master_url,
                                "--host", "127.0.0.1", "--cores", "1", "--memory", "1g",
                                "--webui-port", worker.web_url.rsplit(":", 1)[1], "--work-dir", str(work_dir)],
                               env, worker.log))
        workers.append(worker)
    cluster = SparkCluster(master_url=master_url, web_url=web_url, workers=workers, base_dir=folder, master_log=master_log)

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    alive = 0
    while time.monotonic() < deadline:
        dead = [p for p in started if p.poll() is not None]
        if dead:
            return None, f"{dead[0].args[1]} exited with {dead[0].returncode}\n{cluster.logs()}", True
        try:
            alive = cluster.alive_workers()
        except (OSError, ValueError):  # the master's web UI is not up yet
            alive = 0
        if alive >= WORKERS:
            wait_until(lambda: all(w.state() for w in workers), 30, "the workers' web UIs", on_timeout=cluster.logs)
            return cluster, "", False
        time.sleep(0.25)
    return None, f"{alive} of {WORKERS} workers ALIVE after {STARTUP_TIMEOUT_S:.0f} s\n{cluster.logs()}", False
