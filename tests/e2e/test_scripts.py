"""Users' preprocessor and postprocessor scripts, written as SageMaker's docs show them."""
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from container.entrypoint import main
from tests.capture_tools import record, times, write_capture
from tests.conftest import REFERENCE, read_json

PRE = '''
import json, os
def preprocess_handler(inference_record, logger):
    inputs = inference_record.endpoint_input.data.split(",")
    if inputs[0] == "drop":
        return []
    row = {"prediction": inference_record.endpoint_output.data}
    row.update({f"x{i}": v for i, v in enumerate(inputs)})
    row["tag"] = os.environ["MY_TAG"]
    logger.info("row %s", inference_record.event_metadata.event_id)
    return row
'''

POST = '''
import os, pathlib
def postprocess_handler():
    out = pathlib.Path(os.environ["output_path"])
    assert (out / "statistics.json").exists()
    (out / "post.txt").write_text(os.environ["MY_TAG"])
'''


def _env(tmp_path, **extra):
    return {"SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
            "MY_TAG": "hello", **{k: str(v) for k, v in extra.items()}}


def _message(tmp_path):
    return (tmp_path / "ml" / "output" / "message").read_text()


def _capture(tmp_path, rows):
    start = datetime(2024, 5, 1, 10, tzinfo=timezone.utc)
    records = [record(r, ["0.5"], t) for r, t in zip(rows, times(start, len(rows)))]
    records.append(record(["1", "2"], ["0.5"], start, invocationSource="ShadowExperiment"))
    write_capture(tmp_path / "capture", records)
    return tmp_path / "capture"


def test_preprocessor_on_capture_in_baseline_and_monitoring(tmp_path):
    pre = tmp_path / "pre.py"
    pre.write_text(PRE)
    capture = _capture(tmp_path, [[str(i), str(i % 3)] for i in range(200)] + [["drop", "x"]] * 5)
    fmt = '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}'
    base = tmp_path / "b"
    base.mkdir()
    code = main(_env(base, dataset_source=capture, dataset_format=fmt, record_preprocessor_script=pre))
    assert code == 0, _message(base)
    stats = read_json(base / "out" / "statistics.json")
    assert stats["dataset"]["item_count"] == 200  # 5 dropped by the script, shadow traffic skipped
    assert [(f["name"], f["inferred_type"]) for f in stats["features"]] == [
        ("prediction", "Fractional"), ("tag", "String"), ("x0", "Integral"), ("x1", "Integral"),
    ]
    mon = tmp_path / "m"
    mon.mkdir()
    capture2 = _capture(mon, [[str(i), "7.5"] for i in range(100)])
    code = main(_env(
        mon, dataset_source=capture2, dataset_format=fmt, record_preprocessor_script=pre,
        baseline_statistics=base / "out" / "statistics.json", baseline_constraints=base / "out" / "constraints.json",
        start_time="2024-05-01T10:00:00Z", end_time="2024-05-01T11:00:00Z",
    ))
    assert code == 0, _message(mon)
    pairs = [(v["feature_name"], v["constraint_check_type"]) for v in read_json(mon / "out" / "constraint_violations.json")["violations"]]
    assert ("x1", "data_type_check") in pairs


def test_preprocessor_on_csv_gets_raw_lines(tmp_path):
    pre = tmp_path / "pre.py"
    pre.write_text("def preprocess_handler(line):\n    a, b = line.rstrip('\\n').split(',')[:2]\n    return {'sum': float(a) + float(b)}\n")
    code = main(_env(tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv",
                     dataset_format='{"csv": {"header": true}}', record_preprocessor_script=pre))
    assert code == 0, _message(tmp_path)
    stats = read_json(tmp_path / "out" / "statistics.json")
    assert stats["dataset"]["item_count"] == 506 and stats["features"][0]["name"] == "sum"


def test_failing_preprocessor_fails_the_job_with_its_error(tmp_path):
    pre = tmp_path / "pre.py"
    pre.write_text("def preprocess_handler(r):\n    raise KeyError('no such field: age')\n")
    capture = _capture(tmp_path, [["1", "2"]] * 10)
    code = main(_env(tmp_path, dataset_source=capture, record_preprocessor_script=pre,
                     dataset_format='{"sagemakerCaptureJson": {}}'))
    message = _message(tmp_path)
    assert code == 255
    assert message.startswith("Failed: [SCRIPT_FAILED]") and "KeyError" in message and "no such field: age" in message
    assert not (tmp_path / "out" / "statistics.json").exists()


@pytest.mark.parametrize(
    "script,fmt,fragment",
    [
        ("def something_else(r):\n    return r\n", '{"csv": {}}', "does not define preprocess_handler()"),
        ("def preprocess_handler(r):\n    return r\n", '{"parquet": {}}', "Preprocessor script not supported for format parquet"),
        ("import no_such_module\n", '{"csv": {}}', "ModuleNotFoundError"),
    ],
)
def test_bad_preprocessor_is_rejected_before_work(tmp_path, script, fmt, fragment):
    pre = tmp_path / "pre.py"
    pre.write_text(script)
    code = main(_env(tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv", dataset_format=fmt, record_preprocessor_script=pre))
    assert code == 255 and fragment in _message(tmp_path)


def test_postprocessor_runs_after_reports_with_job_variables(tmp_path):
    post = tmp_path / "post.py"
    post.write_text(POST)
    code = main(_env(tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv",
                     dataset_format='{"csv": {"header": true}}', post_analytics_processor_script=post))
    assert code == 0, _message(tmp_path)
    assert (tmp_path / "out" / "post.txt").read_text() == "hello"


def test_failing_postprocessor_fails_the_job(tmp_path):
    post = tmp_path / "post.py"
    post.write_text("def postprocess_handler():\n    raise ValueError('bad thing')\n")
    code = main(_env(tmp_path, dataset_source=REFERENCE / "housing" / "housing.csv",
                     dataset_format='{"csv": {"header": true}}', post_analytics_processor_script=post))
    assert code == 255
    assert _message(tmp_path).startswith("Failed: [SCRIPT_FAILED] post_analytics_processor_script") and "ValueError: bad thing" in _message(tmp_path)
