"""Payload shapes of captured records -> rows, through the Spark SQL decoder (no job around it)."""
import base64
import json

import pytest

from container.capture import _decode, _layout, _records, _usable_records
from container.config import CaptureFormat

NAMES = ["y", "a", "b", "c"]


def _side(mode, data, encoding="CSV", content_type=None):
    ct = content_type or {"CSV": "text/csv", "JSON": "application/json", "BASE64": "text/csv"}[encoding]
    return {"observedContentType": ct, "mode": mode, "data": data, "encoding": encoding}


def _decoded(spark, tmp_path, output, inputs):
    """One capture line with these two sides, written and decoded."""
    line = {
        "captureData": {"endpointInput": inputs, "endpointOutput": output},
        "eventMetadata": {"eventId": "1", "inferenceTime": "2024-01-01T00:00:00Z"},
        "eventVersion": "0",
    }
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps(line) + "\n")
    return _decode(spark, [str(path)], CaptureFormat(("endpointInput", "endpointOutput")), None, None)


def _rows(spark, tmp_path, output, inputs, keys=()):
    layout = _layout(len(NAMES), tuple(keys), NAMES)
    return [tuple(r) for r in _records(_decoded(spark, tmp_path, output, inputs), layout).collect()]


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
}


@pytest.mark.parametrize("name", list(CASES))
def test_payload_shapes(spark, tmp_path, name):
    output, inputs, keys, expected = CASES[name]
    assert _rows(spark, tmp_path, output, inputs, keys) == expected


def test_a_baseline_without_features_still_profiles_the_capture(spark, tmp_path):
    """Nothing to assume about the layout: the summary is read first, then every field profiled."""
    from container.capture import profile_capture
    from analyzer import ProfileOptions

    line = {
        "captureData": {"endpointInput": _side("INPUT", "1,2"), "endpointOutput": _side("OUTPUT", "0")},
        "eventMetadata": {"eventId": "1", "inferenceTime": "2024-01-01T00:00:00Z"}, "eventVersion": "0",
    }
    (tmp_path / "c.jsonl").write_text(json.dumps(line) + "\n")
    result = profile_capture(spark, str(tmp_path), CaptureFormat(("endpointInput", "endpointOutput")), [], None, None, 0.01, ProfileOptions())
    assert [f.name for f in result.statistics.features] == ["_c0", "_c1", "_c2"]
    assert result.statistics.item_count == 1


WIDER = (_side("OUTPUT", "0"), _side("INPUT", "1,2,3,4,5"), (), None)


@pytest.mark.parametrize("name", [*CASES, "wider than the baseline"])
def test_cells_in_the_baseline_layout_equal_its_rows(spark, tmp_path, name):
    """The one-scan profile reads records as cells (``_record_cells``); they hold the values
    that the rows of the baseline's layout hold (JSON keys that are feature names, records cut
    or padded to the features), value for value."""
    from collections import Counter

    from container.capture import _record_cells

    output, inputs, _, _ = CASES.get(name, WIDER)
    decoded = _decoded(spark, tmp_path, output, inputs)
    rows = _records(decoded, _layout(len(NAMES), tuple(NAMES), NAMES)).collect()
    cells = _record_cells(decoded, NAMES)
    assert cells.features == tuple(NAMES)
    got = Counter((r["i"], r["v"]) for r in cells.df.collect())
    assert got == Counter((i, value) for row in rows for i, value in enumerate(row))
    assert sum(got.values()) == len(NAMES) * len(rows) > 0


def test_no_filter_is_pushed_below_the_record_explode(spark, tmp_path):
    """A filter under the Generate would be evaluated on the scan's rows with the decoding
    inlined into it (the whole decoding twice per line): records are filtered after the explode."""
    decoded = _decoded(spark, tmp_path, _side("OUTPUT", "0"), _side("INPUT", "1,2,3"))
    plan = _usable_records(decoded)._jdf.queryExecution().optimizedPlan().toString().splitlines()
    generate = next(i for i, line in enumerate(plan) if "Generate" in line)
    assert not [line for line in plan[generate:] if "Filter" in line], "\n".join(plan)
    assert [tuple(r["rec"]["pos"]) for r in _usable_records(decoded).collect()] == [("0", "1", "2", "3")]
