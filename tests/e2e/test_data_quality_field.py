"""Data-quality jobs on inputs a new user or a fuzzer hands them: odd CSV dialects, JSON and
Parquet of odd shapes, edited baseline files, capture payloads, users' scripts, ``mmon report``
and an output folder inside the dataset. Each bad input ends in ``Failed: [CODE] reason`` naming
the file, field or line (never ``[INTERNAL]``, a traceback, a crash or a hang), and each odd but
readable input gives the numbers pandas gives.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from container import cli
from tests.capture_tools import record, times
from tests.conftest import read_json
from tests.e2e.test_field_ready import (  # noqa: F401 (baseline: a fixture)
    CAPTURE_FORMAT, CSV_HEADER, H11, WINDOW, assert_failed, baseline, completed, make_frame, run_job, write_hour,
)

ROOT = Path(__file__).parents[2]
JSON_LINES = '{"json": {"lines": true}}'
PARQUET = '{"parquet": {}}'


def _features(out: Path) -> dict[str, dict]:
    return {f["name"]: f for f in read_json(out / "statistics.json")["features"]}


def _common(feature: dict) -> dict:
    return (feature.get("numerical_statistics") or feature["string_statistics"])["common"]


# ------------------------------------------------------------------ CSV dialects
@pytest.mark.parametrize("header,clash", [(",_c0,b", "_c0"), ("a,a0,a", "a0")])
def test_csv_header_names_that_clash_after_renaming(tmp_path, header, clash):
    """An empty name becomes _c<index> and a repeated one gets its index: the result may still
    repeat a name (Spark refuses such a schema). Was: [INTERNAL] KeyError 'Field exists 2 times'."""
    src = tmp_path / "data.csv"
    src.write_text(f"{header}\n1,2,3\n4,5,6\n")
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER),
                  f"[DATASET_UNREADABLE] Could not read the header of CSV file {src}:", f"both named {clash!r}")


def test_csv_with_carriage_return_line_endings(tmp_path):
    """Lines ended by a lone \\r (classic Mac) are lines for pyarrow's reader and for Spark's.
    Was: with a header, DATASET_EMPTY (the whole file taken as its header line); without one,
    four columns of which two were phantom (the first "line" counted 4 fields)."""
    src = tmp_path / "data.csv"
    src.write_bytes(b"a,b\r1,2\r3,4\r")
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER))
    features = _features(out)
    assert list(features) == ["a", "b"] and read_json(out / "statistics.json")["dataset"]["item_count"] == 2
    assert [features[n]["numerical_statistics"]["mean"] for n in "ab"] == [2.0, 3.0]

    headerless = tmp_path / "no_header"
    out = completed(run_job(headerless, dataset_source=src, dataset_format='{"csv": {"header": false}}'))
    assert list(_features(out)) == ["_c0", "_c1"]
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 3


# ------------------------------------------------------------------ JSON Lines
def test_json_lines_with_bytes_that_are_not_utf8(tmp_path):
    """Was: [INTERNAL] UnicodeDecodeError (pyarrow's JSON reader does not check UTF-8). Such a
    line is malformed, as Spark's JSON reader (Jackson) has it; the others are profiled."""
    src = tmp_path / "data.jsonl"
    src.write_bytes(b'{"a": 1, "b": "x"}\n{"a": 2, "b": "\xff"}\n{"a": 3, "b": "y"}\n')
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=JSON_LINES))
    features = _features(out)
    assert features["a"]["numerical_statistics"]["sum"] == 4.0
    assert _common(features["b"]) == {"num_present": 2, "num_missing": 0}


@pytest.mark.parametrize("depth", [1200, 100_000])
def test_json_lines_nested_deeper_than_the_parsers_go(tmp_path, depth):
    """Was: [INTERNAL] RecursionError at 1,200 levels, and a segmentation fault (no message at
    all) at 100,000 (pyarrow's parser recurses). Now the line is malformed, the rest profiled.
    Run in a process of its own, so that a crash cannot take the test run with it."""
    src = tmp_path / "data.jsonl"
    deep = b'{"a": 9, "n": ' + b"[" * depth + b"]" * depth + b"}\n"
    src.write_bytes(b'{"a": 1, "n": [1]}\n' + deep + b'{"a": 2, "n": [2]}\n')
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
           "dataset_source": str(src), "dataset_format": JSON_LINES, "MMON_PROGRESS": "off"}
    proc = subprocess.run([sys.executable, "-m", "container"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    message = (tmp_path / "ml" / "output" / "message").read_text()
    assert proc.returncode == 0 and message.startswith("Completed"), (proc.returncode, message, proc.stderr[-2000:])
    features = _features(tmp_path / "out")
    assert features["a"]["numerical_statistics"]["sum"] == 3.0
    assert read_json(tmp_path / "out" / "statistics.json")["dataset"]["item_count"] == 2


def test_a_json_document_nested_too_deeply(tmp_path):
    """Multi-line JSON (lines false) nested beyond Python's parser: named, not [INTERNAL]."""
    src = tmp_path / "data.json"
    src.write_text('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format='{"json": {"lines": false}}'),
                  f"[DATASET_UNREADABLE] Could not read JSON file {src}: arrays or objects nested too deeply")


# ------------------------------------------------------------------ Parquet
def test_parquet_with_a_column_name_twice(tmp_path):
    """Was: [INTERNAL] KeyError 'Field "a" exists 2 times in schema'."""
    src = tmp_path / "data.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]), src)
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=PARQUET),
                  f"[DATASET_UNREADABLE] Could not read Parquet file {src}:", "columns 1 and 2 are both named 'a'")


def _not_utf8() -> pa.Array:
    """Three strings, the first of which is the byte 0xff (a writer that does not check)."""
    offsets = pa.array([0, 1, 3, 4], pa.int32()).buffers()[1]
    return pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"\xffokx")])


@pytest.mark.parametrize("kind", ["string", "list", "dictionary"])
def test_parquet_strings_that_are_not_utf8(tmp_path, kind):
    """Was: [INTERNAL] UnicodeDecodeError. As in CSV, such a value is missing (and counted)."""
    bad = _not_utf8()
    column = {
        "string": bad,
        "list": pa.ListArray.from_arrays(pa.array([0, 1, 2, 3], pa.int32()), bad),
        "dictionary": pa.DictionaryArray.from_arrays(pa.array([0, 1, 2], pa.int32()), bad),
    }[kind]
    src = tmp_path / "data.parquet"
    pq.write_table(pa.table({"s": column, "i": [1, 2, 3]}), src)
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=PARQUET))
    features = _features(out)
    assert _common(features["s"]) == {"num_present": 2, "num_missing": 1}
    assert features["i"]["numerical_statistics"]["sum"] == 6.0


# ------------------------------------------------------------------ capture payloads
def test_capture_csv_payloads_that_are_all_too_wide(tmp_path, baseline):
    """Every record of a chunk wider than the field limit. Was: [INTERNAL] ArrowInvalid: Empty
    CSV file (the vectorised reader was handed no row at all)."""
    records = [record(["1"] * 5000, [0.5], when) for when in times(H11, 20)]
    capture = tmp_path / "capture"
    write_hour(capture, records)
    first = next(capture.rglob("*.jsonl"))
    assert_failed(run_job(tmp_path, dataset_source=capture, dataset_format=CAPTURE_FORMAT,
                          baseline_statistics=baseline / "statistics.json", baseline_constraints=baseline / "constraints.json",
                          **WINDOW),
                  "[CAPTURE_DECODE_FAILED]", f"(line 1 of {first})", "a record with 5001 fields (more than 1000)")


# ------------------------------------------------------------------ edited baseline files
def _edited_statistics(baseline: Path, dest: Path, text_change) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text_change((baseline / "statistics.json").read_text()))
    return dest


def _first_num_present(text: str, value: str) -> str:
    """The first feature's num_present written as ``value`` (JSON text no Python value dumps to)."""
    count = json.loads(text)["features"][0]["numerical_statistics"]["common"]["num_present"]
    edited = text.replace(f'"num_present": {count}', f'"num_present": {value}', 1)
    assert edited != text
    return edited


def _too_many_levels(text: str) -> str:
    doc = json.loads(text)
    doc["features"][1]["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"] = [[1.0]] * 2000
    return json.dumps(doc)


EDITED = {
    "count 1e400": (lambda t: _first_num_present(t, "1e400"),
                    "features[0].numerical_statistics.common.num_present must be a finite number"),
    "count of 400 digits": (lambda t: _first_num_present(t, "1" + "0" * 400),
                            "features[0].numerical_statistics.common.num_present is out of the range of a double"),
    "sketch of 2000 levels": (_too_many_levels, "features[1].numerical_statistics.distribution.kll.sketch: sketch.data has 2000 levels"),
    "nested 100000 deep": (lambda t: '{"features": ' + "[" * 100_000 + "]" * 100_000 + "}", "not JSON (nested too deeply to read)"),
}


@pytest.mark.parametrize("case", sorted(EDITED))
def test_edited_baseline_statistics(tmp_path, baseline, case):
    """Was: [INTERNAL] OverflowError (int(inf), float(10**400), 2.0**2000) or RecursionError."""
    change, fragment = EDITED[case]
    edited = _edited_statistics(baseline, tmp_path / "edited" / "statistics.json", change)
    src = tmp_path / "current.csv"
    make_frame(100, 3).to_csv(src, index=False)
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, baseline_statistics=edited,
                          baseline_constraints=baseline / "constraints.json"),
                  f"[BASELINE_INVALID] Baseline statistics file {edited} is not valid:", fragment)


def test_a_baseline_with_a_huge_bucket_list_does_not_stall_the_report(tmp_path, baseline):
    """40,000 KLL buckets in an edited baseline: the report's largest-gap search scanned every
    bucket for every edge (quadratic: about 35 s here, 4 minutes for 100,000)."""
    doc = read_json(baseline / "statistics.json")
    doc["features"][1]["numerical_statistics"]["distribution"]["kll"]["buckets"] = [
        {"lower_bound": i, "upper_bound": i + 1, "count": 1} for i in range(40_000)]
    edited = tmp_path / "edited" / "statistics.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(doc))
    src = tmp_path / "current.csv"
    make_frame(100, 3).to_csv(src, index=False)
    started = time.monotonic()
    out = completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, baseline_statistics=edited,
                            baseline_constraints=baseline / "constraints.json"))
    assert time.monotonic() - started < 15
    assert (out / "report.html").is_file()


# ------------------------------------------------------------------ mmon report on malformed files
def test_mmon_report_on_malformed_statistics(tmp_path, capsys):
    """Was: a Python traceback (RecursionError, OverflowError) instead of a line on stderr."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"features": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert cli.main(["report", "--statistics", str(deep), "--output", str(tmp_path / "r1.html")]) == 255
    assert f"mmon report: statistics file {deep} is not valid JSON: arrays or objects nested too deeply" in capsys.readouterr().err

    huge = tmp_path / "huge.json"
    huge.write_text('{"features": [{"name": "a", "inferred_type": "Integral", "numerical_statistics": '
                    '{"common": {"num_present": 1' + "0" * 400 + ', "num_missing": 0}, "mean": 2}}]}')
    assert cli.main(["report", "--statistics", str(huge), "--output", str(tmp_path / "r2.html")]) == 0
    assert "<html" in (tmp_path / "r2.html").read_text()


# ------------------------------------------------------------------ users' scripts
PREPROCESSORS = {
    "a tuple key": ("def preprocess_handler(r):\n    return {'a': {(1, 2): 3}}\n",
                    "preprocess_handler returned a value for 'a' that cannot be written as JSON (TypeError: keys must be str"),
    "a cycle": ("def preprocess_handler(r):\n    v = []\n    v.append(v)\n    return {'b': v}\n",
                "preprocess_handler returned a value for 'b' that cannot be written as JSON (ValueError: Circular reference detected)"),
    "sys.exit in the handler": ("import sys\ndef preprocess_handler(r):\n    sys.exit(3)\n", "failed: SystemExit: 3"),
    "sys.exit on import": ("import sys\nsys.exit(1)\n", "failed: SystemExit: 1"),
    "KeyboardInterrupt": ("def preprocess_handler(r):\n    raise KeyboardInterrupt()\n", "failed: KeyboardInterrupt"),
    "a bare BaseException": ("class Odd(BaseException):\n    pass\ndef preprocess_handler(r):\n    raise Odd('odd')\n",
                             "failed: Odd: odd"),
}


@pytest.mark.parametrize("case", sorted(PREPROCESSORS))
def test_preprocessors_that_misbehave(tmp_path, baseline, case):
    """Was: [INTERNAL] (json.dumps of the returned value) or "[INTERNAL] the job did not finish"
    (SystemExit / KeyboardInterrupt ended the job's thread without a word)."""
    script, fragment = PREPROCESSORS[case]
    pre = tmp_path / "pre.py"
    pre.write_text(script)
    src = tmp_path / "current.csv"
    make_frame(50, 3).to_csv(src, index=False)
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, record_preprocessor_script=pre,
                          baseline_statistics=baseline / "statistics.json", baseline_constraints=baseline / "constraints.json"),
                  f"[SCRIPT_FAILED] record_preprocessor_script script {pre} failed:", fragment)


def test_a_postprocessor_that_calls_sys_exit(tmp_path):
    post = tmp_path / "post.py"
    post.write_text("import sys\ndef postprocess_handler():\n    sys.exit(2)\n")
    src = tmp_path / "data.csv"
    make_frame(50, 3).to_csv(src, index=False)
    code, message, _ = run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, post_analytics_processor_script=post)
    assert code == 255 and message == f"Failed: [SCRIPT_FAILED] post_analytics_processor_script script {post} failed: SystemExit: 2"


def test_users_scripts_that_print_leave_stdout_to_the_exit_message(tmp_path, baseline, capsys):
    """``mmon`` prints the exit message as the only line on stdout; users' prints (on import, in
    the handlers) go to stderr, with the log. Was: on stdout, one line per record."""
    pre = tmp_path / "pre.py"
    pre.write_text("print('loading')\ndef preprocess_handler(r):\n    print('row', r.strip())\n    return {'a': 1}\n")
    post = tmp_path / "post.py"
    post.write_text("def postprocess_handler():\n    print('all done')\n")
    src = tmp_path / "current.csv"
    make_frame(5, 3).to_csv(src, index=False)
    completed(run_job(tmp_path, dataset_source=src, dataset_format=CSV_HEADER, record_preprocessor_script=pre,
                      post_analytics_processor_script=post, baseline_statistics=baseline / "statistics.json",
                      baseline_constraints=baseline / "constraints.json"))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "loading" in captured.err and "all done" in captured.err and captured.err.count("row ") == 5


def test_json_lines_nested_too_deeply_for_the_preprocessor(tmp_path, baseline):
    """The preprocessor's own JSON Lines reader: such a line is a bad line, named (was [INTERNAL])."""
    pre = tmp_path / "pre.py"
    pre.write_text("def preprocess_handler(r):\n    return r\n")
    src = tmp_path / "data.jsonl"
    src.write_text('{"a": 1}\n' + "[" * 5000 + "]" * 5000 + "\n")
    assert_failed(run_job(tmp_path, dataset_source=src, dataset_format=JSON_LINES, record_preprocessor_script=pre,
                          baseline_statistics=baseline / "statistics.json", baseline_constraints=baseline / "constraints.json"),
                  f"first problem: line 2 of {src}: not JSON (nested too deeply)")


# ------------------------------------------------------------------ output_path inside dataset_source
def test_output_path_inside_the_dataset_folder(tmp_path):
    """``mmon baseline data/ -o data/out``: the reports would be read as data by the next run
    (for JSON silently: statistics.json profiled as a record). Was: the first run completed and
    the second failed on (or, for JSON, profiled) the first run's reports."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-1.jsonl").write_text("".join(json.dumps({"a": i}) + "\n" for i in range(10)))
    for output in (data / "out", data):
        result = run_job(tmp_path, dataset_source=data, dataset_format=JSON_LINES, output_path=output)
        code, message, _ = result
        assert code == 255 and message == (
            f"Failed: [ENV_INVALID] Invalid value '{output}' for output_path: it is inside dataset_source {data}, whose "
            "files are all read as data: the next run would read these reports as records; write them outside it")
    assert sorted(p.name for p in data.iterdir()) == ["part-1.jsonl"]
    # a hidden folder inside it is not read, so it may hold the reports
    out = completed(run_job(tmp_path, dataset_source=data, dataset_format=JSON_LINES, output_path=data / "_reports"))
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 10
    completed(run_job(tmp_path, dataset_source=data, dataset_format=JSON_LINES, output_path=data / "_reports"))


def test_a_json_lines_dataset_of_malformed_lines_says_so(tmp_path):
    """Not "header only or empty files", which is about CSV."""
    src = tmp_path / "d.jsonl"
    src.write_text("not json\n[1, 2]\n")
    message = assert_failed(run_job(tmp_path, dataset_source=src, dataset_format='{"json": {"lines": true}}'),
                            "[DATASET_EMPTY]", "no line that is a JSON object")
    assert "header" not in message
