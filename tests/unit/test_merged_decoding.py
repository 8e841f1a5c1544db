"""Merged records decoded by columns (container.model_quality.decode_merged) against the same
lines decoded one by one (merged_rows, the rules' reference): equal rows, in the same order,
with the same bad lines and errors, over generated lines of every shape."""
from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timezone

import pytest

import container.model_quality as mqm
from analyzer.errors import InputError
from container.config import JobConfig, Paths

OUTPUTS = ["0.25", "0.9,1", "0.5\n", "0.5\r\n", ",0.3", "", " ", '"0.4",1', "0.1\n0.2", "a,b,c", "1e-3,7", "0.7,"]
LABELS = ["1", "0", "1\n", "", " ", '"1"', "1,2", "yes", "0\r\n", "0\n1"]
TIMES = ["2024-03-05T11:10:00Z", "2024-03-05T11:59:59.999Z", "2024-03-05T12:00:00Z", "2024-03-05T10:59:59Z",
         "2024-03-05T11:30:00+01:00", "not a time", None]


def _line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.03:
        return rng.choice(["", "   ", "{", "[]", "null", '{"eventVersion": "0"}', "\t"])
    output = rng.choice(OUTPUTS)
    encoding = rng.choice(["CSV"] * 6 + ["csv", "JSON", "BASE64", None])
    if encoding == "JSON":
        output = json.dumps({"score": rng.random()})
    if encoding == "BASE64":
        output = base64.b64encode(output.encode()).decode()
    side = {"data": output, "encoding": encoding, "mode": "OUTPUT", "observedContentType": rng.choice(["text/csv", "application/json"])}
    if rng.random() < 0.05:
        side["data"] = rng.choice([1, None, ["x"]])
    name = rng.choice(["endpointOutput"] * 8 + ["batchTransformOutput", "endpointInput"])
    truth = {"data": rng.choice(LABELS), "encoding": rng.choice(["CSV"] * 6 + ["csv", "JSON", None])}
    if rng.random() < 0.05:
        truth = rng.choice([None, {"encoding": "CSV"}, {"data": 1, "encoding": "CSV"}, "1"])
    meta = {"eventId": "e", "inferenceTime": rng.choice(TIMES)}
    record = {"eventVersion": "0", "groundTruthData": truth, "captureData": {name: side}, "eventMetadata": meta}
    if rng.random() < 0.03:
        record["captureData"] = rng.choice([None, [], {}])
    text = json.dumps(record, separators=rng.choice([(",", ":"), (", ", ": ")]))
    return text + rng.choice(["", " ", "\r"])


def _gather(tmp_path, lines, by_columns: bool, monkeypatch, **env):
    folder = tmp_path / "m" / "ep" / "AllTraffic" / "2024" / "03" / "05" / "11"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-00000-x.c000.jsonl").write_text("\n".join(lines) + "\n")
    base = {"dataset_source": str(tmp_path / "m"), "output_path": str(tmp_path / "out"), "analysis_type": "MODEL_QUALITY",
            "dataset_format": '{"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}',
            "problem_type": "BinaryClassification", "baseline_constraints": "c.json", "MMON_CAPTURE_MAX_BAD_FRACTION": "1"}
    config = JobConfig.from_environ({**base, **env}, Paths.from_environ({}))
    with monkeypatch.context() as m:
        if not by_columns:
            m.setattr(mqm, "read_json_lines", lambda lines, schema: None)
        try:
            g = mqm.gather_merged(config)
        except InputError as exc:
            return str(exc)
    n = len(g.truth)
    return ([g.truth.to_pylist(), g.predicted.to_pylist() if g.predicted is not None else None,
             g.probability.to_pylist() if g.probability is not None else None], [g.where(i) for i in range(n)])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("attributes", [{"probability_attribute": "0"}, {"inference_attribute": "1", "probability_attribute": "0"},
                                        {"probability_attribute": "score"}])
@pytest.mark.parametrize("window", [{}, {"start_time": "2024-03-05T11:00:00Z", "end_time": "2024-03-05T12:00:00Z"}])
def test_by_columns_equals_line_by_line(tmp_path, monkeypatch, seed, attributes, window):
    rng = random.Random(seed)
    lines = [_line(rng) for _ in range(400)]
    fast = _gather(tmp_path, lines, True, monkeypatch, **attributes, **window)
    slow = _gather(tmp_path, lines, False, monkeypatch, **attributes, **window)
    assert fast == slow


def test_the_common_line_is_decoded_by_columns(tmp_path, monkeypatch):
    """Plain CSV outputs and labels take the column path (no line goes to merged_rows)."""
    calls = []
    original = mqm.merged_rows
    monkeypatch.setattr(mqm, "merged_rows", lambda *a, **k: calls.append(1) or original(*a, **k))
    line = json.dumps({"eventVersion": "0", "groundTruthData": {"data": "1", "encoding": "CSV"},
                       "captureData": {"endpointOutput": {"data": "0.8,1", "encoding": "CSV"}},
                       "eventMetadata": {"eventId": "e", "inferenceTime": "2024-03-05T11:10:00Z"}})
    rows, where = _gather(tmp_path, [line] * 50, True, monkeypatch, probability_attribute="0", inference_attribute="1",
                          start_time="2024-03-05T11:00:00Z", end_time="2024-03-05T12:00:00Z")
    assert rows == [["1"] * 50, ["1"] * 50, ["0.8"] * 50] and where[49].endswith("line 50") and not calls
