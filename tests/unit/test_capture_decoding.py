"""Capture lines -> records -> columns, on Arrow (no Spark): payload shapes, line rules, the
budget, and the vectorised CSV path against the per-record path."""
from __future__ import annotations

import base64
import gzip
import json
import random
import re
from dataclasses import replace
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from analyzer.errors import InputError
from container.capture import (
    CaptureRules,
    CaptureSummary,
    Origin,
    check_summary,
    decode,
    files_in_window,
    layout,
    looks_like_capture,
    read_lines,
    summarize,
    tabulate,
)
from container.config import CaptureFormat

NAMES = ["y", "a", "b", "c"]
UTC = timezone.utc


def _side(mode, data, encoding="CSV", content_type=None):
    ct = content_type or {"CSV": "text/csv", "JSON": "application/json", "BASE64": "text/csv"}.get(encoding, "text/plain")
    return {"observedContentType": ct, "mode": mode, "data": data, "encoding": encoding}


def _line(output=None, inputs=None, when="2024-01-01T00:00:30Z", event_id="1", **meta) -> str:
    capture = {}
    if inputs is not None:
        capture["endpointInput"] = inputs
    if output is not None:
        capture["endpointOutput"] = output
    metadata = {"eventId": event_id, **({"inferenceTime": when} if when is not None else {}), **meta}
    return json.dumps({"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"})


def _decode(lines, rules=CaptureRules(), vectorised=True, origin=Origin("c.jsonl")):
    return decode(pa.array(lines, pa.string()), rules, origin, vectorised=vectorised)


def _rows(lines, names=NAMES, rules=CaptureRules(), vectorised=True):
    summary, records = _decode(lines, rules, vectorised)
    return tabulate(records, layout(summary, names)).to_pylist()


CASES = {
    "csv": (_side("OUTPUT", "0.5"), _side("INPUT", "1,2,3"), (), [("0.5", "1", "2", "3")]),
    "csv trailing newline and empty field": (_side("OUTPUT", "0.5\n"), _side("INPUT", "1,,3\n"), (), [("0.5", "1", None, "3")]),
    "csv trailing CRLF lines, inner CR kept": (
        _side("OUTPUT", "0.5\r\n\r\n"), _side("INPUT", "1,a\rb,3\r\n"), (), [("0.5", "1", "a\rb", "3")]),
    "csv quoted comma": (_side("OUTPUT", "0"), _side("INPUT", '"x,y",2,3'), (), [("0", "x,y", "2", "3")]),
    "csv two lines": (_side("OUTPUT", "0\n1"), _side("INPUT", "1,2,3\n4,5,6"), (), [("0", "1", "2", "3"), ("1", "4", "5", "6")]),
    "base64 csv": (_side("OUTPUT", "0"), _side("INPUT", base64.b64encode(b"7,8,9").decode(), "BASE64"), (), [("0", "7", "8", "9")]),
    "json array": (_side("OUTPUT", "0"), _side("INPUT", "[1, 2.5, \"z\"]", "JSON"), (), [("0", "1", "2.5", "z")]),
    "json object by key": (_side("OUTPUT", "0"), _side("INPUT", '{"c": 3, "a": 1}', "JSON"), ("a", "c"), [("0", "1", None, "3")]),
    "json instances of arrays": (
        _side("OUTPUT", '{"predictions": [[0], [1]]}', "JSON"), _side("INPUT", '{"instances": [[1, 2, 3], [4, 5, 6]]}', "JSON"), (),
        [("0", "1", "2", "3"), ("1", "4", "5", "6")],
    ),
    "json instances of objects": (
        _side("OUTPUT", "0\n1"), _side("INPUT", '{"instances": [{"b": 1}, {"b": 2}]}', "JSON"), ("b",),
        [("0", None, "1", None), ("1", None, "2", None)],
    ),
    "json lines": (
        _side("OUTPUT", "0\n1"), _side("INPUT", '{"a": 1}\n{"a": 2}', "JSON", "application/jsonlines"), ("a",),
        [("0", "1", None, None), ("1", "2", None, None)],
    ),
    "json array of scalars is one record": (_side("OUTPUT", "[0, 1]", "JSON"), _side("INPUT", "[2]", "JSON"), (), [("0", "1", "2", None)]),
    "json scalar": (_side("OUTPUT", "0"), _side("INPUT", "42", "JSON"), (), [("0", "42", None, None)]),
    # beyond the Spark decoder's table
    "csv doubled quote is a quote": (
        _side("OUTPUT", "0"), _side("INPUT", '"say ""hi""",2,3'), (), [("0", 'say "hi"', "2", "3")]),
    "csv quoted field holds a line break": (
        _side("OUTPUT", "0"), _side("INPUT", '"two\nlines",2,3'), (), [("0", "two\nlines", "2", "3")]),
    "csv blank output is one missing field": (_side("OUTPUT", "  "), _side("INPUT", "1,2,3"), (), [(None, "1", "2", "3")]),
    "csv blank lines inside are skipped": (
        _side("OUTPUT", "0\n\n1"), _side("INPUT", "1,2,3\n \n4,5,6\n"), (), [("0", "1", "2", "3"), ("1", "4", "5", "6")]),
    "base64 json": (
        _side("OUTPUT", "0"),
        _side("INPUT", base64.b64encode(b'{"instances": [[1, 2, 3]]}').decode(), "BASE64", "application/json"), (),
        [("0", "1", "2", "3")],
    ),
    "base64 jsonlines with MIME line breaks": (
        _side("OUTPUT", "0\n1"),
        _side("INPUT", "\n".join(base64.encodebytes(b'[1, 2, 3]\n[4, 5, 6]\n').decode().split()), "BASE64", "application/jsonlines"),
        (), [("0", "1", "2", "3"), ("1", "4", "5", "6")],
    ),
    "json numbers keep their text, nested values are JSON text": (
        _side("OUTPUT", "[2.50]", "JSON"), _side("INPUT", '[1e3, true, {"k": [1, 2.0]}]', "JSON"), (),
        [("2.50", "1e3", "true", '{"k":[1,2.0]}')],
    ),
    "json null and empty string are missing": (
        _side("OUTPUT", "0"), _side("INPUT", '[null, "", "x"]', "JSON"), (), [("0", None, None, "x")]),
    "json empty array is a record without fields": (_side("OUTPUT", "0"), _side("INPUT", "[]", "JSON"), (), [("0", None, None, None)]),
    "json empty instances is a record without fields": (
        _side("OUTPUT", "0"), _side("INPUT", '{"instances": []}', "JSON"), (), [("0", None, None, None)]),
    "json lone surrogates become replacement characters": (
        _side("OUTPUT", "0"), _side("INPUT", '{"a": "x\\ud800"}', "JSON"), ("a",), [("0", "x\ufffd", None, None)]),
    "lower-case encoding": (_side("OUTPUT", "0", "csv"), _side("INPUT", "1,2,3", "csv"), (), [("0", "1", "2", "3")]),
    "input side only": (None, _side("INPUT", "1,2,3"), (), [("1", "2", "3", None)]),
}


@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "per-record"])
@pytest.mark.parametrize("name", list(CASES))
def test_payload_shapes_in_the_baseline_layout(name, vectorised):
    """As the Spark decoder's tests laid them out: the baseline's four columns, keys given."""
    output, inputs, keys, expected = CASES[name]
    summary, records = _decode([_line(output, inputs)], vectorised=vectorised)
    assert (summary.bad_lines, summary.undecodable, summary.records) == (0, 0, len(expected))
    columns = layout(CaptureSummary(max_fields=len(NAMES), keys=keys), NAMES)
    assert [tuple(r.values()) for r in tabulate(records, columns).to_pylist()] == expected


@pytest.mark.parametrize("name", list(CASES))
def test_payload_shapes_in_their_own_layout(name):
    """The layout from the decoded summary: its columns hold the expected values, and the
    features it leaves out are missing in every expected record."""
    output, inputs, keys, expected = CASES[name]
    summary, records = _decode([_line(output, inputs)])
    assert summary.keys == tuple(sorted(keys))
    rows = tabulate(records, layout(summary, NAMES)).to_pylist()
    wanted = [dict(zip(NAMES, values)) for values in expected]
    assert rows == [{k: v for k, v in w.items() if k in rows[0]} for w in wanted]
    assert all(w[k] is None for w in wanted for k in set(NAMES) - set(rows[0]))


def test_fields_past_the_baseline_are_named_by_position():
    rows = _rows([_line(_side("OUTPUT", "0"), _side("INPUT", "1,2,3,4,5"))])
    assert rows == [{"y": "0", "a": "1", "b": "2", "c": "3", "_c4": "4", "_c5": "5"}]


def test_json_keys_fill_features_and_other_keys_follow_sorted():
    lines = [
        _line(_side("OUTPUT", "0"), _side("INPUT", '{"zz": 1, "c": 3, "aa": 2}', "JSON")),
        _line(_side("OUTPUT", "1"), _side("INPUT", '{"a": 9, "b": "x"}', "JSON")),
    ]
    summary, records = _decode(lines)
    assert summary.keys == ("a", "aa", "b", "c", "zz")
    assert [c.name for c in layout(summary, NAMES)] == ["y", "a", "b", "c", "aa", "zz"]
    assert tabulate(records, layout(summary, NAMES)).to_pylist() == [
        {"y": "0", "a": None, "b": None, "c": "3", "aa": "2", "zz": "1"},
        {"y": "1", "a": "9", "b": "x", "c": None, "aa": None, "zz": None},
    ]


def test_a_key_with_a_lone_surrogate_names_a_column_with_a_replacement_character():
    assert _rows([_line(_side("OUTPUT", "0"), _side("INPUT", '{"k\\udfff": 1}', "JSON"))]) == [{"y": "0", "k\ufffd": "1"}]


def test_the_output_value_wins_when_both_sides_have_a_key():
    rows = _rows([_line(_side("OUTPUT", '{"a": "out"}', "JSON"), _side("INPUT", '{"a": "in", "b": 2}', "JSON"))])
    assert rows == [{"a": "out", "b": "2"}]


@pytest.mark.parametrize("payload,encoding", [
    ("[" + ",".join(map(str, range(20_000))) + "]", "JSON"),
    (",".join(map(str, range(20_000))), "CSV"),
    (json.dumps({f"k{i}": i for i in range(1001)}), "JSON"),
])
def test_a_record_wider_than_the_bound_is_undecodable(payload, encoding):
    """One record cannot open 20,000 columns: its line is undecodable, the others decode."""
    lines = [_line(_side("OUTPUT", "0"), _side("INPUT", payload, encoding)), _line(_side("OUTPUT", "1"), _side("INPUT", "1,2,3"), event_id="2")]
    summary, records = _decode(lines)
    assert summary == _decode(lines, vectorised=False)[0]
    assert (summary.undecodable, summary.records, summary.max_fields) == (1, 1, 4)
    assert summary.undecodable_example.where == "eventId 1 (line 1 of c.jsonl)"
    assert summary.undecodable_example.reason.startswith("a record with ") and "fields (more than 1000)" in summary.undecodable_example.reason


def test_the_bound_grows_with_the_baseline():
    rules = CaptureRules.of(CaptureFormat(), None, None, [f"f{i}" for i in range(400)])
    assert rules.max_fields == 1600
    summary, _ = _decode([_line(_side("OUTPUT", "0"), _side("INPUT", ",".join("1" * 1500)))], rules)
    assert (summary.undecodable, summary.max_fields) == (0, 1501)


def test_blank_lines_are_skipped_and_not_counted():
    summary, records = _decode(["", "   ", "\t\r", _line(_side("OUTPUT", "0"), _side("INPUT", "1")), ""])
    assert (summary.lines, summary.bad_lines, summary.records) == (1, 0, 1)


@pytest.mark.parametrize("vectorised", [True, False], ids=["vectorised", "per-record"])
def test_bad_lines_are_counted_with_the_first_one_named(vectorised):
    good = _line(_side("OUTPUT", "0"), _side("INPUT", "1,2,3"))
    lines = [
        good, "not json at all", "[1, 2]", json.dumps({"eventMetadata": {"eventId": "x"}}),
        _line(None, None), json.dumps({"captureData": "text"}), _line(_side("OUTPUT", None), _side("INPUT", None)),
        _line(_side("OUTPUT", "0"), dict(_side("INPUT", "1"), data=5)), good[:40], good,
    ]
    summary, records = _decode(lines, vectorised=vectorised, origin=Origin("x/c.jsonl", 0, 10))
    assert (summary.lines, summary.bad_lines, summary.records) == (10, 8, 2)
    assert summary.bad_example.where == "line 11 of x/c.jsonl"
    assert summary.bad_example.text == "line 11 of x/c.jsonl: not JSON ('not json at all')"
    reasons = [summarize(pa.array([line]), CaptureRules()).bad_example.reason.split(" (")[0] for line in lines[1:-1]]
    assert reasons == [
        "not JSON", "not a JSON object", "no captureData", "no data in endpointInput or endpointOutput",
        "captureData is not an object", "no data in endpointInput or endpointOutput",
        "captureData.endpointInput.data is not a string", "not JSON",
    ]


def test_a_line_with_data_only_on_an_unanalysed_side_is_bad():
    line = _line(_side("OUTPUT", "0"), None)
    assert summarize(pa.array([line]), CaptureRules(sides=("endpointInput",))).bad_lines == 1
    assert summarize(pa.array([line]), CaptureRules()).records == 1


@pytest.mark.parametrize("inputs,reason", [
    (_side("INPUT", "%%% not base64 %%%", "BASE64"), "invalid base64"),
    (_side("INPUT", base64.b64encode(b"\xff\xfe,1").decode(), "BASE64"), "not UTF-8"),
    (_side("INPUT", base64.b64encode(b"<html/>").decode(), "BASE64", "text/html; charset=utf-8"), "neither CSV nor JSON"),
    (_side("INPUT", "<a/>", "XML"), "unknown encoding 'XML'"),
    (_side("INPUT", "1,2", None), "unknown encoding None"),
    (_side("INPUT", "{not json", "JSON"), "not JSON"),
])
def test_undecodable_payloads(inputs, reason):
    summary, records = _decode([_line(_side("OUTPUT", "0"), inputs, event_id="e7")])
    assert (summary.undecodable, summary.records, len(records)) == (1, 0, 0)
    assert reason in summary.undecodable_example.reason
    assert summary.undecodable_example.where == "eventId e7 (line 1 of c.jsonl)"


def test_shadow_traffic_is_skipped():
    lines = [_line(_side("OUTPUT", "0"), _side("INPUT", "1"), invocationSource="ShadowExperiment"),
             _line(_side("OUTPUT", "1"), _side("INPUT", "2"), invocationSource="Other")]
    summary, _ = _decode(lines)
    assert (summary.shadow, summary.records) == (1, 1)


WINDOW = CaptureRules(start=datetime(2024, 3, 5, 11, tzinfo=UTC), end=datetime(2024, 3, 5, 12, tzinfo=UTC))


@pytest.mark.parametrize("when,verdict", [
    ("2024-03-05T11:00:00Z", "kept"),  # start inclusive
    ("2024-03-05T12:00:00Z", "outside"),  # end exclusive
    ("2024-03-05T10:59:59Z", "outside"),
    ("2024-03-05T11:59:59.999999Z", "kept"),
    ("2024-03-05T11:59:59.9999999Z", "kept"),  # digits past microseconds are dropped
    ("2024-03-05T12:30:00+01:00", "kept"),
    ("2024-03-05T11:30:00", "kept"),  # no offset: UTC
    ("2024-03-05 11:30:00Z", "kept"),
    ("2024-02-30T11:30:00Z", "bad"),
    ("2024-03-05T11:30:60Z", "bad"),
    ("yesterday", "bad"),
    ("", "bad"),
    (None, "bad"),  # missing while a window is set
])
def test_the_window(when, verdict):
    summary = summarize(pa.array([_line(_side("OUTPUT", "0"), _side("INPUT", "1"), when=when)]), WINDOW)
    got = "kept" if summary.records else "outside" if summary.outside_window else "bad" if summary.bad_lines else "?"
    assert got == verdict
    if verdict == "bad":
        assert "inferenceTime" in summary.bad_example.reason


def test_the_numpy_time_reader_agrees_with_python():
    """The common form is read from its bytes: every value it reads, Python reads as the same
    instant, and every value of that form Python reads, it reads too."""
    import numpy as np

    from container.capture import _micros, _plain_times, parse_time

    rng = random.Random(5)
    values = ["2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T23:59:59Z",
              "0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-04-31T00:00:00Z"]
    for _ in range(20_000):
        text = datetime.fromtimestamp(rng.randrange(-62135596800, 253402300799), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if rng.random() < 0.4:
            i = rng.randrange(20)
            text = text[:i] + rng.choice("0123456789-:TZ x") + text[i + 1:]
        values.append(text)
    micros, read = _plain_times(pa.array(values))
    expected = [parse_time(v) for v in values]
    form = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    assert all(_micros(e) == m for e, m, r in zip(expected, micros, read) if r)
    assert [bool(r) for r in read] == [e is not None and bool(form.fullmatch(v)) for e, v in zip(expected, values)]
    assert np.count_nonzero(read) > 10_000


def test_times_are_not_read_without_a_window():
    summary = summarize(pa.array([_line(_side("OUTPUT", "0"), _side("INPUT", "1"), when="yesterday")]), CaptureRules())
    assert (summary.bad_lines, summary.records) == (0, 1)


def test_the_plain_time_form_and_the_general_reader_agree():
    """Many lines take Arrow's reading of the common form; lines in other forms take Python's."""
    import numpy as np

    rng = np.random.default_rng(3)
    seconds = rng.integers(0, 3 * 86400, 3000)
    base = datetime(2024, 2, 28, tzinfo=UTC).timestamp()
    plain = [datetime.fromtimestamp(base + s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]
    other = [t.replace("Z", "+00:00") for t in plain]
    rules = CaptureRules(start=datetime(2024, 2, 29, 6, tzinfo=UTC), end=datetime(2024, 3, 1, 1, 30, tzinfo=UTC))
    lines = lambda ts: [_line(_side("OUTPUT", "0"), _side("INPUT", "1"), when=t) for t in ts]  # noqa: E731
    a, b = summarize(pa.array(lines(plain)), rules), summarize(pa.array(lines(other)), rules)
    assert (a.records, a.outside_window) == (b.records, b.outside_window)
    assert a.records == sum(rules.start.timestamp() <= base + s < rules.end.timestamp() for s in seconds) > 0


def test_decoding_is_deterministic():
    lines = [_line(_side("OUTPUT", str(i)), _side("INPUT", f"{i},x,{i * 2}" if i % 3 else f'{{"a": {i}}}', "CSV" if i % 3 else "JSON"))
             for i in range(300)]
    first, again = _decode(lines), _decode(lines)
    assert first[0] == again[0]
    columns = layout(first[0], NAMES)
    assert tabulate(first[1], columns).equals(tabulate(again[1], columns))


def test_summaries_of_parts_merge_into_the_summary_of_the_whole():
    lines = [_line(_side("OUTPUT", "0"), _side("INPUT", '{"k%d": 1}' % i, "JSON")) for i in range(6)]
    lines[1], lines[4] = "bad one", "bad two"
    lines[2] = _line(_side("OUTPUT", "0"), _side("INPUT", "x", "XML"))
    whole = summarize(pa.array(lines), CaptureRules(), Origin("f", 3, 1))
    head = summarize(pa.array(lines[:3]), CaptureRules(), Origin("f", 3, 1))
    tail = summarize(pa.array(lines[3:]), CaptureRules(), Origin("f", 3, 4))
    assert tail.merge(head) == head.merge(tail) == whole
    assert whole.bad_example.where == "line 2 of f" and whole.undecodable_example.where == "eventId 1 (line 3 of f)"


def test_a_line_pyarrow_rejects_does_not_change_the_others():
    """One line of another JSON type sends its piece of lines to Python's json: the other lines
    decode as they do in a clean chunk, and their order is kept."""
    good = [_line(_side("OUTPUT", str(i)), _side("INPUT", f"{i},{i}.5,x\n")) for i in range(3000)]
    odd = _line(_side("OUTPUT", "0"), dict(_side("INPUT", "1"), encoding=7))
    dirty = good[:1500] + [odd, "  " + good[0], "garbage", ""] + good[1500:]
    clean_summary, clean_records = _decode(good)
    dirty_summary, dirty_records = _decode(dirty)
    assert (dirty_summary.lines, dirty_summary.bad_lines, dirty_summary.records) == (3003, 2, 3001)
    columns = layout(clean_summary, NAMES)
    clean, got = tabulate(clean_records, columns).to_pylist(), tabulate(dirty_records, columns).to_pylist()
    assert got[:1500] == clean[:1500] and got[1500] == clean[0] and got[1501:] == clean[1500:]


def _random_csv(rng: random.Random) -> str:
    atoms = ["1", "2.5", "-3", "", " ", "x y", "é", "a\rb", '"q,1"', '"a ""b"""', '"l1\nl2"', "z"]
    rows = []
    for _ in range(rng.choice([1, 1, 1, 2])):
        rows.append(",".join(rng.choice(atoms) for _ in range(rng.choice([1, 3, 3, 4]))))
    text = rng.choice(["\n", "\r\n"]).join(rows)
    return text + rng.choice(["", "", "\n", "\r\n", "\n\n"])


def test_vectorised_and_per_record_paths_give_the_same_tables():
    rng = random.Random(11)
    lines = []
    for i in range(3000):
        output = rng.choice(["0", "1.5", "", "  ", "0\n", "7,8"])
        lines.append(_line(_side("OUTPUT", output), _side("INPUT", _random_csv(rng)), event_id=str(i)))
    vectorised, per_record = _decode(lines), _decode(lines, vectorised=False)
    assert vectorised[0] == per_record[0]
    assert len(vectorised[1].table_lines) > 500 and len(per_record[1].table_lines) == 0
    columns = layout(vectorised[0], NAMES)
    assert tabulate(vectorised[1], columns).equals(tabulate(per_record[1], columns))


@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 1, 5), (1, 1, 1)])
def test_the_vectorised_path_pads_short_rows(widths):
    lines = [_line(_side("OUTPUT", "0"), _side("INPUT", ",".join(["v"] * w))) for w in widths]
    a, b = _decode(lines), _decode(lines, vectorised=False)
    columns = layout(a[0], NAMES)
    assert a[0] == b[0] and tabulate(a[1], columns).equals(tabulate(b[1], columns))
    assert a[0].max_fields == 1 + max(widths)


def test_lines_with_their_line_breaks_decode_as_lines_without():
    lines = [_line(_side("OUTPUT", "0"), _side("INPUT", "1,2,3")), "", _line(_side("OUTPUT", "1"), _side("INPUT", "4,5,6"))]
    a, b = _decode(lines), _decode([line + "\n" for line in lines])
    columns = layout(a[0], NAMES)
    assert a[0] == b[0] and tabulate(a[1], columns).equals(tabulate(b[1], columns))


def test_records_without_any_field_still_count():
    summary, records = _decode([_line(_side("OUTPUT", "[]", "JSON"), _side("INPUT", "{}", "JSON"))])
    batch = tabulate(records, layout(summary, NAMES))
    assert (summary.records, batch.num_rows, batch.num_columns) == (1, 1, 0)


def test_records_pickle():
    import pickle

    summary, records = _decode([_line(_side("OUTPUT", "0"), _side("INPUT", "1,2")), _line(_side("OUTPUT", "0"), _side("INPUT", "[1]", "JSON"))])
    again = pickle.loads(pickle.dumps((summary, records)))
    columns = layout(summary, NAMES)
    assert again[0] == summary and tabulate(again[1], columns).equals(tabulate(records, columns))


# ------------------------------------------------------------------ files and the budget
def test_read_lines_across_chunks_gzip_and_bad_bytes(tmp_path):
    lines = [_line(_side("OUTPUT", str(i)), _side("INPUT", "1,2")) for i in range(50)]
    raw = ("\n".join(lines[:25]) + "\n\n" + "\n".join(lines[25:])).encode()  # no line break at the end
    raw = raw.replace(b'"1,2"', b'"1,\xff"', 1)
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(raw))
    chunks = list(read_lines(str(path), chunk_bytes=1000))
    assert len(chunks) > 5
    assert [c.first_line for c in chunks] == [1] + [sum(len(c.lines) for c in chunks[:i]) + 1 for i in range(1, len(chunks))]
    text = "".join(line for c in chunks for line in c.lines.to_pylist())
    assert text == raw.decode("utf-8", "replace") + "\n"
    summary = CaptureSummary()
    for chunk in chunks:
        summary = summary.merge(summarize(chunk.lines, CaptureRules(), Origin(str(path), 0, chunk.first_line)))
    assert (summary.lines, summary.records) == (50, 50)


def test_files_in_window_skip_whole_hours():
    files = [f"r/ep/v/2024/03/05/{h:02d}/f.jsonl" for h in (9, 10, 11, 12)] + ["r/other.jsonl"]
    start, end = datetime(2024, 3, 5, 10, 30, tzinfo=UTC), datetime(2024, 3, 5, 12, tzinfo=UTC)
    assert files_in_window(files, start, end) == [files[1], files[2], files[4]]
    assert files_in_window(files, None, None) == files


def test_budget_checks():
    ok = CaptureSummary(lines=100, bad_lines=1, records=99)
    check_summary(ok, "src", None, None, 0.01)
    too_many = _decode(["x"] * 2 + [_line(_side("OUTPUT", "0"), _side("INPUT", "1"))] * 8)[0]
    with pytest.raises(InputError) as bad:
        check_summary(too_many, "src", None, None, 0.1)
    assert str(bad.value).startswith("[CAPTURE_TOO_MANY_BAD_LINES] 2 of 10 capture lines")
    assert "first problem: line 1 of c.jsonl: not JSON ('x')" in str(bad.value)
    undecodable = _decode([_line(_side("OUTPUT", "0"), _side("INPUT", "%", "BASE64"), event_id="e1")] * 2
                          + [_line(_side("OUTPUT", "0"), _side("INPUT", "1"))] * 8)[0]
    with pytest.raises(InputError) as failed:
        check_summary(undecodable, "src", None, None, 0.1)
    assert str(failed.value) == (
        "[CAPTURE_DECODE_FAILED] Capture record eventId e1 (line 1 of c.jsonl) (and 1 more) has data that does not "
        "decode as BASE64 (text/csv): endpointInput: invalid base64; 2 of 10 records undecodable"
    )
    # One undecodable record: no "(and 0 more)"; both sides CSV of one content type: named once.
    wide = ",".join(["1"] * 1001)
    one = _decode([_line(_side("OUTPUT", "0"), _side("INPUT", wide), event_id="e1")] + [_line(_side("OUTPUT", "0"), _side("INPUT", "1"))] * 3)[0]
    with pytest.raises(InputError) as failed:
        check_summary(one, "src", None, None, 0.1)
    assert str(failed.value).startswith(
        "[CAPTURE_DECODE_FAILED] Capture record eventId e1 (line 1 of c.jsonl) has data that does not decode as "
        "CSV (text/csv): "), str(failed.value)
    with pytest.raises(InputError) as empty:
        check_summary(replace(ok, records=0, bad_lines=0), "src", datetime(2024, 3, 5, 11, tzinfo=UTC), None, 0.01)
    assert str(empty.value) == "[NO_CAPTURE_IN_WINDOW] No capture records found between 2024-03-05T11:00:00Z and (open) in src"


def test_looks_like_capture(tmp_path):
    (tmp_path / "cap" / "ep" / "2024").mkdir(parents=True)
    (tmp_path / "cap" / "ep" / "2024" / "f.jsonl").write_text("\n" + _line(_side("OUTPUT", "0"), _side("INPUT", "1")) + "\n")
    (tmp_path / "plain.csv").write_text("a,b\n1,2\n")
    assert looks_like_capture(str(tmp_path / "cap"))
    assert not looks_like_capture(str(tmp_path / "plain.csv"))
    assert not looks_like_capture(str(tmp_path / "missing"))


# ------------------------------------------------------------------ the local driver
def _tree(tmp_path, lines: list[str], hour: str = "2024/01/01/00") -> str:
    folder = tmp_path / "capture" / "ep" / "AllTraffic" / hour
    folder.mkdir(parents=True)
    (folder / "00-00-000-x.jsonl").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "capture")


def test_a_baseline_without_features_still_profiles_the_capture(tmp_path):
    from analyzer import ProfileOptions
    from container.capture import profile_capture

    source = _tree(tmp_path, [_line(_side("OUTPUT", "0"), _side("INPUT", "1,2"))])
    result = profile_capture(source, CaptureFormat(), [], None, None, 0.01, ProfileOptions())
    assert [f.name for f in result.statistics.features] == ["_c0", "_c1", "_c2"]
    assert result.statistics.item_count == 1


def test_profile_capture_lays_records_out_after_the_baseline(tmp_path):
    from analyzer import ProfileOptions
    from container.capture import profile_capture

    lines = [_line(_side("OUTPUT", str(i)), _side("INPUT", f"{i},{i % 3}" if i % 2 else '{"b": %d, "k": 1}' % i, "CSV" if i % 2 else "JSON"),
                   when=f"2024-01-01T00:{i:02d}:00Z") for i in range(40)]
    source = _tree(tmp_path, lines)
    start, end = datetime(2024, 1, 1, 0, 10, tzinfo=UTC), datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    result = profile_capture(source, CaptureFormat(), ["y", "a", "b"], start, end, 0.01, ProfileOptions())
    assert [f.name for f in result.statistics.features] == ["y", "a", "b", "k"]
    assert result.statistics.item_count == 20
    with pytest.raises(InputError, match=r"^\[NO_CAPTURE_IN_WINDOW\]"):  # the hour is read, no record is in the window
        profile_capture(source, CaptureFormat(), ["y"], datetime(2024, 1, 1, 0, 50, tzinfo=UTC), None, 0.01, ProfileOptions())


def test_quoted_csv_payloads_split_as_pythons_csv_reader_splits_them():
    """On text without carriage returns or blank lines, the per-record CSV splitter reads what
    Python's csv module reads (empty fields as missing)."""
    import csv
    import io

    from container.capture import _csv_payload, _split_quoted

    rng = random.Random(8)
    atoms = ["a", "1", "", " ", '"q"', '"x,y"', '"l1\nl2"', '"say ""hi"""', 'mid"dle', '"ab"cd', "é", '""', '" "']
    for _ in range(3000):
        rows = [",".join(rng.choice(atoms) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 3))]
        text = "\n".join(r if r.strip(' "') else "x" for r in rows) + rng.choice(["", "\n"])
        expected = [tuple(f or None for f in row) for row in csv.reader(io.StringIO(text, newline=""))]
        assert [fields for fields, _ in _csv_payload(text)] == expected, text
        assert _split_quoted(text.rstrip("\n")) == expected, text


@pytest.mark.parametrize("text,rows", [
    ('" "\n  \n"a"', [(" ",), ("a",)]),  # a quoted blank is a value, a blank row is skipped
    ('"open,1\n2', [("open,1\n2",)]),  # a quote left open runs to the end
    ('"a\rb",1\r\n2', [("a\rb", "1"), ("2",)]),  # a carriage return inside quotes is data
    ('x\r,"y"', [("x\r", "y")]),  # a lone carriage return is data
])
def test_quoted_csv_edge_cases(text, rows):
    from container.capture import _csv_payload

    assert [fields for fields, _ in _csv_payload(text)] == rows


def test_lines_as_spark_may_hand_them_over():
    """large_string, chunked or sliced arrays of lines decode as a plain string array."""
    lines = ["x", _line(_side("OUTPUT", "0"), _side("INPUT", "1,2")), "", _line(_side("OUTPUT", "1"), _side("INPUT", '"a,b",3'))]
    expected = _decode(lines[1:])
    for given in (pa.array(lines, pa.large_string()).slice(1), pa.chunked_array([lines[1:3], lines[3:]]), pa.array(lines).slice(1)):
        summary, records = decode(given, CaptureRules(), Origin("c.jsonl"))
        columns = layout(summary, NAMES)
        assert summary == expected[0] and tabulate(records, columns).equals(tabulate(expected[1], columns))


@pytest.mark.parametrize("width", [3, 4])
def test_profile_in_the_assumed_layout_equals_the_profile_in_the_found_layout(tmp_path, width):
    """profile_capture profiles records in the baseline's layout while it decodes them; that
    profile (restricted to the columns found) must equal profiling the records in the layout
    the merged summary gives, which is what it falls back to."""
    import json as _json
    from datetime import datetime, timezone

    from analyzer import ProfileOptions
    from analyzer.formats import statistics_json
    from analyzer.profile import profile_batches
    from container.capture import CaptureRules, decode_files, layout, profile_capture, tabulate
    from container.config import CaptureFormat

    names = ["y", "a", "b", "c"]
    lines = []
    for i in range(3000):
        fields = [str(i % 7), f"{i * 0.5}", "x" if i % 3 else "z"][: width - 1]
        if i % 5 == 0:
            inputs = {"observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON",
                      "data": _json.dumps({"b": i % 4, "a": i})}
        else:
            inputs = {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV", "data": ",".join(fields)}
        lines.append(_json.dumps({
            "captureData": {"endpointInput": inputs,
                            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "CSV", "data": "0.5"}},
            "eventMetadata": {"eventId": str(i), "inferenceTime": "2024-01-01T00:00:00Z"}, "eventVersion": "0",
        }))
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    fmt = CaptureFormat(("endpointInput", "endpointOutput"))
    options = ProfileOptions(domains={"c": ("x",)})
    fast = profile_capture(str(tmp_path), fmt, names, None, None, 0.01, options)
    summary, parts = decode_files([str(tmp_path / "c.jsonl")], CaptureRules.of(fmt, None, None, names))
    columns = layout(summary, names)
    slow = profile_batches([tabulate(p, columns) for p in parts], [c.name for c in columns], options)
    assert [f.name for f in fast.statistics.features] == [c.name for c in columns]
    assert statistics_json.to_dict(fast.statistics) == statistics_json.to_dict(slow.statistics)
    assert fast.type_counts == slow.type_counts and fast.outside_domain == slow.outside_domain


def test_capture_decoding_reports_progress(tmp_path, monkeypatch):
    """A long monitoring job shows progress as the baselining readers do: the bytes of the
    capture lines read (the files' sizes, none being compressed) and the records decoded."""
    import json as _json

    from analyzer import ProfileOptions
    from container import progress as progress_module
    from container.capture import profile_capture
    from container.config import CaptureFormat

    seen = []

    class Recorder(progress_module.Progress):
        def __init__(self, total_bytes, description="", **kwargs):
            super().__init__(total_bytes, description, enabled=False)
            seen.append(self)

    monkeypatch.setattr(progress_module, "Progress", Recorder)
    lines = [_json.dumps({
        "captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV", "data": f"{i},x"},
                        "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "CSV", "data": "1"}},
        "eventMetadata": {"eventId": str(i), "inferenceTime": "2024-01-01T00:00:00Z"}, "eventVersion": "0",
    }) for i in range(500)]
    for part in range(3):
        (tmp_path / f"{part}.jsonl").write_text("\n".join(lines) + "\n")
    profile_capture(str(tmp_path), CaptureFormat(("endpointInput", "endpointOutput")), ["y", "a", "b"], None, None, 0.01, ProfileOptions())
    (progress,) = seen
    size = sum(p.stat().st_size for p in tmp_path.glob("*.jsonl"))
    assert progress.total_bytes == size and progress.bytes_read == size
    assert progress.rows == 1500
