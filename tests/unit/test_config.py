import json

import pytest

from analyzer.errors import InputError
from container.config import (
    CaptureFormat,
    CsvFormat,
    JobConfig,
    JsonFormat,
    ParquetFormat,
    Paths,
    merged_environment,
    parse_dataset_format,
)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ('{"csv": {"header": true, "output_columns_position": "START"}}', CsvFormat(header=True)),
        ('{"csv": {"header": true, "output_columns_position": "END"}}', CsvFormat(header=True, output_columns_position="END")),
        ('{"csv": {}}', CsvFormat(header=False)),  # the image's default is no header
        ('{"csv": {"header": "true"}}', CsvFormat(header=True)),
        ('{"Csv": {"Header": false}}', CsvFormat(header=False)),  # the service's API shape
        ('{"csv": {"header": true, "field_delimiter": ";"}}', CsvFormat(header=True, field_delimiter=";")),
        ('{"json": {"lines": true}}', JsonFormat(lines=True)),
        ('{"json": {"line": false}}', JsonFormat(lines=False)),
        ('{"Json": {"Line": true}}', JsonFormat(lines=True)),
        ('{"parquet": {}}', ParquetFormat()),
        ('{"Parquet": {}}', ParquetFormat()),
        ('{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput"]}}', CaptureFormat(("endpointInput",))),
        ('{"sagemakerCaptureJson": {}}', CaptureFormat()),
        ('{"csv": {"header": true}, "compression": "gzip"}', CsvFormat(header=True)),
    ],
)
def test_dataset_format_variants(raw, expected):
    assert parse_dataset_format(raw) == expected


@pytest.mark.parametrize(
    "raw,code",
    [
        (None, "ENV_MISSING"),
        ("", "ENV_MISSING"),
        ("{csv", "DATASET_FORMAT_INVALID"),
        ("[1]", "DATASET_FORMAT_INVALID"),
        ('{"csv": {}, "json": {}}', "DATASET_FORMAT_INVALID"),
        ('{"avro": {}}', "DATASET_FORMAT_UNSUPPORTED"),
        ('{"csv": {"output_columns_position": "MIDDLE"}}', "DATASET_FORMAT_INVALID"),
        ('{"csv": {"header": "maybe"}}', "DATASET_FORMAT_INVALID"),
        ('{"csv": "yes"}', "DATASET_FORMAT_INVALID"),
    ],
)
def test_dataset_format_errors(raw, code):
    with pytest.raises(InputError) as info:
        parse_dataset_format(raw)
    assert info.value.code == code


def test_processing_job_config_environment_wins_over_process_env(tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "processingjobconfig.json").write_text(
        json.dumps({"Environment": {"dataset_source": "/from/file", "output_path": "/out"}})
    )
    env = merged_environment({"dataset_source": "/from/env", "other": "kept"}, Paths(tmp_path))
    assert env["dataset_source"] == "/from/file"
    assert env["output_path"] == "/out"
    assert env["other"] == "kept"


def test_job_config_reads_times_and_rejects_reversed_window(tmp_path):
    base = {"dataset_source": "/d", "output_path": "/o", "dataset_format": '{"csv": {}}'}
    cfg = JobConfig.from_environ({**base, "start_time": "2021-05-06T22:00:00Z", "end_time": "2021-05-06T23:00:00Z"}, Paths(tmp_path))
    assert (cfg.end_time - cfg.start_time).total_seconds() == 3600
    assert not cfg.is_monitoring
    with pytest.raises(InputError) as info:
        JobConfig.from_environ({**base, "start_time": "2021-05-06T23:00:00Z", "end_time": "2021-05-06T22:00:00Z"}, Paths(tmp_path))
    assert info.value.code == "TIME_WINDOW_INVALID"


@pytest.mark.parametrize("missing", ["dataset_source", "output_path", "dataset_format"])
def test_required_parameters(tmp_path, missing):
    env = {"dataset_source": "/d", "output_path": "/o", "dataset_format": '{"csv": {}}'}
    del env[missing]
    with pytest.raises(InputError) as info:
        JobConfig.from_environ(env, Paths(tmp_path))
    assert info.value.code == "ENV_MISSING" and info.value.params["name"] == missing
