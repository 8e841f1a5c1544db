"""A class-data-sharing (AppCDS) archive for the driver JVM: Spark starts about 2 s sooner.

Starting Spark loads and verifies tens of thousands of classes from jars; that is most of the
few seconds a job spends before it reads any data. HotSpot can dump the classes a run loaded
into an archive (``-XX:ArchiveClassesAtExit``) and map it on the next start
(``-XX:SharedArchiveFile``). Measured on 2 cores: session start 3.5 s -> 2.2 s, first Spark job
1.7 s -> 0.9 s.

    python -m container.jvm_archive             # (re)build the archive for this environment
    python -m container.jvm_archive --if-stale  # only when missing or made for another Java/PySpark

The archive is made by one training run (a baseline and a monitoring job on small generated
data, in one JVM) and is only valid for the same JVM build and the same Spark jars; a stamp
file beside it records both. A mismatched archive is refused by the JVM itself (the job still
runs, at the old speed), so the stamp only decides when to rebuild. The image builds it at
``docker build``; ``scripts/setup.sh`` builds it for a local virtual environment.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping

from . import params

log = logging.getLogger(__name__)

DEFAULT_PATH = Path(sys.prefix) / "share" / "mmon-analyzer" / "spark-classes.jsa"
# Set only for the training run: where the JVM dumps the classes it loaded.
DUMP_VARIABLE = "MMON_JVM_ARCHIVE_DUMP"


def archive_path(env: Mapping[str, str]) -> Path | None:
    """Where the archive lives; None when switched off (``MMON_JVM_ARCHIVE=off``)."""
    value = env.get(params.JVM_ARCHIVE, "").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else DEFAULT_PATH


def java_options(env: Mapping[str, str]) -> list[str]:
    """Driver JVM options: dump (training run), map the archive if there is one, or nothing."""
    dump = env.get(DUMP_VARIABLE)
    if dump:
        return [f"-XX:ArchiveClassesAtExit={dump}"]
    path = archive_path(env)
    if path is None or not path.is_file():
        return []
    # A stale archive is refused by the JVM; its warnings would only repeat in every job log.
    return [f"-XX:SharedArchiveFile={path}", "-Xshare:auto", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]


def stamp() -> str:
    """What the archive depends on: the JVM build and the PySpark (Spark jars) version."""
    import pyspark

    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    try:
        version = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        version = f"unknown ({exc})"
    return json.dumps({"java": version, "pyspark": pyspark.__version__}, sort_keys=True)


def _stamp_file(path: Path) -> Path:
    return path.with_name(path.name + ".stamp")


def is_current(path: Path) -> bool:
    stamp_file = _stamp_file(path)
    return path.is_file() and stamp_file.is_file() and stamp_file.read_text() == stamp()


def _training_data(root: Path) -> dict[str, Path]:
    """A small CSV dataset and a capture tree of the same features (one hour)."""
    rows = []
    for i in range(400):
        rows.append([f"{(i * 37) % 101 / 7:.4f}", str(i % 13), "" if i % 50 == 0 else f"c{i % 5}", "true" if i % 2 else "false"])
    csv_path = root / "train.csv"
    csv_path.write_text("label,x,colour,flag\n" + "\n".join(",".join(r) for r in rows) + "\n")
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    hour = root / "capture" / "ep" / "AllTraffic" / start.strftime("%Y/%m/%d/%H")
    hour.mkdir(parents=True)
    lines = []
    for i, r in enumerate(rows):
        when = (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(json.dumps({
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": ",".join(r[1:]), "encoding": "CSV"},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": r[0], "encoding": "CSV"},
            },
            "eventMetadata": {"eventId": str(i), "inferenceTime": when},
            "eventVersion": "0",
        }))
    (hour / "00-00-000-train.jsonl").write_text("\n".join(lines) + "\n")
    return {"csv": csv_path, "capture": root / "capture", "start": start}


def _train(work: Path) -> None:
    """Run a baseline and a monitoring job in this process (one JVM), then stop the JVM so that
    it writes the archive before this process exits."""
    from pyspark import SparkContext

    from .entrypoint import main as job_main

    data = _training_data(work)
    common = {DUMP_VARIABLE: os.environ[DUMP_VARIABLE], params.SPARK_MASTER: "local[*]"}
    for name, extra in (
        ("baseline", {params.DATASET_SOURCE: str(data["csv"]), params.DATASET_FORMAT: json.dumps({"csv": {"header": True}})}),
        ("monitor", {
            params.DATASET_SOURCE: str(data["capture"]),
            params.DATASET_FORMAT: json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}),
            params.BASELINE_STATISTICS: str(work / "baseline" / "output" / params.STATISTICS_FILE),
            params.BASELINE_CONSTRAINTS: str(work / "baseline" / "output" / params.CONSTRAINTS_FILE),
            params.START_TIME: data["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            params.END_TIME: (data["start"] + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            params.PUBLISH_CLOUDWATCH_METRICS: "Enabled",
        }),
    ):
        base = work / name
        env = {**common, **extra, params.BASE_DIR: str(base), params.OUTPUT_PATH: str(base / "output")}
        if job_main(env) != 0:
            raise SystemExit(f"training {name} job failed: {(base / params.MESSAGE_FILE).read_text()}")
    gateway = SparkContext._gateway
    SparkContext.getOrCreate().stop()
    if gateway is not None and getattr(gateway, "proc", None) is not None:
        gateway.proc.stdin.close()  # the gateway JVM exits when its stdin closes
        gateway.proc.wait(timeout=300)


def build(path: Path) -> Path:
    """Make the archive at ``path`` (atomically) with a training run in a child process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="mmon-cds-") as work:
        env = {**os.environ, DUMP_VARIABLE: str(tmp), "MMON_TRAIN_DIR": work}
        env.pop(params.SPARK_CONF, None)
        proc = subprocess.run([sys.executable, "-m", "container.jvm_archive", "--train"], env=env, capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"the training run did not produce an archive (exit {proc.returncode}):\n{tail}")
    os.replace(tmp, path)
    _stamp_file(path).write_text(stamp())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m container.jvm_archive", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help=f"archive path (default: $MMON_JVM_ARCHIVE or {DEFAULT_PATH})")
    parser.add_argument("--if-stale", action="store_true", help="do nothing when the archive is current")
    parser.add_argument("--train", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.train:
        logging.basicConfig(level=logging.WARNING)
        _train(Path(os.environ["MMON_TRAIN_DIR"]))
        return 0
    path = args.output or archive_path(os.environ) or DEFAULT_PATH
    if args.if_stale and is_current(path):
        print(f"jvm_archive: {path} is current", file=sys.stderr)
        return 0
    try:
        build(path)
    except RuntimeError as exc:
        print(f"jvm_archive: {exc}", file=sys.stderr)
        return 1
    print(f"jvm_archive: wrote {path} ({path.stat().st_size >> 20} MiB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
