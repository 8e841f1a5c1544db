import json
import os
import subprocess
import sys
from pathlib import Path

from container import cli
from tests.conftest import REFERENCE, read_json

ROOT = Path(__file__).parents[2]


def test_cli_baseline_writes_reports_and_prints_status(tmp_path, capsys):
    code = cli.main(["baseline", str(ROOT / "sample" / "housing.csv"), "--output", str(tmp_path / "out"), "--spark-master", "local[2]"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "Completed: Job completed successfully with no violations."
    assert read_json(tmp_path / "out" / "statistics.json")["dataset"]["item_count"] == 506
    assert (tmp_path / "out" / "constraints.json").exists()


def test_cli_failure_exit_code_and_reason(tmp_path, capsys):
    code = cli.main(["baseline", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "out")])
    assert code == 255
    assert capsys.readouterr().out.startswith("Failed: [DATASET_SOURCE_MISSING]")


def test_python_m_container_runs_as_the_image_entrypoint(tmp_path):
    """The image's ENTRYPOINT (`python -m container`, no arguments), in a fresh process."""
    base = tmp_path / "ml"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "SAGEMAKER_BASE_DIR": str(base),
        "dataset_source": str(REFERENCE / "sdk_data_quality"),
        "dataset_format": json.dumps({"csv": {"header": False}}),
        "output_path": str(tmp_path / "out"),
        "MMON_SPARK_MASTER": "local[1]",
    }
    # the directory also holds statistics/constraints JSON: only .csv must be read
    env["dataset_source"] = str(REFERENCE / "sdk_data_quality" / "baseline_dataset.csv")
    proc = subprocess.run([sys.executable, "-m", "container"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (base / "output" / "message").read_text() == "Completed: Job completed successfully with no violations."
    assert read_json(tmp_path / "out" / "statistics.json")["features"][0]["name"] == "_c0"
    assert "Traceback" not in proc.stderr


def test_cli_monitor_against_real_baseline_with_fail_on_violations(tmp_path, capsys):
    """`mmon monitor` over a capture folder: the shifted housing capture has 4 violations."""
    capture = tmp_path / "capture" / "ep" / "AllTraffic" / "2021" / "07" / "07" / "16"
    capture.mkdir(parents=True)
    (capture / "45-47-000-x.jsonl").write_text((REFERENCE / "housing" / "capture-sample.jsonl").read_text())
    args = [
        "monitor", str(tmp_path / "capture"), "--format", "capture", "--output", str(tmp_path / "report"),
        "--statistics", str(REFERENCE / "housing" / "statistics.json"),
        "--constraints", str(REFERENCE / "housing" / "constraints.json"),
        "--start-time", "2021-07-07T16:00:00Z", "--end-time", "2021-07-07T17:00:00Z", "--spark-master", "local[2]",
    ]
    assert cli.main(args) == 0
    assert capsys.readouterr().out.strip() == "CompletedWithViolations: Job completed successfully with 4 violations."
    assert cli.main(args + ["--fail-on-violations"]) == cli.EXIT_VIOLATIONS
    assert len(read_json(tmp_path / "report" / "constraint_violations.json")["violations"]) == 4


def test_window_shortcut_is_the_last_whole_hour():
    from datetime import datetime, timezone

    now = datetime(2024, 3, 5, 0, 59, 59, tzinfo=timezone.utc)
    assert cli.window("last-hour", now) == ("2024-03-04T23:00:00Z", "2024-03-05T00:00:00Z")
    assert cli.window("last-day", now) == ("2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z")


def test_json_logs_on_request(tmp_path):
    """`--log-json`: every stderr line of the job is a JSON object (Spark's own start-up banner
    aside, which is not ours to format)."""
    proc = subprocess.run(
        [sys.executable, "-m", "container.cli", "baseline", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o"), "--log-json"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 255
    records = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    assert any(r["level"] == "ERROR" and "[DATASET_SOURCE_MISSING]" in r["message"] for r in records)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert [l for l in proc.stderr.splitlines() if l.strip() and not l.startswith("{")] == []
