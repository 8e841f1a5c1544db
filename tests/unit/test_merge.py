"""The ground-truth merge: join keys, the window, duplicates, bad lines, the budget, and the
merged record's layout byte for byte against a record SageMaker's merge job wrote."""
from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from analyzer.errors import InputError
from container.merge import MergeResult, merge_ground_truth
from container.outputs import ReportWriter
from tests.capture_tools import ENDPOINT, VARIANT, record, write_capture
from tests.conftest import REFERENCE

UTC = timezone.utc
HOUR = datetime(2024, 1, 2, 10, tzinfo=UTC)
PART = re.compile(r"part-00000-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.c000\.jsonl")


def _at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return HOUR.replace(hour=hour, minute=minute, second=second)


def _label(event_id: str, data: str = "1", encoding: str = "CSV") -> str:
    return json.dumps({"groundTruthData": {"data": data, "encoding": encoding}, "eventMetadata": {"eventId": event_id},
                       "eventVersion": "0"})


def _write_truth(root: Path, lines: list[str], name: str = "labels.jsonl", hour: str = "2024/01/02/12") -> Path:
    """Ground truth is dated by upload: any hour folder."""
    path = root / hour / name
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def _merge(tmp_path, start=None, end=None, **kwargs) -> MergeResult:
    return merge_ground_truth(str(tmp_path / "capture"), str(tmp_path / "truth"), tmp_path / "out", start, end, **kwargs)


def _merged(tmp_path, result: MergeResult) -> list[dict]:
    return [json.loads(line) for name in result.files for line in (tmp_path / "out" / name).read_text().splitlines()]


def _id(r: dict) -> str:
    return r["eventMetadata"]["eventId"]


# ------------------------------------------------------------------ joining
def test_join_by_inference_id_else_event_id(tmp_path):
    with_id = [record([i], [0.5], _at(10, i), inferenceId=f"inf-{i}") for i in range(3)]
    plain = [record([i], [0.5], _at(10, 10 + i)) for i in range(3)]
    write_capture(tmp_path / "capture", with_id + plain)
    _write_truth(tmp_path / "truth", [
        _label("inf-0", "1"), _label("inf-2", "0"),  # by inferenceId
        _label(_id(with_id[1]), "1"),  # a captured eventId that has an inferenceId: not the key
        _label(_id(plain[0]), "0"), _label(_id(plain[2]), "1"),  # by eventId
        _label("nobody", "1"),
    ])
    result = _merge(tmp_path)
    assert result == MergeResult(4, 2, 2, 0, result.files)
    merged = _merged(tmp_path, result)
    assert [(_id(r), r["groundTruthData"]) for r in merged] == [
        (_id(with_id[0]), {"data": "1", "encoding": "CSV"}),
        (_id(with_id[2]), {"data": "0", "encoding": "CSV"}),
        (_id(plain[0]), {"data": "0", "encoding": "CSV"}),
        (_id(plain[2]), {"data": "1", "encoding": "CSV"}),
    ]
    assert merged[0]["captureData"] == {name: dict(sorted(side.items())) for name, side in with_id[0]["captureData"].items()}
    assert merged[0]["eventMetadata"] == dict(sorted(with_id[0]["eventMetadata"].items()))


def test_duplicate_labels_the_last_file_and_line_win(tmp_path):
    events = [record([i], [0.5], _at(10, i)) for i in range(3)]
    write_capture(tmp_path / "capture", events)
    a, b, c = map(_id, events)
    _write_truth(tmp_path / "truth", [_label(a, "first"), _label(b, "first"), _label(b, "second")], "1.jsonl", "2024/01/02/11")
    _write_truth(tmp_path / "truth", [_label(a, "last"), _label(c, "only")], "2.jsonl", "2024/01/02/11")
    result = _merge(tmp_path)
    assert (result.merged, result.duplicate_ground_truth) == (3, 2)
    assert [r["groundTruthData"]["data"] for r in _merged(tmp_path, result)] == ["last", "second", "only"]


def test_capture_records_sharing_a_key_each_get_the_label(tmp_path):
    events = [record([i], [0.5], _at(10, i), inferenceId="same") for i in range(2)]
    write_capture(tmp_path / "capture", events)
    _write_truth(tmp_path / "truth", [_label("same")])
    result = _merge(tmp_path)
    assert (result.merged, result.ground_truth_without_capture) == (2, 0)


# ------------------------------------------------------------------ the window
def test_window_drops_records_and_unread_hour_folders(tmp_path):
    events = [record([h], [0.5], _at(h, 30)) for h in (9, 10, 11)]
    events.append(record([99], [0.5], _at(10, 59, 59)))
    write_capture(tmp_path / "capture", events)
    # a line of hour 10's folder timed at 11:00 is outside [10:00, 11:00)
    late = record([7], [0.5], _at(11))
    folder10 = tmp_path / "capture" / ENDPOINT / VARIANT / "2024/01/02/10"
    (folder10 / "zz-late.jsonl").write_text(json.dumps(late) + "\n")
    # hour folders outside the window are not read: garbage there breaks no budget
    (tmp_path / "capture" / ENDPOINT / VARIANT / "2024/01/02/09" / "junk.jsonl").write_text("not json\n" * 50)
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events + [late]])
    result = _merge(tmp_path, _at(10), _at(11), max_bad_fraction=0.0)
    assert [_id(r) for r in _merged(tmp_path, result)] == [_id(events[1]), _id(events[3])]
    assert result.files == (f"{ENDPOINT}/{VARIANT}/2024/01/02/10/{Path(result.files[0]).name}",)
    assert PART.fullmatch(Path(result.files[0]).name)
    assert (result.captures_without_ground_truth, result.ground_truth_without_capture) == (0, 3)


def test_one_file_per_hour_folder_in_capture_order(tmp_path):
    events = [record([i], [0.5], _at(10 + i // 4, 10 * (i % 4))) for i in range(8)]
    write_capture(tmp_path / "capture", events, lines_per_file=2)  # two files an hour
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in reversed(events)])
    result = _merge(tmp_path)
    assert [str(Path(f).parent) for f in result.files] == [f"{ENDPOINT}/{VARIANT}/2024/01/02/{h}" for h in (10, 11)]
    assert [_id(r) for r in _merged(tmp_path, result)] == [_id(e) for e in events]
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert written == sorted(result.files)


def test_shadow_traffic_is_not_merged(tmp_path):
    events = [record([1], [0.5], _at(10)), record([2], [0.5], _at(10, 1), invocationSource="ShadowExperiment")]
    write_capture(tmp_path / "capture", events)
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events])
    result = _merge(tmp_path)
    assert (result.merged, result.ground_truth_without_capture) == (1, 1)


# ------------------------------------------------------------------ the real layout
REAL_RECORDS = (REFERENCE / "mq_merged" / "groundtruth-merged-records.sample.jsonl").read_text().splitlines()
ENDPOINT_RECORDS = [line for line in REAL_RECORDS if list(json.loads(line))[0] == "eventVersion"]


@pytest.mark.parametrize("endpoint", ENDPOINT_RECORDS, ids=lambda line: json.loads(line)["eventMetadata"]["inferenceId"])
def test_layout_byte_for_byte_as_the_real_merge_job(tmp_path, endpoint):
    assert len(ENDPOINT_RECORDS) == 2
    merged = json.loads(endpoint)
    # The capture line as an endpoint writes it (its own key order), and the label line.
    sides = merged["captureData"]
    meta = merged["eventMetadata"]
    capture = {
        "captureData": {
            name: {k: sides[name][k] for k in ("observedContentType", "mode", "data", "encoding")}
            for name in ("endpointInput", "endpointOutput")
        },
        "eventMetadata": {k: meta[k] for k in ("eventId", "inferenceId", "inferenceTime")},
        "eventVersion": "0",
    }
    hour = datetime.strptime(meta["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(minute=0, second=0, tzinfo=UTC)
    folder = tmp_path / "capture" / "churn-endpoint" / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True)
    (folder / "04-56-123-0b7bfd33-c8a7-4adf-a09a-98fd0af79974.jsonl").write_text(json.dumps(capture) + "\n")
    truth = {"groundTruthData": merged["groundTruthData"], "eventMetadata": {"eventId": meta["inferenceId"]},
             "eventVersion": "0"}
    _write_truth(tmp_path / "truth", [json.dumps(truth)], hour="2025/01/01/00")
    result = _merge(tmp_path, hour, hour.replace(hour=hour.hour + 1))
    (name,) = result.files
    assert name.startswith(f"churn-endpoint/AllTraffic/{hour:%Y/%m/%d/%H}/") and PART.fullmatch(Path(name).name)
    assert (tmp_path / "out" / name).read_bytes() == (endpoint + "\n").encode()


def test_non_ascii_kept_and_lone_surrogates_escaped(tmp_path):
    event = record(["café"], [0.5], _at(10))
    line = json.dumps(event).replace("caf\\u00e9", "caf\\u00e9\\ud800")
    folder = tmp_path / "capture" / ENDPOINT / VARIANT / "2024/01/02/10"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text(line + "\n")
    _write_truth(tmp_path / "truth", [_label(_id(event), "ü")])
    result = _merge(tmp_path)
    text = (tmp_path / "out" / result.files[0]).read_bytes().decode("utf-8")
    assert '"data":"café\\ud800"' in text and '{"data":"ü","encoding":"CSV"}' in text


def test_same_inputs_same_bytes_and_names(tmp_path):
    events = [record([i], [0.5], _at(10 + i % 2, i)) for i in range(6)]
    write_capture(tmp_path / "capture", events)
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events])
    runs = []
    for out in ("a", "b"):
        result = merge_ground_truth(str(tmp_path / "capture"), str(tmp_path / "truth"), tmp_path / out, None, None)
        runs.append((result.files, [(tmp_path / out / f).read_bytes() for f in result.files]))
    assert runs[0] == runs[1] and len(runs[0][0]) == 2
    # another label gives another name for that hour's file only
    _write_truth(tmp_path / "truth", [_label(_id(events[0]), "0")], "later.jsonl", "2024/01/02/13")
    other = merge_ground_truth(str(tmp_path / "capture"), str(tmp_path / "truth"), tmp_path / "c", None, None)
    assert other.files[0] != runs[0][0][0] and other.files[1] == runs[0][0][1]


# ------------------------------------------------------------------ bad lines and errors
BAD_LINES = {
    "not JSON": ("{oops", "not JSON"),
    "array": ("[1, 2]", "not a JSON object"),
    "no groundTruthData": ('{"eventMetadata": {"eventId": "x"}}', "no groundTruthData object"),
    "no data": ('{"groundTruthData": {"encoding": "CSV"}, "eventMetadata": {"eventId": "x"}}', "no groundTruthData.data"),
    "numeric data": ('{"groundTruthData": {"data": 1, "encoding": "CSV"}, "eventMetadata": {"eventId": "x"}}',
                     "groundTruthData.data is not a string"),
    "base64": ('{"groundTruthData": {"data": "MQ==", "encoding": "BASE64"}, "eventMetadata": {"eventId": "x"}}',
               "groundTruthData.encoding 'BASE64' is not CSV or JSON"),
    "no eventId": ('{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {}}', "no eventMetadata.eventId"),
}


@pytest.mark.parametrize("case", BAD_LINES)
def test_bad_ground_truth_line_over_the_budget(tmp_path, case):
    line, reason = BAD_LINES[case]
    events = [record([1], [0.5], _at(10))]
    write_capture(tmp_path / "capture", events)
    path = _write_truth(tmp_path / "truth", [_label(_id(events[0])), "", line])
    with pytest.raises(InputError) as err:
        _merge(tmp_path, max_bad_fraction=0.0)
    assert err.value.code == "GROUND_TRUTH_INVALID"
    assert (err.value.params["file"], err.value.params["line"]) == (str(path), 3)
    assert err.value.params["reason"].startswith(reason + " (")
    assert "1 of 2 ground-truth lines" in err.value.message
    assert not (tmp_path / "out").exists()  # the ground truth is read before any capture


def test_bad_ground_truth_lines_within_the_budget_are_skipped(tmp_path):
    events = [record([i], [0.5], _at(10, i % 60, i // 60)) for i in range(99)]
    write_capture(tmp_path / "capture", events)
    _write_truth(tmp_path / "truth", [_label(_id(e), encoding="json" if i % 2 else "CSV") for i, e in enumerate(events)]
                 + ["{oops"])
    result = _merge(tmp_path)  # 1 bad line of 100: within 1 %
    assert result.merged == 99
    assert {r["groundTruthData"]["encoding"] for r in _merged(tmp_path, result)} == {"CSV", "JSON"}
    _write_truth(tmp_path / "truth", ["{oops"], "more.jsonl")
    with pytest.raises(InputError, match=r"GROUND_TRUTH_INVALID.*line 100 .*not JSON.*2 of 101"):
        _merge(tmp_path)


def test_bad_capture_lines_use_the_capture_budget_and_leave_no_files(tmp_path):
    events = [record([i], [0.5], _at(10 + i // 10, i % 10)) for i in range(20)]
    write_capture(tmp_path / "capture", events)
    folder11 = tmp_path / "capture" / ENDPOINT / VARIANT / "2024/01/02/11"
    (folder11 / "zz.jsonl").write_text("not json\n")
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events])
    with pytest.raises(InputError) as err:
        _merge(tmp_path)
    assert err.value.code == "CAPTURE_TOO_MANY_BAD_LINES"
    assert list((tmp_path / "out").iterdir()) == []  # the hour 10 file written first is removed
    assert _merge(tmp_path, max_bad_fraction=0.05).merged == 20


def test_no_common_event_id(tmp_path):
    write_capture(tmp_path / "capture", [record([i], [0.5], _at(10, i)) for i in range(3)])
    _write_truth(tmp_path / "truth", [_label("a"), _label("b")])
    with pytest.raises(InputError) as err:
        _merge(tmp_path, _at(10), _at(11))
    assert err.value.code == "NO_MERGED_RECORDS"
    assert err.value.message == (
        f"[NO_MERGED_RECORDS] No records with ground truth between 2024-01-02T10:00:00Z and 2024-01-02T11:00:00Z in "
        f"{tmp_path / 'capture'} (3 capture records in the window, 2 ground-truth records, no eventId in common)"
    )
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_no_capture_in_the_window(tmp_path):
    write_capture(tmp_path / "capture", [record([1], [0.5], _at(10))])
    _write_truth(tmp_path / "truth", [_label("a")])
    with pytest.raises(InputError, match="NO_CAPTURE_IN_WINDOW"):
        _merge(tmp_path, _at(12), _at(13))


def test_missing_or_empty_ground_truth_source(tmp_path):
    write_capture(tmp_path / "capture", [record([1], [0.5], _at(10))])
    with pytest.raises(InputError) as err:
        _merge(tmp_path)
    assert str(err.value) == f"[GROUND_TRUTH_EMPTY] ground_truth_source {tmp_path / 'truth'} does not exist"
    (tmp_path / "truth" / "2024").mkdir(parents=True)
    with pytest.raises(InputError, match=r"\[GROUND_TRUTH_EMPTY\] ground_truth_source .* holds no files"):
        _merge(tmp_path)


def test_compressed_ground_truth_and_capture(tmp_path):
    events = [record([i], [0.5], _at(10, i)) for i in range(4)]
    (path,) = write_capture(tmp_path / "capture", events)
    path.with_suffix(".jsonl.gz").write_bytes(gzip.compress(path.read_bytes()))
    path.unlink()
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events[:3]], "labels.jsonl.gz")
    result = _merge(tmp_path)
    assert (result.merged, result.captures_without_ground_truth) == (3, 1)


def test_unreadable_ground_truth_file_is_named_as_such(tmp_path):
    write_capture(tmp_path / "capture", [record([1], [0.5], _at(10))])
    path = tmp_path / "truth" / "labels.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"DATASET_UNREADABLE\] Could not read ground-truth file"):
        _merge(tmp_path)


# ------------------------------------------------------------------ staging a tree
def test_report_writer_stages_a_folder_tree(tmp_path):
    events = [record([i], [0.5], _at(10 + i, 0)) for i in range(2)]
    write_capture(tmp_path / "capture", events)
    _write_truth(tmp_path / "truth", [_label(_id(e)) for e in events])
    output = tmp_path / "output"
    output.mkdir()
    result = _merge(tmp_path)
    writer = ReportWriter(output)
    writer.stage_tree(tmp_path / "out", result.files)
    assert not any(output.rglob("*.jsonl"))
    writer.commit()
    assert sorted(str(p.relative_to(output)) for p in output.rglob("*.jsonl")) == sorted(result.files)
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []

    again = tmp_path / "again"
    result = merge_ground_truth(str(tmp_path / "capture"), str(tmp_path / "truth"), again, None, None)
    other = tmp_path / "other"
    other.mkdir()
    writer = ReportWriter(other)
    writer.stage_tree(again, result.files)
    assert writer.discard_unless_committed()
    assert list(other.iterdir()) == [] and [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []
