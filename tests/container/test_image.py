"""The built image, run the way SageMaker runs a processing job: the job's environment, inputs
bind-mounted under /opt/ml/processing/input, outputs under /opt/ml/processing/output, and the
exit code plus /opt/ml/output/message read afterwards."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from testcontainers.core.container import DockerContainer

from tests.capture_tools import record, times, write_capture
from tests.conftest import REFERENCE, read_json
from tests.container.conftest import IMAGE

pytestmark = pytest.mark.container
PROC = "/opt/ml/processing"


def run_job(tmp: Path, env: dict, mounts: dict[Path, str], timeout: int = 300) -> tuple[int, str, Path, str]:
    """Start the image as a processing job, wait for it, return (exit code, message, output dir, logs)."""
    out, ml_output = tmp / "output", tmp / "ml-output"
    out.mkdir(parents=True, exist_ok=True)
    ml_output.mkdir(parents=True, exist_ok=True)
    container = DockerContainer(IMAGE)
    for key, value in env.items():
        container = container.with_env(key, value)
    for host, target in mounts.items():
        container = container.with_volume_mapping(str(host), target, "ro")
    container = container.with_volume_mapping(str(out), f"{PROC}/output", "rw")
    container = container.with_volume_mapping(str(ml_output), "/opt/ml/output", "rw")
    container.start()
    try:
        status = container.get_wrapped_container().wait(timeout=timeout)
        logs = b"".join(container.get_logs()).decode(errors="replace")
    finally:
        container.stop()
    message = (ml_output / "message").read_text(encoding="utf-8") if (ml_output / "message").exists() else ""
    return status["StatusCode"], message, out, logs


def test_baselining_job(docker_client, tmp_path):
    data = tmp_path / "baseline"
    data.mkdir()
    shutil.copy(REFERENCE / "housing" / "housing.csv", data)
    config = tmp_path / "config"
    config.mkdir()
    env = {
        "dataset_format": json.dumps({"csv": {"header": True, "output_columns_position": "START"}}),
        "dataset_source": f"{PROC}/input/baseline_dataset_input",
        "output_path": f"{PROC}/output",
        "publish_cloudwatch_metrics": "Disabled",
    }
    (config / "processingjobconfig.json").write_text(json.dumps({"ProcessingJobName": "baseline-suggestion-job-test", "Environment": env}))
    code, message, out, logs = run_job(
        tmp_path, {}, {data: f"{PROC}/input/baseline_dataset_input", config: "/opt/ml/config"}
    )
    assert code == 0, logs[-3000:]
    assert message == "Completed: Job completed successfully with no violations."
    stats = read_json(out / "statistics.json")
    real = read_json(REFERENCE / "housing" / "statistics.json")
    assert stats["dataset"] == real["dataset"]
    assert [f["inferred_type"] for f in stats["features"]] == [f["inferred_type"] for f in real["features"]]
    assert read_json(out / "constraints.json")["features"] == read_json(REFERENCE / "housing" / "constraints.json")["features"]


def test_monitoring_job_with_violations(docker_client, tmp_path):
    capture = tmp_path / "endpoint"
    housing = pd.read_csv(REFERENCE / "housing" / "housing.csv", dtype=str)
    from datetime import datetime, timezone

    start = datetime(2021, 7, 7, 19, tzinfo=timezone.utc)
    rows = [list(r) for r in housing.iloc[:3].itertuples(index=False)]
    write_capture(capture, [record(r[:-1], ["24.0"], t) for r, t in zip(rows, times(start, 3))])
    base = tmp_path / "baseline"
    (base / "stats").mkdir(parents=True)
    (base / "constraints").mkdir()
    shutil.copy(REFERENCE / "housing" / "statistics.json", base / "stats")
    shutil.copy(REFERENCE / "housing" / "constraints.json", base / "constraints")
    env = {
        "dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}),
        "dataset_source": f"{PROC}/input/endpoint",
        "output_path": f"{PROC}/output",
        "baseline_statistics": f"{PROC}/baseline/stats/statistics.json",
        "baseline_constraints": f"{PROC}/baseline/constraints/constraints.json",
        "start_time": "2021-07-07T19:00:00Z", "end_time": "2021-07-07T20:00:00Z",
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "housing", "sagemaker_monitoring_schedule_name": "hourly",
    }
    code, message, out, logs = run_job(tmp_path, env, {capture: f"{PROC}/input/endpoint", base: f"{PROC}/baseline"})
    assert code == 0, logs[-3000:]
    assert message == "CompletedWithViolations: Job completed successfully with 4 violations."
    violations = read_json(out / "constraint_violations.json")["violations"]
    assert sorted((v["feature_name"], v["constraint_check_type"]) for v in violations) == [
        ("chas", "data_type_check"), ("nox", "data_type_check"), ("rad", "data_type_check"), ("tax", "data_type_check"),
    ]
    metrics = (tmp_path / "ml-output" / "metrics" / "cloudwatch" / "cloudwatch_metrics.jsonl").read_text().splitlines()
    assert any(json.loads(m)["MetricName"] == "feature_non_null_crim" for m in metrics)


def test_failing_job(docker_client, tmp_path):
    data = tmp_path / "in"
    data.mkdir()
    (data / "header-only.csv").write_text("a,b\n")
    env = {"dataset_format": '{"csv": {"header": true}}', "dataset_source": f"{PROC}/input/data", "output_path": f"{PROC}/output"}
    code, message, out, logs = run_job(tmp_path, env, {data: f"{PROC}/input/data"})
    assert code == 255
    assert message.startswith("Failed: [DATASET_EMPTY]")
    assert list(out.iterdir()) == []
    assert "Traceback" not in logs


def test_stop_with_sigterm_ends_quickly_without_reports(docker_client, tmp_path):
    """SageMaker stops a job with SIGTERM: it must end within seconds, write no report, and say so."""
    data = tmp_path / "big"
    data.mkdir()
    rng = np.random.default_rng(0)
    n = 4_000_000
    pd.DataFrame({f"x{i}": rng.normal(size=n).round(5) for i in range(6)}).to_csv(data / "big.csv", index=False)
    out, ml_output = tmp_path / "output", tmp_path / "ml-output"
    out.mkdir()
    ml_output.mkdir()
    container = (
        DockerContainer(IMAGE)
        .with_env("dataset_format", '{"csv": {"header": true}}')
        .with_env("dataset_source", f"{PROC}/input/data")
        .with_env("output_path", f"{PROC}/output")
        .with_env("MMON_THREADS", "1")
        .with_volume_mapping(str(data), f"{PROC}/input/data", "ro")
        .with_volume_mapping(str(out), f"{PROC}/output", "rw")
        .with_volume_mapping(str(ml_output), "/opt/ml/output", "rw")
    )
    container.start()
    wrapped = container.get_wrapped_container()
    try:
        deadline = time.monotonic() + 120
        while b"Profiling" not in b"".join(container.get_logs()) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert time.monotonic() < deadline, "the job never started profiling"
        time.sleep(0.3)
        sent = time.monotonic()
        wrapped.kill(signal="SIGTERM")
        status = wrapped.wait(timeout=60)
        elapsed = time.monotonic() - sent
    finally:
        container.stop()
    assert status["StatusCode"] == 143
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"
    assert (ml_output / "message").read_text().startswith("Failed: [STOPPED] Job stopped by SIGTERM")
    assert [p.name for p in out.iterdir()] == []


def test_docker_run_command_from_readme(docker_client, engine_cli, tmp_path):
    """The README's `docker run` line (with podman standing in for docker where needed)."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(REFERENCE / "housing" / "housing.csv", data)
    out = tmp_path / "out"
    out.mkdir()
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    line = next(l for l in readme.splitlines() if l.startswith("docker run") and "baseline_dataset_input" in l)
    command = (
        line.replace("docker run", f"{engine_cli} run", 1)
        .replace("$PWD/data", str(data)).replace("$PWD/out", str(out)).replace("mmon-analyzer:latest", IMAGE)
    )
    proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 506
    assert (out / "constraints.json").exists()


def test_a_job_on_spark_in_the_image(docker_client, tmp_path):
    """Spark stays in the image for cluster jobs: MMON_SPARK_MASTER=local[1] runs the profiler in
    Spark's Python workers, with the same report as the default (no JVM) driver."""
    data = tmp_path / "baseline"
    data.mkdir()
    shutil.copy(REFERENCE / "housing" / "housing.csv", data)
    env = {"dataset_format": '{"csv": {"header": true}}', "dataset_source": f"{PROC}/input/data", "output_path": f"{PROC}/output"}
    code, message, out, logs = run_job(tmp_path / "spark", {**env, "MMON_SPARK_MASTER": "local[1]"}, {data: f"{PROC}/input/data"})
    assert code == 0, logs[-3000:]
    assert "Merged 1 partial profiles" in logs
    code, _, local, logs = run_job(tmp_path / "local", env, {data: f"{PROC}/input/data"})
    assert code == 0, logs[-3000:]
    assert read_json(out / "statistics.json") == read_json(local / "statistics.json")


PREPROCESSOR = """
def preprocess_handler(inference_record):
    inputs = inference_record.endpoint_input.data.split(",")
    return {"prediction": float(inference_record.endpoint_output.data), **{f"x{i}": v for i, v in enumerate(inputs)}}
"""


def test_preprocessor_script_runs_in_the_image(docker_client, tmp_path):
    """A record_preprocessor_script runs in the image (in the job's process; the preprocessor
    path needs no package beyond the run-time dependencies, tests/unit/test_preprocessor.py)."""
    from datetime import datetime, timezone

    capture = tmp_path / "endpoint"
    start = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    write_capture(capture, [record([str(i), str(i % 3)], ["0.5"], t) for i, t in zip(range(50), times(start, 50))])
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / "pre.py").write_text(PREPROCESSOR)
    env = {
        "dataset_format": json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}),
        "dataset_source": f"{PROC}/input/endpoint", "output_path": f"{PROC}/output",
        "record_preprocessor_script": f"{PROC}/code/pre.py",
        "start_time": "2024-05-01T10:00:00Z", "end_time": "2024-05-01T11:00:00Z",
    }
    code, message, out, logs = run_job(tmp_path, env, {capture: f"{PROC}/input/endpoint", code_dir: f"{PROC}/code"})
    assert code == 0, logs[-3000:]
    stats = read_json(out / "statistics.json")
    assert stats["dataset"]["item_count"] == 50
    assert [f["name"] for f in stats["features"]] == ["prediction", "x0", "x1"]


def test_model_quality_jobs_with_sagemakers_environments(docker_client, tmp_path):
    """The model-quality schedule's three jobs in the image, each with the environment SageMaker
    gives it (CONTRACT 1.3): the SDK's baseline, the merge job, then the analysis job."""
    sample = Path(__file__).resolve().parents[2] / "sample" / "model-quality"
    base_env = {"analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
                "inference_attribute": "prediction", "probability_attribute": "probability",
                "ground_truth_attribute": "label", "dataset_format": json.dumps({"csv": {"header": True}}),
                "dataset_source": f"{PROC}/input/baseline_dataset_input", "output_path": f"{PROC}/output",
                "publish_cloudwatch_metrics": "Disabled"}
    code, message, baseline, logs = run_job(tmp_path / "baseline", base_env,
                                            {sample / "baseline.csv": f"{PROC}/input/baseline_dataset_input/baseline.csv"})
    assert (code, message) == (0, "Completed: Job completed successfully with no violations."), logs[-3000:]
    assert read_json(baseline / "constraints.json")["binary_classification_constraints"]["auc"]["threshold"] == 0.9395127993393898

    merge_env = {"dataset_source": f"{PROC}/input_data", "ground_truth_source": f"{PROC}/groundtruth", "output_path": f"{PROC}/output"}
    code, message, merged, logs = run_job(tmp_path / "merge", merge_env, {
        sample / "capture" / "churn-endpoint" / "AllTraffic" / "2024" / "03" / "05" / "11":
            f"{PROC}/input_data/churn-endpoint/AllTraffic/2024/03/05/11",
        sample / "groundtruth" / "2024" / "03" / "05" / "12": f"{PROC}/groundtruth/2024/03/05/12"})
    assert (code, message) == (0, "Completed: Job completed successfully with no violations."), logs[-3000:]
    parts = list(merged.rglob("part-00000-*.c000.jsonl"))
    assert len(parts) == 1 and len(parts[0].read_text().splitlines()) == 280

    analysis_env = {"analysis_type": "MODEL_QUALITY", "baseline_constraints": "/opt/ml/processing/baseline/constraints/constraints.json",
                    "dataset_format": '{"sagemakerMergeJson":{"captureIndexNames":["endpointOutput"]}}',
                    "dataset_source": f"{PROC}/input_data", "end_time": "2024-03-05T12:00:00Z",
                    "probability_attribute": "0", "probability_threshold_attribute": "0.5",
                    "metric_time": "2024-03-05T11:00:00Z", "output_path": f"{PROC}/output",
                    "problem_type": "BinaryClassification", "publish_cloudwatch_metrics": "Enabled",
                    "sagemaker_endpoint_name": "churn-endpoint", "sagemaker_monitoring_schedule_name": "churn-mq",
                    "start_time": "2024-03-05T11:00:00Z"}
    code, message, report, logs = run_job(tmp_path / "analysis", analysis_env, {
        merged / "churn-endpoint" / "AllTraffic" / "2024" / "03" / "05" / "11": f"{PROC}/input_data/churn-endpoint/AllTraffic/2024/03/05/11",
        baseline / "constraints.json": "/opt/ml/processing/baseline/constraints/constraints.json"})
    assert code == 0 and message == "CompletedWithViolations: Job completed successfully with 7 violations.", logs[-3000:]
    stats = read_json(report / "statistics.json")
    assert stats["dataset"] == {"item_count": 280, "evaluation_time": "2024-03-05T11:00:00.000Z"}
    metrics = (tmp_path / "analysis" / "ml-output" / "metrics" / "cloudwatch" / "cloudwatch_metrics.jsonl").read_text().splitlines()
    assert {json.loads(m)["MetricName"] for m in metrics} >= {"auc", "accuracy", "true_positive_rate"}
