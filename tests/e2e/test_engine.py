"""The local driver as a user meets it: no JVM, the same bytes for the same input."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from container.entrypoint import main

ROOT = Path(__file__).resolve().parents[2]
CSV_HEADER = '{"csv": {"header": true}}'


def _dataset(path: Path, rows: int = 60_000) -> Path:
    rng = np.random.default_rng(17)
    frame = pd.DataFrame({
        "x": rng.normal(5, 2, rows).round(5),
        "k": rng.poisson(4, rows),
        "ids": [f"u{i}" for i in rng.integers(0, 10**9, rows)],
        "c": rng.choice(["a", "b", "c"], rows),
    })
    frame.loc[frame.index % 37 == 0, "x"] = None
    frame.to_csv(path, index=False)
    return path


def test_two_runs_give_byte_identical_reports_whatever_the_threads(tmp_path):
    """The KLL sketch compacts here (60,000 values); the reports must still not vary."""
    source = _dataset(tmp_path / "data.csv")
    outputs = []
    for run, threads in enumerate(("1", "2", "2", "5")):
        out = tmp_path / f"out{run}"
        env = {"SAGEMAKER_BASE_DIR": str(tmp_path / f"ml{run}"), "output_path": str(out),
               "dataset_source": str(source), "dataset_format": CSV_HEADER, "MMON_THREADS": threads}
        assert main(env) == 0
        outputs.append(((out / "statistics.json").read_bytes(), (out / "constraints.json").read_bytes()))
    import json

    sketch = json.loads(outputs[0][0])["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]
    assert len(sketch["data"]) > 1  # the sketch has compacted
    assert all(o == outputs[0] for o in outputs[1:])


def test_a_local_job_succeeds_where_java_cannot_start(tmp_path):
    """No JVM for a local job: a `java` that fails first on PATH, no JAVA_HOME, and PySpark
    never imported."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "java"
    fake.write_text("#!/bin/sh\necho 'java: cannot start' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("JAVA_HOME", "MMON_SPARK_MASTER", "SPARK_HOME")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    code = (
        "import sys; from container.cli import main; rc = main(sys.argv[1:]); "
        "assert 'pyspark' not in sys.modules, 'pyspark was imported'; sys.exit(rc)"
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", code, "baseline", str(ROOT / "sample" / "housing.csv"), "--output", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Completed: Job completed successfully" in proc.stdout
    assert subprocess.run(["java", "-version"], env=env, capture_output=True).returncode != 0
    assert (out / "statistics.json").exists() and (out / "constraints.json").exists()

    # and a monitoring job on captured data, the same way
    from datetime import datetime, timezone

    from tests.capture_tools import record, times, write_capture

    housing = pd.read_csv(ROOT / "sample" / "housing.csv", dtype=str)
    start = datetime(2024, 3, 5, 11, tzinfo=timezone.utc)
    rows = [list(r) for r in housing.itertuples(index=False)]
    write_capture(tmp_path / "capture", [record(r[:-1], [r[-1]], t) for r, t in zip(rows, times(start, len(rows)))])
    proc = subprocess.run(
        [sys.executable, "-c", code, "monitor", str(tmp_path / "capture"), "--format", "capture",
         "--statistics", str(out / "statistics.json"), "--constraints", str(out / "constraints.json"),
         "--start-time", "2024-03-05T11:00:00Z", "--end-time", "2024-03-05T12:00:00Z", "--output", str(tmp_path / "report")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("Completed")
    assert (tmp_path / "report" / "constraint_violations.json").exists()


def test_two_monitoring_runs_on_the_same_capture_give_byte_identical_reports(tmp_path):
    from tests.capture_tools import write_capture
    from tests.e2e.test_monitoring_job import CAPTURE_FORMAT, H11, WINDOW, make_frame, rows_to_records

    make_frame(5000, seed=1).to_csv(tmp_path / "train.csv", index=False)
    base = tmp_path / "base"
    assert main({"SAGEMAKER_BASE_DIR": str(tmp_path / "mlb"), "output_path": str(base),
                 "dataset_source": str(tmp_path / "train.csv"), "dataset_format": CSV_HEADER}) == 0
    frame = make_frame(12_000, seed=9, shift=0.5)
    write_capture(tmp_path / "capture", rows_to_records(frame, H11), lines_per_file=1500)
    reports = []
    for run, threads in enumerate(("1", "2", "3")):
        out = tmp_path / f"out{run}"
        env = {"SAGEMAKER_BASE_DIR": str(tmp_path / f"ml{run}"), "output_path": str(out), "MMON_THREADS": threads,
               "dataset_source": str(tmp_path / "capture"), "dataset_format": CAPTURE_FORMAT,
               "baseline_statistics": str(base / "statistics.json"), "baseline_constraints": str(base / "constraints.json"),
               **WINDOW}
        assert main(env) == 0
        reports.append(((out / "statistics.json").read_bytes(), (out / "constraint_violations.json").read_bytes()))
    assert b"baseline_drift_check" in reports[0][1]
    assert reports[0] == reports[1] == reports[2]
