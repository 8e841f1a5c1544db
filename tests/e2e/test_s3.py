"""S3 locations against moto's S3 server over real HTTP (no in-process mocks)."""
from __future__ import annotations

import json
import socket
from datetime import datetime, timezone
from pathlib import Path

import pytest

from container import storage
from container.entrypoint import main
from tests.capture_tools import record, times, write_capture
from tests.conftest import REFERENCE

BUCKET = "mmon-test-bucket"


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    client.delete_bucket(Bucket=BUCKET)


def keys(client, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def run(tmp_path: Path, **env) -> tuple[int, str]:
    ml = tmp_path / "ml"
    code = main({"SAGEMAKER_BASE_DIR": str(ml), **{k: str(v) for k, v in env.items()}})
    return code, (ml / "output" / "message").read_text()


def test_baseline_then_monitoring_from_and_to_s3(s3, tmp_path, caplog):
    s3.upload_file(str(REFERENCE / "housing" / "housing.csv"), BUCKET, "data/train/housing.csv")
    code, message = run(
        tmp_path / "b", dataset_source=f"s3://{BUCKET}/data/train", output_path=f"s3://{BUCKET}/baseline",
        dataset_format='{"csv": {"header": true}}',
    )
    assert (code, message) == (0, "Completed: Job completed successfully with no violations.")
    assert keys(s3, "baseline/") == ["baseline/constraints.json", "baseline/statistics.json"]

    # a capture tree over three hours; only the window's hour is downloaded
    local = tmp_path / "capture"
    housing = (REFERENCE / "housing" / "housing.csv").read_text().splitlines()[1:]
    records = []
    for hour in (9, 10, 11):
        start = datetime(2021, 7, 7, hour, tzinfo=timezone.utc)
        rows = [line.split(",") for line in housing[:30]]
        records += [record(r[:-1], ["24.0"], t) for r, t in zip(rows, times(start, len(rows)))]
    for path in write_capture(local, records, lines_per_file=10):
        s3.upload_file(str(path), BUCKET, "capture/" + path.relative_to(local).as_posix())
    code, message = run(
        tmp_path / "m", dataset_source=f"s3://{BUCKET}/capture", output_path=f"s3://{BUCKET}/reports/2021/07/07/11",
        dataset_format='{"sagemakerCaptureJson": {}}', start_time="2021-07-07T10:00:00Z", end_time="2021-07-07T11:00:00Z",
        baseline_statistics=f"s3://{BUCKET}/baseline/statistics.json",
        baseline_constraints=f"s3://{BUCKET}/baseline/constraints.json",
    )
    assert code == 0 and message.startswith("CompletedWithViolations"), message
    assert "Downloaded 3 of 9 objects" in caplog.text
    assert keys(s3, "reports/") == ["reports/2021/07/07/11/constraint_violations.json", "reports/2021/07/07/11/statistics.json"]
    stats = json.loads(s3.get_object(Bucket=BUCKET, Key="reports/2021/07/07/11/statistics.json")["Body"].read())
    assert stats["dataset"]["item_count"] == 30


def test_missing_bucket(s3, tmp_path):
    code, message = run(
        tmp_path, dataset_source="s3://no-such-bucket-here/data", output_path=str(tmp_path / "out"),
        dataset_format='{"csv": {"header": true}}',
    )
    assert code == 255 and message.startswith("Failed: [S3_BUCKET_MISSING] S3 bucket no-such-bucket-here")


def test_missing_output_bucket_fails_before_work(s3, tmp_path):
    code, message = run(
        tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv", output_path="s3://no-such-output-bucket/x",
        dataset_format='{"csv": {"header": true}}',
    )
    assert code == 255 and "[S3_BUCKET_MISSING]" in message


def test_interrupted_upload_leaves_no_partial_reports(s3, tmp_path, monkeypatch):
    real_put = storage._put
    calls = []

    def flaky(client, bucket, key, path):
        calls.append(key)
        if len(calls) == 2:
            raise ConnectionError("connection reset by peer")
        real_put(client, bucket, key, path)

    monkeypatch.setattr(storage, "_put", flaky)
    code, message = run(
        tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv", output_path=f"s3://{BUCKET}/out",
        dataset_format='{"csv": {"header": true}}',
    )
    assert code == 255 and message.startswith("Failed: [S3_ERROR] S3 upload of"), message
    assert len(calls) == 2  # the first report did reach S3 ...
    assert keys(s3, "out/") == []  # ... and was removed again


def test_access_denied(s3, tmp_path, monkeypatch):
    """moto's server with authentication switched on refuses our (unknown) key with HTTP 403."""
    import moto.settings
    from moto.core.responses import ActionAuthenticatorMixin

    s3.upload_file(str(REFERENCE / "housing" / "housing.csv"), BUCKET, "secret/housing.csv")
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0)
    monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
    code, message = run(
        tmp_path, dataset_source=f"s3://{BUCKET}/secret", output_path=str(tmp_path / "out"),
        dataset_format='{"csv": {"header": true}}',
    )
    monkeypatch.setattr(moto.settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
    assert code == 255 and message.startswith(f"Failed: [S3_ACCESS_DENIED] Access denied to s3://{BUCKET}/secret (listing)"), message


def test_put_metric_data_outside_sagemaker(s3, tmp_path):
    """publish_cloudwatch_metrics=Enabled plus MMON_CLOUDWATCH_PUT_METRIC_DATA=Enabled: the metric
    file is written and the same metrics reach CloudWatch (moto's server) with their dimensions."""
    import boto3

    base = tmp_path / "base"
    assert run(base, dataset_source=REFERENCE / "housing" / "housing.csv", output_path=base / "out",
               dataset_format='{"csv": {"header": true}}')[0] == 0
    local = tmp_path / "capture"
    rows = [line.split(",") for line in (REFERENCE / "housing" / "housing.csv").read_text().splitlines()[1:40]]
    start = datetime(2021, 7, 7, 10, tzinfo=timezone.utc)
    write_capture(local, [record(r[1:], [r[0]], t) for r, t in zip(rows, times(start, len(rows)))])
    code, message = run(
        tmp_path / "m", dataset_source=local, output_path=tmp_path / "m" / "out",
        dataset_format='{"sagemakerCaptureJson": {}}', start_time="2021-07-07T10:00:00Z", end_time="2021-07-07T11:00:00Z",
        baseline_statistics=base / "out" / "statistics.json", baseline_constraints=base / "out" / "constraints.json",
        publish_cloudwatch_metrics="Enabled", sagemaker_endpoint_name="housing", sagemaker_monitoring_schedule_name="hourly",
        MMON_CLOUDWATCH_PUT_METRIC_DATA="Enabled",
    )
    assert code == 0, message
    cw = boto3.client("cloudwatch")
    names = {m["MetricName"] for m in cw.list_metrics(Namespace="aws/sagemaker/Endpoints/data-metrics")["Metrics"]}
    assert {"feature_non_null_crim", "feature_data_crim", "feature_baseline_drift_crim"} <= names
    stats = cw.get_metric_statistics(
        Namespace="aws/sagemaker/Endpoints/data-metrics", MetricName="feature_data_crim",
        Dimensions=[{"Name": "Endpoint", "Value": "housing"}, {"Name": "MonitoringSchedule", "Value": "hourly"}],
        StartTime=datetime(2021, 7, 7, 9, tzinfo=timezone.utc), EndTime=datetime(2021, 7, 7, 12, tzinfo=timezone.utc),
        Period=3600, Statistics=["SampleCount", "Maximum"],
    )["Datapoints"]
    assert stats and stats[0]["SampleCount"] == 39.0
