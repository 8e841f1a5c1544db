"""Issue 15, field-ready: every bad input a clear ``Failed: [CODE] reason``, nothing stale or
partial left behind, and a test command that leaves the host as it found it.

One test (or one parametrised test) per item of the issue, driven only through the job's
environment (``container.entrypoint.main``), the ``mmon`` CLI, or a fresh process, so that
they hold whatever the engine underneath looks like.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from container import cli
from container.entrypoint import main
from tests.capture_tools import record, times, write_capture
from tests.conftest import read_json

ROOT = Path(__file__).parents[2]
CSV_HEADER = '{"csv": {"header": true}}'
CAPTURE_FORMAT = '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}'
H10 = datetime(2024, 3, 5, 10, tzinfo=timezone.utc)
H11 = H10 + timedelta(hours=1)
WINDOW = {"start_time": "2024-03-05T11:00:00Z", "end_time": "2024-03-05T12:00:00Z"}
REPORTS = {"statistics.json", "constraints.json", "constraint_violations.json", "report.html"}


# ------------------------------------------------------------------ helpers
def run_job(tmp_path: Path, **params) -> tuple[int, str, Path]:
    """One job through the container's entrypoint; (exit code, message, output_path)."""
    base = tmp_path / "ml"
    env = {"SAGEMAKER_BASE_DIR": str(base), "output_path": str(tmp_path / "out")}
    env.update({k: str(v) for k, v in params.items()})
    code = main(env)
    message_file = base / "output" / "message"
    message = message_file.read_text(encoding="utf-8") if message_file.is_file() else ""
    return code, message, Path(env["output_path"])


def leftovers(out: Path) -> list[str]:
    """Whatever a job left in output_path besides complete reports: partial or staged files."""
    return sorted(p.name for p in out.iterdir() if p.name not in REPORTS) if out.exists() else []


def assert_failed(result: tuple[int, str, Path], *fragments: str) -> str:
    code, message, out = result
    assert code == 255, (code, message)
    assert message.startswith("Failed: ["), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "\n" not in message and len(message.encode()) <= 1024
    assert "[INTERNAL]" not in message, message
    assert (sorted(p.name for p in out.iterdir()) if out.exists() else []) == []  # no report, no temporary file
    return message


def completed(result: tuple[int, str, Path]) -> Path:
    code, message, out = result
    assert code == 0 and message.startswith("Completed"), message
    assert leftovers(out) == []
    return out


FEATURES = ["prediction", "a", "b", "c"]


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "prediction": rng.uniform(0, 1, n).round(4),
        "a": rng.integers(0, 100, n),
        "b": rng.normal(0, 1, n).round(4),
        "c": rng.choice(["red", "green", "blue"], n),
    })


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("baseline")
    make_frame(1000, 1).to_csv(base / "train.csv", index=False)
    completed(run_job(base, dataset_source=base / "train.csv", dataset_format=CSV_HEADER))
    return base / "out"


def capture_records(n: int, start: datetime = H11, encoding: str = "CSV") -> list[dict]:
    frame = make_frame(n, 2)
    return [
        record(list(row)[1:], list(row)[:1], when, encoding=encoding)
        for row, when in zip(frame.itertuples(index=False), times(start, n))
    ]


def write_hour(root: Path, records: list, hour: datetime = H11, per_file: int = 100) -> None:
    """Capture lines (dicts or raw text) in one hour folder, as an endpoint writes them; the
    lines keep their order whatever their inferenceTime says."""
    folder = root / "my-endpoint" / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) if isinstance(r, dict) else r for r in records]
    for i in range(0, len(lines), per_file):
        (folder / f"{i // per_file:02d}-00-000-capture.jsonl").write_text("\n".join(lines[i : i + per_file]) + "\n")


def monitor(tmp_path: Path, baseline: Path, records: list, **extra) -> tuple[int, str, Path]:
    capture = tmp_path / "capture"
    write_hour(capture, records)
    return run_job(
        tmp_path, dataset_source=capture, dataset_format=CAPTURE_FORMAT,
        baseline_statistics=baseline / "statistics.json", baseline_constraints=baseline / "constraints.json",
        **{**WINDOW, **extra},
    )


# ------------------------------------------------------------------ capture: bad input ends in a named cause
def _no_capture_data(r: dict) -> dict:
    return {"eventMetadata": r["eventMetadata"], "eventVersion": "0"}


def _invalid_base64(r: dict) -> dict:
    r["captureData"]["endpointInput"].update(encoding="BASE64", data="%%% not base64 %%%")
    return r


def _binary_base64(r: dict) -> dict:
    r["captureData"]["endpointInput"].update(encoding="BASE64", data=base64.b64encode(bytes(range(128, 256))).decode())
    return r


def _unknown_encoding(r: dict) -> dict:
    r["captureData"]["endpointInput"]["encoding"] = "PROTOBUF"
    return r


def _no_inference_time(r: dict) -> dict:
    del r["eventMetadata"]["inferenceTime"]
    return r


def _bad_inference_time(r: dict) -> dict:
    r["eventMetadata"]["inferenceTime"] = "yesterday at noon"
    return r


BAD_LINES = {
    "no captureData": (_no_capture_data, "CAPTURE_TOO_MANY_BAD_LINES"),
    "invalid BASE64": (_invalid_base64, "CAPTURE_DECODE_FAILED"),
    "binary BASE64": (_binary_base64, "CAPTURE_DECODE_FAILED"),
    "unknown encoding": (_unknown_encoding, "CAPTURE_DECODE_FAILED"),
    "inferenceTime missing": (_no_inference_time, "CAPTURE_TOO_MANY_BAD_LINES"),
    "inferenceTime malformed": (_bad_inference_time, "CAPTURE_TOO_MANY_BAD_LINES"),
}


@pytest.mark.parametrize("kind", sorted(BAD_LINES))
def test_bad_capture_lines_use_the_bad_line_budget(tmp_path, baseline, kind):
    """Within MMON_CAPTURE_MAX_BAD_FRACTION the bad lines are skipped and counted; past it the
    job fails with a named cause that points at the first bad line (file and line number).
    An unparsable inferenceTime counts too (it is not silently 'outside the window')."""
    spoil, code = BAD_LINES[kind]
    records = capture_records(200)
    records[100] = spoil(records[100])
    out = completed(monitor(tmp_path / "few", baseline, records))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 199

    records = capture_records(50)
    for i in range(0, 50, 2):
        records[i] = spoil(records[i])
    message = assert_failed(monitor(tmp_path / "many", baseline, records), f"[{code}]", ".jsonl", "line 1")
    assert "25" in message


def test_blank_capture_lines_are_skipped(tmp_path, baseline):
    lines = [json.dumps(r) for r in capture_records(40)]
    lines = [x for line in lines for x in (line, "", "   \t")]
    out = completed(monitor(tmp_path, baseline, lines))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 40


def test_every_record_outside_the_window_is_no_capture_in_window(tmp_path, baseline):
    records = capture_records(30, start=H11)
    write_capture(tmp_path / "capture", records)  # in the folder of their hour
    assert_failed(monitor(tmp_path, baseline, [], start_time="2024-03-05T13:00:00Z", end_time="2024-03-05T14:00:00Z"),
                  "[NO_CAPTURE_IN_WINDOW]")
    # the hour folder of the window exists, but no record of it falls in the window
    assert_failed(monitor(tmp_path / "inside", baseline, records, start_time="2024-03-05T11:59:30Z", end_time="2024-03-05T12:00:00Z"),
                  "[NO_CAPTURE_IN_WINDOW]")


def _json_payload(r: dict, value) -> dict:
    r["captureData"]["endpointInput"].update(encoding="JSON", observedContentType="application/json", data=json.dumps(value))
    return r


def test_json_payloads_of_uneven_shapes(tmp_path, baseline):
    shapes = [
        [1, 2.5, "red"], [1], [[1, 2.0, "blue"], [3, 4.0]], {"a": 1, "b": 2.5}, {"c": "x", "z": [1, 2]},
        {"instances": [[1, 2.0, "red"], [2]]}, 5, "text", {"a": {"nested": True}}, [[1], 2, {"k": 1}], [{"a": 1}, [1, 2]],
    ]
    records = capture_records(len(shapes) * 5)
    records = [_json_payload(r, shapes[i % len(shapes)]) for i, r in enumerate(records)]
    completed(monitor(tmp_path, baseline, records))


def test_one_huge_array_record_neither_hangs_nor_opens_thousands_of_columns(tmp_path, baseline, caplog):
    """One record of 100 whose JSON payload is 20,000 numbers: counted undecodable (1 %: within
    the default budget), quickly, and the report keeps the baseline's columns."""
    records = capture_records(100)
    records[50] = _json_payload(records[50], list(range(20_000)))
    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        out = completed(monitor(tmp_path, baseline, records))
    assert time.monotonic() - started < 60
    stats = read_json(out / "statistics.json")
    assert stats["dataset"]["item_count"] == 99
    assert [f["name"] for f in stats["features"]] == FEATURES
    assert "undecodable" in caplog.text


@pytest.mark.parametrize("payload", [[], {"instances": []}, {}])
def test_an_empty_json_payload_is_one_record_without_fields(tmp_path, baseline, payload):
    records = capture_records(100)
    records[10] = _json_payload(records[10], payload)
    out = completed(monitor(tmp_path, baseline, records))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 100


# ------------------------------------------------------------------ column names
def test_column_names_with_a_backtick(tmp_path):
    csv_file = tmp_path / "data" / "tick.csv"
    csv_file.parent.mkdir()
    csv_file.write_text("a`b,`c`,d.e,f g\n1,x,2.5,3\n2,y,3.5,4\n")
    out = completed(run_job(tmp_path / "csv", dataset_source=csv_file, dataset_format=CSV_HEADER))
    assert [f["name"] for f in read_json(out / "statistics.json")["features"]] == ["a`b", "`c`", "d.e", "f g"]
    # monitoring the same file against that baseline
    completed(run_job(tmp_path / "mon", dataset_source=csv_file, dataset_format=CSV_HEADER,
                      baseline_statistics=out / "statistics.json", baseline_constraints=out / "constraints.json"))
    jsonl = tmp_path / "json" / "tick.jsonl"
    jsonl.parent.mkdir()
    jsonl.write_text('{"a`b": 1, "x`": "u"}\n{"a`b": 2, "x`": "v"}\n')
    out = completed(run_job(tmp_path / "jsonl", dataset_source=jsonl, dataset_format='{"json": {"lines": true}}'))
    assert [f["name"] for f in read_json(out / "statistics.json")["features"]] == ["a`b", "x`"]


# ------------------------------------------------------------------ numbers that overflow a double
def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_values_that_overflow_a_double(tmp_path, caplog):
    """`1e999` is Fractional (Deequ's regex) and a double reads it as Infinity; a column of
    1e308 values sums past the largest double. The job completes, writes what SageMaker's
    Jackson writer writes for non-finite doubles (the strings "Infinity", "-Infinity", "NaN":
    strict JSON, read back as floats by Python), never a silent 0.0, and logs a warning naming
    the column. A monitoring job reads such a baseline back."""
    src = tmp_path / "big.csv"
    src.write_text("huge,big,fine\n" + "".join(f"{'1e999' if i == 3 else i},1e308,{i}\n" for i in range(10)))
    with caplog.at_level(logging.WARNING):
        out = completed(run_job(tmp_path / "b", dataset_source=src, dataset_format=CSV_HEADER))
    stats = {f["name"]: f for f in _strict((out / "statistics.json").read_text())["features"]}
    big = stats["big"]["numerical_statistics"]
    assert big["sum"] == "Infinity" and big["max"] == 1e308 and big["min"] == 1e308
    assert big["mean"] != 0.0 and float(big["mean"]) > 1e307  # Infinity (sum / count, as Spark) or 1e308
    huge = stats["huge"]["numerical_statistics"]
    assert huge["max"] == "Infinity" and huge["sum"] == "Infinity"
    assert stats["fine"]["numerical_statistics"]["sum"] == 45.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'big'" in w for w in warnings) and any("'huge'" in w for w in warnings), warnings
    assert not any("'fine'" in w for w in warnings)
    _strict((out / "constraints.json").read_text())
    completed(run_job(tmp_path / "m", dataset_source=src, dataset_format=CSV_HEADER,
                      baseline_statistics=out / "statistics.json", baseline_constraints=out / "constraints.json"))


# ------------------------------------------------------------------ a very long line
def test_a_header_line_over_20_mb(tmp_path):
    """A header-only file with a 20 MB header: a named cause, quickly (not a crash or a hang);
    a 20 MB column name or a 20 MB value in a data row is read."""
    many = tmp_path / "many.csv"
    many.write_text(",".join(f"column_{i:07d}" for i in range(1_500_000)) + "\n")
    assert many.stat().st_size > 20 << 20
    started = time.monotonic()
    assert_failed(run_job(tmp_path / "many", dataset_source=many, dataset_format=CSV_HEADER), "many.csv")
    assert time.monotonic() - started < 60
    one = tmp_path / "one.csv"
    one.write_text("x" * (21 << 20) + "\n")
    assert_failed(run_job(tmp_path / "one", dataset_source=one, dataset_format=CSV_HEADER), "[DATASET_EMPTY]")
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\n" + "y" * (21 << 20) + ",1\nz,2\n")
    out = completed(run_job(tmp_path / "wide", dataset_source=wide, dataset_format=CSV_HEADER))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 2


# ------------------------------------------------------------------ our own bugs: a traceback in the log
def test_internal_errors_log_the_full_traceback_once(tmp_path, monkeypatch, caplog):
    """An error that ends INTERNAL (a bug of ours) keeps a one-line message and puts the whole
    traceback in the log, once."""
    import container.jobs

    def broken(*args, **kwargs):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(container.jobs, "suggest", broken)
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,2\n")
    with caplog.at_level(logging.INFO):
        message = run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER)[1]
    assert message == "Failed: [INTERNAL] Internal error: RuntimeError: boom second line"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert "Traceback" in caplog.text and "in broken" in caplog.text
    assert sum("[INTERNAL]" in r.getMessage() for r in caplog.records) == 1


# ------------------------------------------------------------------ baseline files of the wrong shape
def _edit(path: Path, dest: Path, change) -> Path:
    doc = read_json(path)
    change(doc)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(doc))
    return dest


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def change(doc):
        target = doc
        for key in keys[:-1]:
            target = target[key] if not isinstance(key, str) or key in target else target.setdefault(key, {})
        target[keys[-1]] = value

    return change


WRONG_SHAPES = {
    "distribution a string": ("statistics", _set("features", 1, "numerical_statistics", "distribution", "wide"),
                              "features[1].numerical_statistics.distribution"),
    "kll buckets not a list": ("statistics", _set("features", 1, "numerical_statistics", "distribution", "kll", "buckets", 3),
                               "features[1].numerical_statistics.distribution.kll.buckets"),
    "mean a list": ("statistics", _set("features", 2, "numerical_statistics", "mean", [1]), "features[2].numerical_statistics.mean"),
    "categorical buckets of strings": ("statistics", _set("features", 3, "string_statistics", "distribution", "categorical", "buckets", ["x"]),
                                       "features[3].string_statistics.distribution.categorical.buckets[0]"),
    "num_constraints a list": ("constraints", _set("features", 1, "num_constraints", []), "features[1].num_constraints"),
    "string_constraints a number": ("constraints", _set("features", 3, "string_constraints", 7), "features[3].string_constraints"),
    "override threshold 'high'": ("constraints", _set("features", 1, "monitoringConfigOverrides", {"comparison_threshold": "high"}),
                                  "features[1].monitoringConfigOverrides.comparison_threshold"),
    "override comparison_method unknown": ("constraints", _set("features", 2, "monitoringConfigOverrides", {"comparison_method": "Fancy"}),
                                           "features[2].monitoringConfigOverrides.comparison_method"),
    "nested override method unknown": ("constraints", _set("features", 2, "monitoringConfigOverrides",
                                                            {"distribution_constraints": {"comparison_method": "robust"}}),
                                       "features[2].monitoringConfigOverrides.distribution_constraints.comparison_method"),
    "monitoring_config threshold a string": ("constraints", _set("monitoring_config", "datatype_check_threshold", "most"),
                                             "monitoring_config.datatype_check_threshold"),
    "distribution_constraints a list": ("constraints", _set("monitoring_config", "distribution_constraints", []),
                                        "monitoring_config.distribution_constraints"),
    # NaN compares false with every distance: the check could never fire
    "comparison_threshold NaN": ("constraints", _set("monitoring_config", "distribution_constraints", "comparison_threshold", "NaN"),
                                 "monitoring_config.distribution_constraints.comparison_threshold"),
    "override threshold NaN": ("constraints", _set("features", 1, "monitoringConfigOverrides", {"comparison_threshold": "NaN"}),
                               "features[1].monitoringConfigOverrides.comparison_threshold"),
    "completeness NaN": ("constraints", _set("features", 1, "completeness", "NaN"), "features[1].completeness"),
    # a feature twice: which of the two would the check use?
    "feature twice in constraints": ("constraints", lambda doc: doc["features"][2].update(name=doc["features"][1]["name"]),
                                     "features[2].name"),
    "feature twice in statistics": ("statistics", lambda doc: doc["features"][2].update(name=doc["features"][1]["name"]),
                                    "features[2].name"),
    "item_count infinite": ("statistics", _set("dataset", "item_count", float("inf")), "dataset.item_count"),
}


@pytest.mark.parametrize("case", sorted(WRONG_SHAPES))
def test_baseline_files_of_the_wrong_shape(tmp_path, baseline, case):
    which, change, json_path = WRONG_SHAPES[case]
    edited = _edit(baseline / f"{which}.json", tmp_path / "edited" / f"{which}.json", change)
    src = tmp_path / "current.csv"
    make_frame(200, 3).to_csv(src, index=False)
    params = {"baseline_statistics": baseline / "statistics.json", "baseline_constraints": baseline / "constraints.json"}
    params[f"baseline_{which}"] = edited
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, **params),
                  f"[BASELINE_INVALID] Baseline {which} file {edited} is not valid:", json_path)


# ------------------------------------------------------------------ our own knobs
@pytest.mark.parametrize("name,value", [
    ("MMON_DRIVER_MEMORY", "lots"), ("MMON_THREADS", "many"), ("MMON_THREADS", "0"), ("MMON_THREADS", "\u00b2"),
    ("MMON_CAPTURE_MAX_BAD_FRACTION", "2"), ("MMON_CAPTURE_MAX_BAD_FRACTION", "nan"), ("MMON_SPARK_CONF", "[1, 2]"),
    ("MMON_SPARK_CONF", "{not json"), ("MMON_LOG_LEVEL", "LOUD"), ("MMON_LOG_FORMAT", "xml"), ("MMON_PROGRESS", "sometimes"),
])
@pytest.mark.parametrize("spark", [False, True])
def test_our_own_knobs_are_validated_before_anything_starts(tmp_path, name, value, spark):
    src = tmp_path / "d.csv"
    src.write_text("a\n1\n")
    params = {name: value, **({"MMON_SPARK_MASTER": "local[1]"} if spark else {})}
    started = time.monotonic()
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, **params), f"[ENV_INVALID] Invalid value {value!r} for {name}")
    assert time.monotonic() - started < 10  # no JVM was started


# ------------------------------------------------------------------ a full disk
def _in_full_tmpfs(tmp_path: Path, folder: Path, env: dict) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run the job in a fresh process whose ``folder`` is a small, full tmpfs (a private mount
    namespace: nothing on the host changes). Returns the process and the folder's listing
    after the job, as seen inside the namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    folder.mkdir(parents=True, exist_ok=True)
    listing = tmp_path / "listing.txt"
    script = (
        f"mount -t tmpfs -o size=16k tmpfs {folder} && "
        f"(dd if=/dev/zero of={folder}/filler bs=1k count=64 2>/dev/null; true) && "
        f"{sys.executable} -m container; rc=$?; ls -A {folder} > {listing}; exit $rc"
    )
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}, **env}
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("no user and mount namespaces here")
    proc = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    return proc, sorted(set(listing.read_text().split()) - {"filler"}) if listing.exists() else ["?"]


def test_a_full_disk_under_the_metrics_folder(tmp_path, baseline):
    """No space left for the CloudWatch metric file: a named cause, no report, no partial file."""
    capture = tmp_path / "capture"
    write_capture(capture, capture_records(50))
    metrics = tmp_path / "metrics"
    proc, left = _in_full_tmpfs(tmp_path, metrics, {
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
        "dataset_source": str(capture), "dataset_format": CAPTURE_FORMAT,
        "baseline_statistics": str(baseline / "statistics.json"), "baseline_constraints": str(baseline / "constraints.json"),
        "publish_cloudwatch_metrics": "Enabled", "CLOUDWATCH_METRICS_DIRECTORY": str(metrics), **WINDOW,
    })
    message = (tmp_path / "ml" / "output" / "message").read_text()
    assert proc.returncode == 255, proc.stderr[-2000:]
    assert message.startswith(f"Failed: [OUTPUT_NOT_WRITABLE] Output path {metrics} cannot be written: No space left on device"), message
    assert left == []
    assert sorted(os.listdir(tmp_path / "out")) == []


def test_a_full_disk_under_the_output_path(tmp_path):
    """No space left in output_path while the reports are written: a named cause, nothing left."""
    src = tmp_path / "d.csv"
    make_frame(300, 6).to_csv(src, index=False)
    out = tmp_path / "out"
    proc, left = _in_full_tmpfs(tmp_path, out, {
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(out),
        "dataset_source": str(src), "dataset_format": CSV_HEADER,
    })
    message = (tmp_path / "ml" / "output" / "message").read_text()
    assert proc.returncode == 255, proc.stderr[-2000:]
    assert message.startswith(f"Failed: [OUTPUT_NOT_WRITABLE] Output path {out} cannot be written: No space left on device"), message
    assert left == []


# ------------------------------------------------------------------ silent wrong results
def test_a_symlinked_sub_folder_of_the_dataset_is_read(tmp_path):
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir(), elsewhere.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    (elsewhere / "b.csv").write_text("x,y\n" + "".join(f"{i},{i}\n" for i in range(100)))
    (data / "more").symlink_to(elsewhere, target_is_directory=True)
    (data / "loop").symlink_to(data, target_is_directory=True)  # a cycle must not hang or double count
    (data / "c.csv").symlink_to(elsewhere / "b.csv")  # a symlinked file is read too
    out = completed(run_job(tmp_path, dataset_source=data, dataset_format=CSV_HEADER))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 201


def test_csv_files_with_different_headers_fail_naming_both_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("x,y\n1,2\n")
    (data / "b.csv").write_text("y,x\n3,4\n")
    assert_failed(run_job(tmp_path, dataset_source=data, dataset_format=CSV_HEADER), "a.csv", "b.csv", "header")
    (data / "b.csv").write_text("3,4\n5,6\n")  # a file without its header would lose a record
    assert_failed(run_job(tmp_path / "headerless", dataset_source=data, dataset_format=CSV_HEADER), "[DATASET_HEADERS_DIFFER]", "b.csv")
    # the same header in every file is fine, and so is a file that holds nothing
    (data / "b.csv").write_text("x,y\n3,4\n")
    (data / "c.csv").write_text("\n")
    out = completed(run_job(tmp_path / "same", dataset_source=data, dataset_format=CSV_HEADER))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 2


def test_baseline_statistics_of_another_dataset_are_reported(tmp_path, baseline, caplog):
    """No feature name in common between the statistics and the constraints: every drift check
    would be skipped; the log says so."""
    other = tmp_path / "other"
    other.mkdir()
    pd.DataFrame({"u": [1.0, 2.0, 3.0], "v": ["p", "q", "r"]}).to_csv(other / "o.csv", index=False)
    other_out = completed(run_job(other, dataset_source=other / "o.csv", dataset_format=CSV_HEADER))
    src = tmp_path / "current.csv"
    make_frame(200, 3).to_csv(src, index=False)
    with caplog.at_level(logging.WARNING):
        completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER,
                          baseline_statistics=other_out / "statistics.json", baseline_constraints=baseline / "constraints.json"))
    warnings = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "no feature name in common" in warnings and "drift" in warnings, warnings


# ------------------------------------------------------------------ left behind
def test_reports_are_staged_outside_output_path(tmp_path, monkeypatch):
    """While reports are staged (before they are all complete), output_path holds no partial
    or temporary file: a kill at that moment leaves nothing SageMaker would upload."""
    from container.outputs import ReportWriter

    seen = []
    real_commit = ReportWriter.commit

    def commit(self):
        seen.append(sorted(os.listdir(tmp_path / "out")))
        return real_commit(self)

    monkeypatch.setattr(ReportWriter, "commit", commit)
    src = tmp_path / "d.csv"
    src.write_text("a,b\n1,x\n2,y\n")
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER))
    assert seen == [[]]
    assert sorted(os.listdir(out)) == ["constraints.json", "report.html", "statistics.json"]
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []  # the staging folder is gone too


def _job_process(tmp_path: Path, src: Path, **extra) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
        "dataset_source": str(src), "dataset_format": CSV_HEADER, "MMON_THREADS": "1", **extra,
    }
    return subprocess.Popen([sys.executable, "-m", "container"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 60) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} not logged: {''.join(lines)[-2000:]}")


@pytest.fixture(scope="module")
def slow_csv(tmp_path_factory) -> Path:
    """A CSV that takes the local driver a few seconds."""
    path = tmp_path_factory.mktemp("slow") / "slow.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame(rng.normal(size=(600_000, 12)).round(6), columns=[f"c{i}" for i in range(12)]).to_csv(path, index=False)
    return path


def _previous_run(tmp_path: Path) -> None:
    src = tmp_path / "small.csv"
    src.write_text("c0\n1\n")
    completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER))


def test_a_killed_job_does_not_look_successful(tmp_path, slow_csv):
    """SIGKILL in a folder used before: the previous Completed message is gone (removed, and
    logged, when the job starts), and output_path holds no staged file."""
    _previous_run(tmp_path)
    proc = _job_process(tmp_path, slow_csv)
    lines = _wait_for(proc, "Profiling")
    assert any("Removed the previous run's message" in line for line in lines), "".join(lines)
    proc.kill()
    proc.wait(30)
    assert not (tmp_path / "ml" / "output" / "message").exists()
    assert leftovers(tmp_path / "out") == []


def test_a_stopped_job_removes_the_previous_reports(tmp_path, slow_csv):
    """SIGTERM: exit 143, the STOPPED message, and output_path without the previous run's
    reports (they would pass for this run's) and without staged files."""
    _previous_run(tmp_path)
    assert (tmp_path / "out" / "statistics.json").exists()
    proc = _job_process(tmp_path, slow_csv)
    _wait_for(proc, "Profiling")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 143
    assert (tmp_path / "ml" / "output" / "message").read_text().startswith("Failed: [STOPPED]")
    assert sorted(os.listdir(tmp_path / "out")) == []


def test_a_failed_job_removes_the_previous_reports_but_never_its_inputs(tmp_path):
    _previous_run(tmp_path)
    assert_failed(run_job(tmp_path, dataset_source=tmp_path / "missing.csv", dataset_format=CSV_HEADER), "[DATASET_SOURCE_MISSING]")
    # a monitoring job whose baseline files sit in its own output_path keeps them when it fails
    _previous_run(tmp_path)
    out = tmp_path / "out"
    code, message, _ = run_job(tmp_path, dataset_source=tmp_path / "missing.csv", dataset_format=CSV_HEADER,
                               baseline_statistics=out / "statistics.json", baseline_constraints=out / "constraints.json")
    assert code == 255 and "[DATASET_SOURCE_MISSING]" in message
    assert sorted(os.listdir(out)) == ["constraints.json", "statistics.json"]


def test_the_message_file_cannot_be_written(tmp_path):
    """The message cannot be written (here: a folder stands where the file goes): exit 255,
    the reason and the job's message on stderr, no temporary message file left."""
    src = tmp_path / "d.csv"
    src.write_text("a\n1\n")
    (tmp_path / "ml" / "output" / "message").mkdir(parents=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
        "dataset_source": str(src), "dataset_format": CSV_HEADER,
    }
    proc = subprocess.run([sys.executable, "-m", "container"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 255
    assert "Traceback" not in proc.stderr
    assert "message" in proc.stderr and "Completed: Job completed successfully" in proc.stderr
    assert os.listdir(tmp_path / "ml" / "output") == ["message"]


# ------------------------------------------------------------------ the test command
def test_container_engine_script_leaves_system_files_alone(tmp_path):
    """scripts/container-engine.sh with a fake /etc and stand-ins for podman and curl: it
    writes a drop-in of its own (podman 4 reads containers.conf.d/*.conf), never appends to
    containers.conf, removes the block older versions appended, and a second run changes
    nothing."""
    etc = tmp_path / "etc" / "containers"
    etc.mkdir(parents=True)
    original = '[containers]\nlog_driver = "k8s-file"\n\n[engine]\ncgroup_manager = "cgroupfs"\n'
    appended = (
        "# mmon-analyzer: settings for hosts with a hybrid cgroup layout and low ulimits\n[containers]\n"
        'default_ulimits = ["nofile=20000:20000", "nproc=8192:8192"]\n[engine]\nruntime = "runc"\n'
    )
    (etc / "containers.conf").write_text(original + appended)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("podman", "runc", "debootstrap", "curl", "apt-get"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MMON_CONTAINERS_ETC": str(etc),
           "PODMAN_SOCKET": str(tmp_path / "podman.sock")}

    def snapshot() -> dict:
        return {str(p.relative_to(etc)): p.read_text() for p in sorted(etc.rglob("*")) if p.is_file()}

    proc = subprocess.run(["bash", str(ROOT / "scripts" / "container-engine.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"unix://{tmp_path / 'podman.sock'}"
    first = snapshot()
    assert first["containers.conf"] == original
    dropin = first["containers.conf.d/50-mmon-analyzer.conf"]
    assert 'runtime = "runc"' in dropin and "default_ulimits" in dropin
    assert dropin.count("[containers]") == 1 and dropin.count("[engine]") == 1
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "container-engine.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert snapshot() == first


# ------------------------------------------------------------------ first contact with mmon
def test_mmon_version_and_time_help(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"mmon {version('mmon-analyzer')}"
    with pytest.raises(SystemExit):
        cli.main(["monitor", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--start-time", "--end-time"):
        assert option in text
    assert "ISO-8601" in text and "2024-03-05T11:00:00Z" in text


@pytest.mark.parametrize("ok", [True, False])
def test_stdout_is_one_line_and_each_failure_is_logged_once(tmp_path, ok):
    src = tmp_path / ("d.csv" if ok else "missing.csv")
    if ok:
        src.write_text("a\n1\n")
    proc = subprocess.run([sys.executable, "-m", "container.cli", "baseline", str(src), "-o", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    expected = "Completed: Job completed successfully with no violations." if ok else "Failed: [DATASET_SOURCE_MISSING]"
    assert proc.stdout.count("\n") == 1 and proc.stdout.startswith(expected), proc.stdout
    assert proc.stderr.count(expected) <= 1, proc.stderr
    if not ok:
        assert proc.stderr.count("[DATASET_SOURCE_MISSING]") == 1, proc.stderr


# ------------------------------------------------------------------ fidelity
def test_distinct_counts_are_written_as_sagemaker_writes_them(tmp_path):
    """approximate_num_distinct_values is an integer in SageMaker's files (`5097`);
    string_statistics.distinct_count a double (`24000.0`)."""
    src = tmp_path / "d.csv"
    make_frame(300, 4).to_csv(src, index=False)
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER))
    text = (out / "statistics.json").read_text()
    stats = {f["name"]: f for f in read_json(out / "statistics.json")["features"]}
    value = stats["a"]["numerical_statistics"]["approximate_num_distinct_values"]
    assert type(value) is int and f'"approximate_num_distinct_values": {value}\n' in text.replace(",\n", "\n")
    assert type(stats["c"]["string_statistics"]["distinct_count"]) is float


def test_missing_columns_are_one_violation_in_sagemakers_words(tmp_path):
    """A 2026 SageMaker report: one missing_column_check, feature_name "Missing columns"; our
    second line names the missing columns."""
    base = tmp_path / "base"
    base.mkdir()
    frame = make_frame(300, 5)
    frame.to_csv(base / "b.csv", index=False)
    bout = completed(run_job(base, dataset_source=base / "b.csv", dataset_format=CSV_HEADER))
    cur = tmp_path / "cur.csv"
    frame[["prediction", "a"]].to_csv(cur, index=False)
    code, message, out = run_job(tmp_path, dataset_source=cur, dataset_format=CSV_HEADER,
                                 baseline_statistics=bout / "statistics.json", baseline_constraints=bout / "constraints.json")
    assert (code, message) == (0, "CompletedWithViolations: Job completed successfully with 1 violations.")
    assert read_json(out / "constraint_violations.json")["violations"] == [{
        "feature_name": "Missing columns",
        "constraint_check_type": "missing_column_check",
        "description": "There are missing columns in current dataset. Number of columns in current dataset: 2, "
                       "Number of columns in baseline constraints: 4\nMissing: 'b', 'c'.",
    }]


def test_robust_drift_of_equal_current_values_is_not_reported(tmp_path):
    """A 2021 SageMaker run: 18 current values, all equal, against a 3,000-row continuous
    baseline, Robust, threshold 0.1: no baseline_drift_check. Deequ's rank map keeps one entry
    per distinct value (a Scala ListMap built from (value, weight) pairs keeps the last pair of
    a repeated value), so the current sample weighs 1 and the robust margin 1.8 sqrt((n+1)/n)
    exceeds any distance."""
    rng = np.random.default_rng(7)
    base = tmp_path / "base"
    base.mkdir()
    pd.DataFrame({"f": rng.normal(-2.0, 1.0, 3000).round(6)}).to_csv(base / "b.csv", index=False)
    bout = completed(run_job(base, dataset_source=base / "b.csv", dataset_format=CSV_HEADER))
    cur = tmp_path / "cur.csv"
    cur.write_text("f\n" + "-3.585\n" * 18)
    code, message, out = run_job(tmp_path, dataset_source=cur, dataset_format=CSV_HEADER,
                                 baseline_statistics=bout / "statistics.json", baseline_constraints=bout / "constraints.json")
    assert (code, message) == (0, "Completed: Job completed successfully with no violations."), read_json(out / "constraint_violations.json")


def test_container_engine_script_replaces_a_service_whose_folder_was_deleted(tmp_path):
    """A podman API service started from a checkout that was removed since answers pings but
    cannot start containers ("write child: broken pipe"): the script stops it (and starts its own
    from /); a service in a live folder is left running."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("podman", "runc", "debootstrap", "curl", "apt-get"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    sock = tmp_path / "podman.sock"
    name = f"podman system service --time=0 unix://{sock}"
    gone, live = tmp_path / "old-checkout", tmp_path / "live"
    gone.mkdir()
    live.mkdir()
    stale = subprocess.Popen(["bash", "-c", f'exec -a "{name}" sleep 120'], cwd=gone)
    kept = subprocess.Popen(["bash", "-c", f'exec -a "{name}" sleep 120'], cwd=live)
    try:
        time.sleep(0.3)
        gone.rmdir()
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MMON_CONTAINERS_ETC": str(tmp_path / "etc"),
               "PODMAN_SOCKET": str(sock)}
        proc = subprocess.run(["bash", str(ROOT / "scripts" / "container-engine.sh")], env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert f"restarting the podman service {stale.pid}" in proc.stderr
        assert stale.wait(timeout=10) is not None
        assert kept.poll() is None
    finally:
        for p in (stale, kept):
            p.kill()
            p.wait()


def test_container_engine_script_returns_while_the_service_it_started_runs(tmp_path):
    """test.sh reads the script's DOCKER_HOST through a command substitution, which waits for
    every holder of the script's stdout: the service it starts in the background must not hold
    it (a clean CI machine with no service running hung here until its time limit). The service
    runs from /, so that removing the checkout cannot break it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "service.pid"
    fakes = {
        # a service that records its pid and keeps running
        "podman": f'#!/bin/sh\necho $$ > "{mark}"\nexec sleep 120\n',
        # the socket answers once the service has started
        "curl": f'#!/bin/sh\ntest -s "{mark}"\n',
        "runc": "#!/bin/sh\nexit 0\n", "debootstrap": "#!/bin/sh\nexit 0\n", "apt-get": "#!/bin/sh\nexit 0\n",
    }
    for tool, text in fakes.items():
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    sock = tmp_path / "podman.sock"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "MMON_CONTAINERS_ETC": str(tmp_path / "etc"),
           "PODMAN_SOCKET": str(sock)}
    pid = None
    try:
        proc = subprocess.run(["bash", "-c", f'host=$(bash "{ROOT / "scripts" / "container-engine.sh"}") && echo "$host"'],
                              env=env, capture_output=True, text=True, timeout=30)
        pid = int(mark.read_text())
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == f"unix://{sock}"
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
    finally:
        if pid is None and mark.exists():
            pid = int(mark.read_text())
        if pid is not None:
            os.kill(pid, 9)
