"""S3 locations against moto's S3 server over real HTTP (no in-process mocks)."""
from __future__ import annotations

import gzip
import json
import os
import re
import socket
import sys
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
    assert keys(s3, "baseline/") == ["baseline/constraints.json", "baseline/report.html", "baseline/statistics.json"]

    # a capture tree over three hours; only the window's hour is read (streamed)
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
    assert "Reading 3 objects (" in caplog.text and f"MB) from s3://{BUCKET}/capture" in caplog.text
    assert keys(s3, "reports/") == ["reports/2021/07/07/11/constraint_violations.json", "reports/2021/07/07/11/report.html",
                                  "reports/2021/07/07/11/statistics.json"]
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


# ------------------------------------------------------------------ datasets streamed from S3
_WRITES: list[str] | None = None  # paths opened for writing while recording (an audit hook)


def _audit(event: str, args: tuple) -> None:
    if event != "open" or _WRITES is None:
        return
    path, mode, flags = args
    if not isinstance(path, (str, bytes, os.PathLike)):
        return  # a file descriptor
    writing = (flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND)) if isinstance(flags, int) and flags else \
        any(c in str(mode or "") for c in "wax+")
    if writing:
        _WRITES.append(os.fsdecode(path))


@pytest.fixture
def file_writes():
    """Every file the test's code opens for writing (Python's ``open`` audit event: boto3's
    downloads, shutil copies, tempfile files all raise it), __pycache__ left out."""
    global _WRITES
    if not getattr(sys, "_mmon_write_audit", False):
        sys.addaudithook(_audit)  # hooks cannot be removed: this one records only inside the fixture
        sys._mmon_write_audit = True
    _WRITES = []
    try:
        yield _WRITES
    finally:
        _WRITES = None


def _no_download(monkeypatch) -> list:
    calls: list = []
    real = storage.download_tree
    monkeypatch.setattr(storage, "download_tree", lambda *a, **k: calls.append(a) or real(*a, **k))
    return calls


def _streamed(tmp_path: Path, writes: list[str], downloads: list) -> None:
    """The job wrote nothing but its own reports and message (under ``tmp_path``): a dataset
    fetched to disk (boto3's download_file, a copy) would show up as files written elsewhere."""
    elsewhere = [w for w in writes if "__pycache__" not in w and not Path(w).resolve().is_relative_to(tmp_path.resolve())]
    assert elsewhere == [] and downloads == []
    assert any(w.endswith("statistics.json") for w in writes) or any(".statistics.json." in w for w in writes)


def _reports(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.json"))}


@pytest.mark.parametrize("name", ["housing.csv", "housing.csv.gz", "housing.jsonl", "housing.parquet"])
def test_dataset_streamed_from_s3_same_reports_as_local(s3, tmp_path, monkeypatch, caplog, file_writes, name):
    """CSV, gzipped CSV, JSON Lines and Parquet on S3 give the reports of the same files on disk,
    and the job writes no file but its reports: the objects are streamed, not downloaded."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    data = tmp_path / "local" / "part"
    data.mkdir(parents=True)
    text = (REFERENCE / "housing" / "housing.csv").read_bytes()
    if name.endswith(".gz"):
        (data / name).write_bytes(gzip.compress(text))
        fmt = '{"csv": {"header": true}}'
    elif name.endswith(".jsonl"):
        table = pcsv.read_csv(REFERENCE / "housing" / "housing.csv")
        (data / name).write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
        fmt = '{"json": {"lines": true}}'
    elif name.endswith(".parquet"):
        pq.write_table(pcsv.read_csv(REFERENCE / "housing" / "housing.csv"), data / name, row_group_size=100)
        fmt = '{"parquet": {}}'
    else:
        (data / name).write_bytes(text)
        fmt = '{"csv": {"header": true}}'
    (data / "second").mkdir()  # a second file in a sub-folder, and what a listing must skip
    (data / "second" / name).write_bytes((data / name).read_bytes())
    (data / "_SUCCESS").write_bytes(b"")
    (data / f".{name}.crc").write_bytes(b"x")
    for path in data.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, "ds/part/" + path.relative_to(data).as_posix())
    s3.put_object(Bucket=BUCKET, Key="ds/part/empty-folder/", Body=b"")  # a console "folder"
    s3.put_object(Bucket=BUCKET, Key="ds/part-other/x.csv", Body=b"not,this\n1,2\n")  # same prefix, other folder

    assert run(tmp_path / "l", dataset_source=data, output_path=tmp_path / "l" / "out", dataset_format=fmt)[0] == 0
    file_writes.clear()
    downloads = _no_download(monkeypatch)
    code, message = run(tmp_path / "s", dataset_source=f"s3://{BUCKET}/ds/part", output_path=tmp_path / "s" / "out",
                        dataset_format=fmt)
    assert code == 0, message
    _streamed(tmp_path, file_writes, downloads)
    assert _reports(tmp_path / "s" / "out") == _reports(tmp_path / "l" / "out")
    assert json.loads((tmp_path / "s" / "out" / "statistics.json").read_text())["dataset"]["item_count"] == 1012
    assert f"Reading 2 objects ({2 * (data / name).stat().st_size / 1e6:.1f} MB) from s3://{BUCKET}/ds/part" in caplog.text


def test_capture_tree_streamed_from_s3_same_reports_as_local(s3, tmp_path, monkeypatch, caplog, file_writes):
    base = tmp_path / "base"
    assert run(base, dataset_source=REFERENCE / "housing" / "housing.csv", output_path=base / "out",
               dataset_format='{"csv": {"header": true}}')[0] == 0
    local = tmp_path / "capture"
    housing = (REFERENCE / "housing" / "housing.csv").read_text().splitlines()[1:]
    records = []
    for hour in (9, 10, 11):
        start = datetime(2021, 7, 7, hour, tzinfo=timezone.utc)
        rows = [line.split(",") for line in housing[hour * 40: hour * 40 + 60]]
        records += [record(r[:-1], [r[-1]], t) for r, t in zip(rows, times(start, len(rows)))]
    for path in write_capture(local, records, lines_per_file=7):
        key = "capture/" + path.relative_to(local).as_posix()
        if path.name.startswith("01-"):  # some files gzipped, as a pipeline may leave them
            s3.put_object(Bucket=BUCKET, Key=key + ".gz", Body=gzip.compress(path.read_bytes()))
            path.with_name(path.name + ".gz").write_bytes(gzip.compress(path.read_bytes()))
            path.unlink()
        else:
            s3.upload_file(str(path), BUCKET, key)
    job = {"dataset_format": '{"sagemakerCaptureJson": {}}', "start_time": "2021-07-07T10:00:00Z",
           "end_time": "2021-07-07T11:00:00Z", "baseline_statistics": base / "out" / "statistics.json",
           "baseline_constraints": base / "out" / "constraints.json"}
    local_code, _ = run(tmp_path / "l", dataset_source=local, output_path=tmp_path / "l" / "out", **job)
    file_writes.clear()
    downloads = _no_download(monkeypatch)
    code, message = run(tmp_path / "s", dataset_source=f"s3://{BUCKET}/capture", output_path=tmp_path / "s" / "out", **job)
    assert code == local_code, message
    _streamed(tmp_path, file_writes, downloads)
    assert _reports(tmp_path / "s" / "out") == _reports(tmp_path / "l" / "out")
    assert json.loads((tmp_path / "s" / "out" / "statistics.json").read_text())["dataset"]["item_count"] == 60
    assert "Reading 9 objects (" in caplog.text  # 60 lines of the window's hour in files of 7 lines


def test_s3_listing_rules(s3):
    """Objects under the prefix as a folder, sorted as local paths are; hidden parts, markers,
    checksums and folder objects skipped; an object URI is that object; nothing there: missing."""
    from analyzer.errors import InputError
    from container.dataset import data_file_sizes, list_data_files

    for key in ["d/b/2.csv", "d/a-c.csv", "d/a/1.csv", "d/_SUCCESS", "d/.hidden/x.csv", "d/a/_temporary/y.csv",
                "d/a/1.csv.crc", "d/sub/", "d2/z.csv", "only/_marker"]:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"h\n1\n")
    uri = f"s3://{BUCKET}/d"
    assert list_data_files(uri) == [f"{uri}/a/1.csv", f"{uri}/a-c.csv", f"{uri}/b/2.csv"]
    assert list_data_files(uri + "/") == list_data_files(uri)
    assert data_file_sizes(f"{uri}/a/1.csv") == {f"{uri}/a/1.csv": 4}
    assert list_data_files(f"s3://{BUCKET}/d2") == [f"s3://{BUCKET}/d2/z.csv"]
    for source, code in [(f"s3://{BUCKET}/nothing", "DATASET_SOURCE_MISSING"), (f"s3://{BUCKET}/d/a/1.cs", "DATASET_SOURCE_MISSING"),
                         (f"s3://{BUCKET}/only", "DATASET_NO_FILES"), ("s3://no-such-bucket-here/x", "S3_BUCKET_MISSING")]:
        with pytest.raises(InputError) as caught:
            list_data_files(source)
        assert caught.value.code == code, (source, str(caught.value))


def test_missing_prefix(s3, tmp_path):
    code, message = run(
        tmp_path, dataset_source=f"s3://{BUCKET}/no/such/prefix", output_path=str(tmp_path / "out"),
        dataset_format='{"csv": {"header": true}}',
    )
    assert code == 255 and message.startswith(f"Failed: [DATASET_SOURCE_MISSING] dataset_source s3://{BUCKET}/no/such/prefix"), message


def test_stream_resumes_after_a_broken_connection(s3, monkeypatch):
    """A GET that breaks mid-stream is resumed from the byte it stopped at (a ranged GET)."""
    from urllib3.exceptions import ProtocolError

    body = bytes(range(256)) * 4096  # 1 MiB
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=body)
    real_get = storage._ObjectReader._get
    ranges = []

    class Breaking:
        def __init__(self, inner):
            self.inner, self.delivered = inner, 0

        def read(self, n):
            if self.delivered >= 300_000:
                raise ProtocolError("Connection broken: IncompleteRead")
            data = self.inner.read(min(n, 100_000))
            self.delivered += len(data)
            return data

        def close(self):
            self.inner.close()

    def get(self):
        ranges.append(self._position)
        return Breaking(real_get(self)) if len(ranges) == 1 else real_get(self)

    monkeypatch.setattr(storage._ObjectReader, "_get", get)
    with storage.open_object(f"s3://{BUCKET}/big.bin") as fh:
        assert fh.read() == body
    assert ranges == [0, 300_000]


def test_spark_jobs_still_download_the_dataset(s3, tmp_path):
    """Spark's readers read files by path: for a Spark job the dataset is fetched first."""
    from container.config import JobConfig, Paths

    s3.upload_file(str(REFERENCE / "housing" / "housing.csv"), BUCKET, "train/housing.csv")
    env = {"dataset_source": f"s3://{BUCKET}/train", "output_path": str(tmp_path / "out"),
           "dataset_format": '{"csv": {"header": true}}'}
    paths = Paths(tmp_path / "ml")
    streamed, _ = storage.localize(JobConfig.from_environ(env, paths), tmp_path / "a")
    assert streamed.dataset_source == f"s3://{BUCKET}/train" and not (tmp_path / "a" / "dataset").exists()
    spark, _ = storage.localize(JobConfig.from_environ({**env, "MMON_SPARK_MASTER": "local[1]"}, paths), tmp_path / "b")
    assert spark.dataset_source == str(tmp_path / "b" / "dataset")
    assert (tmp_path / "b" / "dataset" / "housing.csv").read_bytes() == (REFERENCE / "housing" / "housing.csv").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="train-other/x.csv", Body=b"not,this\n")  # same prefix, not in the folder
    again, _ = storage.localize(JobConfig.from_environ({**env, "MMON_SPARK_MASTER": "local[1]"}, paths), tmp_path / "c")
    assert again.dataset_source == str(tmp_path / "c" / "dataset")
    assert sorted(p.name for p in (tmp_path / "c" / "dataset").rglob("*") if p.is_file()) == ["housing.csv"]


def test_stream_that_keeps_breaking_fails_with_s3_error(s3, tmp_path, monkeypatch):
    """A connection that breaks again after each resume ends the job with S3_ERROR naming the object."""
    from urllib3.exceptions import ProtocolError

    text = (REFERENCE / "housing" / "housing.csv").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="flaky/housing.csv.gz", Body=gzip.compress(text * 20))
    real_get = storage._ObjectReader._get

    class Breaking:
        def __init__(self, inner, allowed):
            self.inner, self.allowed = inner, allowed

        def read(self, n):
            if self.allowed <= 0:
                raise ProtocolError("Connection broken")
            data = self.inner.read(min(n, self.allowed))
            self.allowed -= len(data)
            return data

        def close(self):
            self.inner.close()

    monkeypatch.setattr(storage._ObjectReader, "_get", lambda self: Breaking(real_get(self), 0 if self._position else 20_000))
    code, message = run(tmp_path, dataset_source=f"s3://{BUCKET}/flaky", output_path=tmp_path / "out",
                        dataset_format='{"csv": {"header": true}}')
    assert code == 255 and message.startswith(
        f"Failed: [S3_ERROR] S3 read of s3://{BUCKET}/flaky/housing.csv.gz failed: Connection broken"), message


def test_preprocessor_reads_a_capture_tree_streamed_from_s3(s3, tmp_path, monkeypatch, file_writes):
    """The users' preprocessor reads the window's capture files from S3 as they stream."""
    local = tmp_path / "capture"
    rows = [line.split(",") for line in (REFERENCE / "housing" / "housing.csv").read_text().splitlines()[1:]]
    records = []
    for hour in (9, 10):
        start = datetime(2021, 7, 7, hour, tzinfo=timezone.utc)
        records += [record(r[:-1], [r[-1]], t) for r, t in zip(rows[:25], times(start, 25))]
    for path in write_capture(local, records, lines_per_file=10):
        s3.upload_file(str(path), BUCKET, "pre/" + path.relative_to(local).as_posix())
    script = tmp_path / "pre.py"
    script.write_text("def preprocess_handler(r):\n    return {'price': r.endpoint_output.data}\n")
    job = {"dataset_format": '{"sagemakerCaptureJson": {}}', "start_time": "2021-07-07T10:00:00Z",
           "end_time": "2021-07-07T11:00:00Z", "record_preprocessor_script": script}
    assert run(tmp_path / "l", dataset_source=local, output_path=tmp_path / "l" / "out", **job)[0] == 0
    file_writes.clear()
    downloads = _no_download(monkeypatch)
    code, message = run(tmp_path / "s", dataset_source=f"s3://{BUCKET}/pre", output_path=tmp_path / "s" / "out", **job)
    assert code == 0, message
    _streamed(tmp_path, file_writes, downloads)
    assert _reports(tmp_path / "s" / "out") == _reports(tmp_path / "l" / "out")
    assert json.loads((tmp_path / "s" / "out" / "statistics.json").read_text())["dataset"]["item_count"] == 25


def test_model_quality_loop_from_and_to_s3(s3, tmp_path):
    """The merge job reads the capture and the ground truth from S3 and writes its part files
    under their folders in S3; the monitoring job reads them back from there."""
    sample = Path(__file__).resolve().parents[2] / "sample" / "model-quality"
    for folder in ("capture", "groundtruth"):
        for path in (sample / folder).rglob("*.jsonl"):
            s3.upload_file(str(path), BUCKET, f"mq/{folder}/" + path.relative_to(sample / folder).as_posix())
    s3.upload_file(str(sample / "baseline.csv"), BUCKET, "mq/baseline-data/baseline.csv")
    window = {"start_time": "2024-03-05T11:00:00Z", "end_time": "2024-03-05T12:00:00Z"}
    code, message = run(tmp_path / "merge", dataset_source=f"s3://{BUCKET}/mq/capture",
                        ground_truth_source=f"s3://{BUCKET}/mq/groundtruth", output_path=f"s3://{BUCKET}/mq/merge", **window)
    assert (code, message) == (0, "Completed: Job completed successfully with no violations.")
    (part,) = keys(s3, "mq/merge/")
    assert re.fullmatch(r"mq/merge/churn-endpoint/AllTraffic/2024/03/05/11/part-00000-[0-9a-f-]{36}\.c000\.jsonl", part)
    mq = {"analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification"}
    code, message = run(tmp_path / "base", dataset_source=f"s3://{BUCKET}/mq/baseline-data", output_path=f"s3://{BUCKET}/mq/baseline",
                        dataset_format='{"csv": {"header": true}}', inference_attribute="prediction",
                        probability_attribute="probability", ground_truth_attribute="label", **mq)
    assert code == 0, message
    code, message = run(tmp_path / "mon", dataset_source=f"s3://{BUCKET}/mq/merge", output_path=f"s3://{BUCKET}/mq/report",
                        dataset_format='{"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}',
                        baseline_constraints=f"s3://{BUCKET}/mq/baseline/constraints.json", probability_attribute="0",
                        **mq, **window)
    assert (code, message) == (0, "CompletedWithViolations: Job completed successfully with 7 violations.")
    assert "mq/report/constraint_violations.json" in keys(s3, "mq/report/")
