"""The users' preprocessor path without Spark: which lines reach the handler, and its rows as
columns. The capture lines it sees are the ones the decoder analyses (one set of rules)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from analyzer.errors import InputError
from container.capture import CaptureRules, Origin, decode, layout, read_lines, tabulate
from container.config import CaptureFormat, CsvFormat, JobConfig, JsonFormat
from container.scripts import preprocess, preprocessed_files

UTC = timezone.utc
START, END = datetime(2024, 3, 5, 11, tzinfo=UTC), datetime(2024, 3, 5, 12, tzinfo=UTC)


def _config(tmp_path, fmt, handler: str, **extra) -> JobConfig:
    script = tmp_path / "pre.py"
    script.write_text(handler)
    return JobConfig(dataset_source=str(tmp_path / "data"), dataset_format=fmt, output_path=str(tmp_path / "out"),
                     record_preprocessor_script=str(script), **extra)


def _event(i: int, when: str | None, source: str | None = None, output: str | None = "0", inputs: str | None = None) -> str:
    capture = {"endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": output, "encoding": "CSV"}}
    if inputs is not None:
        capture["endpointInput"] = {"observedContentType": "text/csv", "mode": "INPUT", "data": inputs, "encoding": "CSV"}
    meta = {"eventId": f"e{i}", **({"inferenceTime": when} if when else {}), **({"invocationSource": source} if source else {})}
    return json.dumps({"captureData": capture, "eventMetadata": meta, "eventVersion": "0"})


def _mixed_lines() -> list[str]:
    """Every kind of line the rules tell apart, with the event number as the input payload."""
    lines = []
    for i in range(60):
        kind = i % 10
        when = {0: "2024-03-05T10:59:59Z", 1: "2024-03-05T12:00:00Z", 2: None, 3: "not a time",
                4: "2024-03-05T11:30:00+00:00", 5: "2024-03-05T11:00:00Z"}.get(kind, f"2024-03-05T11:{i:02d}:00Z")
        if kind == 6:
            lines.append(_event(i, when, source="ShadowExperiment", inputs=str(i)))
        elif kind == 7:
            lines.append(["not json", "", json.dumps({"eventMetadata": {"eventId": f"e{i}"}}), "[1]"][(i // 10) % 4])
        elif kind == 8:
            lines.append(_event(i, when, output=None, inputs=None))  # no data on any side
        else:
            lines.append(_event(i, when, inputs=str(i)))
    return lines


def test_the_preprocessor_sees_exactly_the_lines_the_decoder_analyses(tmp_path):
    lines = _mixed_lines()
    folder = tmp_path / "data" / "ep" / "v" / "2024" / "03" / "05" / "11"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text("\n".join(lines[:30]) + "\n")
    (folder / "b.jsonl").write_text("\n".join(lines[30:]) + "\n")
    config = _config(tmp_path, CaptureFormat(), "def preprocess_handler(r):\n    return {'id': r.event_metadata.event_id}\n",
                     start_time=START, end_time=END, capture_max_bad_fraction=1.0)
    files = preprocessed_files(config)
    rows = preprocess(files, config, [])
    by_handler = [row["id"] for batch in rows.batches for row in batch.to_pylist()]

    rules = CaptureRules.of(config.dataset_format, START, END)
    by_decoder, bad, total = [], 0, 0
    for index, path in enumerate(files):
        for chunk in read_lines(path):
            summary, records = decode(chunk.lines, rules, Origin(path, index, chunk.first_line))
            by_decoder += [f"e{row['a']}" for row in tabulate(records, layout(summary, ["y", "a"])).to_pylist()]
            bad, total = bad + summary.bad_lines, total + summary.lines
    assert by_handler == by_decoder
    assert sorted(int(e[1:]) % 10 for e in by_decoder) == sorted([4, 5, 9] * 6)
    assert (rows.bad_lines, rows.lines) == (bad, total) == (6 + 6 + 4 + 6, 58)


def test_bad_capture_lines_past_the_budget_fail(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.jsonl").write_text(_event(1, None, inputs="1") + "\nnot json\n")
    config = _config(tmp_path, CaptureFormat(), "def preprocess_handler(r):\n    return {'x': 1}\n")
    with pytest.raises(InputError) as failed:
        preprocess(preprocessed_files(config), config, [])
    assert str(failed.value).startswith("[CAPTURE_TOO_MANY_BAD_LINES] 1 of 2 capture lines")
    assert "line 2 of" in str(failed.value) and "c.jsonl: not JSON ('not json')" in str(failed.value)


def test_bad_json_lines_of_a_dataset_past_the_budget_fail_naming_json_lines(tmp_path):
    """A JSON Lines dataset's lines are not capture lines: the message says which lines."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.jsonl").write_text('{"x": 1}\nnot json\n')
    config = _config(tmp_path, JsonFormat(lines=True), "def preprocess_handler(r):\n    return r\n")
    with pytest.raises(InputError) as failed:
        preprocess(preprocessed_files(config), config, [])
    assert str(failed.value).startswith("[CAPTURE_TOO_MANY_BAD_LINES] 1 of 2 JSON lines are not JSON records")
    assert "line 2 of" in str(failed.value)


def test_csv_lines_as_the_csv_reader_reads_them(tmp_path):
    """Raw lines with their line break; blank lines skipped; each file's first non-blank line is
    its header (a data line equal to a header is data)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "1.csv").write_text("\n \na,b\r\n1,2\n\na,b\n3,4")
    (tmp_path / "data" / "2.csv").write_text("a,b\n5,6\n")
    config = _config(tmp_path, CsvFormat(header=True), "def preprocess_handler(line):\n    return {'line': line}\n")
    rows = preprocess(preprocessed_files(config), config, [])
    assert [r["line"] for b in rows.batches for r in b.to_pylist()] == ["1,2\n", "a,b\n", "3,4\n", "5,6\n"]


def test_json_lines_are_parsed_and_bad_ones_counted(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text('{"a": 1}\n\n{"a": 2.5}\n' + '{"a": 3}\n' * 200 + "{oops\n")
    config = _config(tmp_path, JsonFormat(), "def preprocess_handler(d):\n    return d\n")
    rows = preprocess(preprocessed_files(config), config, [])
    assert (rows.rows, rows.lines, rows.bad_lines) == (202, 203, 1)
    assert rows.batches[0].column("a").to_pylist()[:3] == ["1", "2.5", "3"]


def test_rows_become_string_columns_in_the_baseline_order_then_sorted(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text('{"n": 1}\n{"n": 2}\n{"n": 3}\n')
    handler = (
        "def preprocess_handler(d, logger):\n"
        "    logger.info('record %s', d)\n"
        "    if d['n'] == 2:\n        return []\n"
        "    if d['n'] == 3:\n        return [{'b': 1}, {'zz': None, 'a': ''}]\n"
        "    return {'zz': 1.5, 'b': True, 'a': {'k': [1, 2]}, 'c': 'x'}\n"
    )
    config = _config(tmp_path, JsonFormat(), handler)
    rows = preprocess(preprocessed_files(config), config, ["b", "a", "q"])
    assert rows.names == ("b", "a", "c", "zz")
    assert [r for b in rows.batches for r in b.to_pylist()] == [
        {"b": "true", "a": '{"k":[1,2]}', "c": "x", "zz": "1.5"},
        {"b": "1", "a": None, "c": None, "zz": None},
        {"b": None, "a": None, "c": None, "zz": None},
    ]


@pytest.mark.parametrize("handler,reason", [
    ("def preprocess_handler(d):\n    raise KeyError('age')\n", "KeyError: 'age'"),
    ("def preprocess_handler(d):\n    return 'text'\n", "preprocess_handler returned str, not a dict"),
    ("def preprocess_handler(d):\n    return [1]\n", "preprocess_handler returned int, not a dict"),
])
def test_handler_errors_fail_the_job(tmp_path, handler, reason):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.jsonl").write_text('{"n": 1}\n')
    config = _config(tmp_path, JsonFormat(), handler)
    with pytest.raises(InputError) as failed:
        preprocess(preprocessed_files(config), config, [])
    assert str(failed.value).startswith("[SCRIPT_FAILED] record_preprocessor_script script")
    assert str(failed.value).endswith(reason)


def test_no_pandas_needed(tmp_path):
    """Spark's mapInArrow needed pandas; the preprocessor path runs where pandas is not installed
    (a fresh process in which importing it fails as it does then)."""
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "c.jsonl").write_text(_event(1, "2024-03-05T11:30:00Z", inputs="1,2") + "\n")
    config = _config(tmp_path, CaptureFormat(), "def preprocess_handler(r):\n    return {'x': r.endpoint_input.data}\n")
    program = f"""
import importlib.abc, sys
class NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "pandas":
            raise ModuleNotFoundError("No module named 'pandas'", name=name)
sys.meta_path.insert(0, NoPandas())
from container.config import CaptureFormat, JobConfig
from container.scripts import preprocess, preprocessed_files
config = JobConfig(dataset_source={config.dataset_source!r}, dataset_format=CaptureFormat(), output_path="x",
                   record_preprocessor_script={config.record_preprocessor_script!r})
rows = preprocess(preprocessed_files(config), config, [])
assert "pandas" not in sys.modules
print(rows.batches[0].to_pylist())
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=Path(__file__).parents[2], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[{'x': '1,2'}]"
