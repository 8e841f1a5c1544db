"""Model-quality jobs on the inputs a new user or a fuzzer gives them (found by fuzzing the
baseline, merge and monitoring jobs): each ended in an internal error, or completed with metrics
computed over records other than those the user gave."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sklearn import metrics as skm

from tests.conftest import read_json
from tests.e2e.test_model_quality_job import (COMPLETED, CSV_HEADER, T0, binary_baseline, failed, merged_line,
                                              monitoring_env, run, write_merged)

JSON_LINES = '{"json": {"lines": true}}'
MULTICLASS = dict(analysis_type="MODEL_QUALITY", problem_type="MulticlassClassification", inference_attribute="p",
                  ground_truth_attribute="y")
LABELS = [1, 0, 1, 0, 1, 1, 0, 0]
SCORES = [0.9, 0.2, 0.4, 0.6, 0.7, 0.8, 0.1, 0.3]


def dataset(tmp_path: Path, name: str, content: str | bytes) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    path = src / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return src


def merged_file(src: Path) -> str:
    return str(next(src.rglob("*.jsonl")))


def edited(line: str, change) -> str:
    record = json.loads(line)
    change(record)
    return json.dumps(record, separators=(",", ":"))


# ------------------------------------------------------------------ attributes in digits that are not ASCII
@pytest.mark.parametrize("attribute", ["\u00b2", "\u0662"])  # '²' (int() refuses it), Arabic-Indic two (int() takes it)
def test_a_baseline_attribute_in_non_ascii_digits_is_no_column_position(job_env, tmp_path, attribute):
    """'²' ended in an internal error (str.isdigit takes it, int() does not); '٢' silently read
    the third column as the labels."""
    src = dataset(tmp_path, "d.csv", "0.9,1,1\n0.1,0,0\n")
    failed(*run(job_env, dataset_source=src, dataset_format='{"csv": {"header": false}}', analysis_type="MODEL_QUALITY",
                problem_type="BinaryClassification", probability_attribute="0", inference_attribute="1",
                ground_truth_attribute=attribute),
           "[MODEL_QUALITY_COLUMN_MISSING]", f"ground_truth_attribute {attribute!r} names no column", "_c0, _c1, _c2")


def test_a_monitoring_attribute_in_non_ascii_digits_is_no_output_index(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", [merged_line(a, f"{p}", T0) for a, p in zip(LABELS, SCORES)])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src),
                         probability_attribute="\u00b2")
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", f"{merged_file(src)} line 1",
           "probability_attribute '\u00b2' must be the index of a field of the endpoint's CSV output")


# ------------------------------------------------------------------ merged records of the wrong shape
@pytest.mark.parametrize("path, shown", [
    (("captureData", "endpointOutput", "encoding"), "encoding of the endpoint output is a number, not a string"),
    (("groundTruthData", "encoding"), "encoding of groundTruthData is a number, not a string"),
])
def test_a_merged_record_whose_encoding_is_not_a_string(job_env, tmp_path, path, shown):
    """Was an internal error (AttributeError: 'int' object has no attribute 'upper')."""
    def change(record):
        inner = record
        for key in path[:-1]:
            inner = inner[key]
        inner[path[-1]] = 5

    baseline = binary_baseline(job_env, tmp_path)
    lines = [edited(merged_line(a, f"{p}", T0), change) for a, p in zip(LABELS, SCORES)]
    src = write_merged(tmp_path / "merged", lines)
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src))
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", "8 of 8", f"{merged_file(src)} line 1: {shown}")


def test_a_merged_record_whose_content_type_is_not_a_string(job_env, tmp_path):
    """Was an internal error ('int' object has no attribute 'lower') for JSON and BASE64 outputs;
    a CSV output is read without its content type (as the column decoder reads it)."""
    def change(encoding, data):
        def apply(record):
            record["captureData"]["endpointOutput"].update(observedContentType=5, encoding=encoding, data=data(
                record["captureData"]["endpointOutput"]["data"]))
        return apply

    baseline = binary_baseline(job_env, tmp_path)
    for name, encoding, data in (("json", "JSON", lambda d: json.dumps({"score": float(d)})),
                                 ("csv", "CSV", lambda d: d)):
        lines = [edited(merged_line(a, f"{p}", T0), change(encoding, data)) for a, p in zip(LABELS, SCORES)]
        src = write_merged(tmp_path / f"merged-{name}", lines)
        env = monitoring_env({**job_env, "output_path": str(tmp_path / f"report-{name}")}, baseline, dataset_source=str(src),
                             probability_attribute="score" if encoding == "JSON" else "0")
        code, message, out = run(env)
        assert code == 0, message
        auc = read_json(out / "statistics.json")["binary_classification_metrics"]["auc"]["value"]
        assert auc == skm.roc_auc_score(LABELS, SCORES)
    lines = [edited(merged_line(a, f"{p}", T0), change("BASE64", lambda d: "MC41")) for a, p in zip(LABELS, SCORES)]
    src = write_merged(tmp_path / "merged-base64", lines)
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report-base64")}, baseline, dataset_source=str(src))
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", f"{merged_file(src)} line 1: content type None is neither CSV nor JSON")


def test_a_merged_line_nested_deeper_than_the_json_parser_goes(job_env, tmp_path):
    """Was an internal error (RecursionError)."""
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", ["[" * 100_000] + [merged_line(a, f"{p}", T0) for a, p in zip(LABELS, SCORES)])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src))
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", "1 of 9 merged lines are not valid merged records",
           f"{merged_file(src)} line 1: not JSON")


def test_ground_truth_attribute_naming_a_key_the_label_lacks(job_env, tmp_path):
    """A JSON label object with one key was read as the label whatever its key, even when
    ground_truth_attribute named another one."""
    baseline = binary_baseline(job_env, tmp_path)
    lines = [edited(merged_line(a, f"{p}", T0), lambda r, a=a: r["groundTruthData"].update(
        data=json.dumps({"score": a}), encoding="JSON")) for a, p in zip(LABELS, SCORES)]
    src = write_merged(tmp_path / "merged", lines)
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src),
                         ground_truth_attribute="label")
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", "8 of 8",
           f"{merged_file(src)} line 1: ground_truth_attribute 'label' is not a key of groundTruthData (score)")


def test_a_bad_merged_label_names_the_ground_truth_field(job_env, tmp_path):
    """The message named a parameter that does not exist ("truth_attribute 'truth'")."""
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", [merged_line("" if i == 2 else a, f"{p}", T0)
                                             for i, (a, p) in enumerate(zip(LABELS, SCORES))])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src))
    failed(*run(env), "[MODEL_QUALITY_VALUE_INVALID] ground truth 'groundTruthData.data': missing value",
           f"first at {merged_file(src)} line 3: null")


# ------------------------------------------------------------------ labels read as other labels
def test_integer_labels_past_2_to_the_53_stay_distinct(job_env, tmp_path):
    """9007199254740993 and 9007199254740992 are one double: both labels were read as the class
    '9007199254740992.0' (accuracy 1.0 instead of 0.5)."""
    truth = ["9007199254740993", "9007199254740993", "12345678901234567891", "12345678901234567892"]
    predicted = ["9007199254740993", "9007199254740992", "12345678901234567891", "12345678901234567891"]
    src = dataset(tmp_path, "d.csv", "p,y\n" + "".join(f"{p},{t}\n" for p, t in zip(predicted, truth)))
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER, **MULTICLASS)
    assert (code, message) == (0, COMPLETED)
    metrics = read_json(out / "statistics.json")["multiclass_classification_metrics"]
    assert metrics["accuracy"]["value"] == skm.accuracy_score(truth, predicted) == 0.5
    assert sorted(metrics["confusion_matrix"]) == sorted(set(truth) | set(predicted))


def test_boolean_predictions_of_a_json_endpoint_against_0_1_labels(job_env, tmp_path):
    """JSON booleans in a payload are the text 'true'/'false', which did not equal the labels
    True/False are ('1'/'0', as a JSON Lines baseline reads them): the job failed with four
    classes, and no parameter could fix it."""
    baseline = binary_baseline(job_env, tmp_path)
    predicted = [p >= 0.5 for p in SCORES]
    lines = [edited(merged_line(a, json.dumps({"predicted_label": b}), T0), lambda r: r["captureData"]["endpointOutput"].update(
        encoding="JSON", observedContentType="application/json")) for a, b in zip(LABELS, predicted)]
    src = write_merged(tmp_path / "merged", lines)
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src),
                         inference_attribute="predicted_label")
    del env["probability_attribute"]
    code, message, out = run(env)
    assert code == 0, message
    metrics = read_json(out / "statistics.json")["binary_classification_metrics"]
    assert metrics["accuracy"]["value"] == skm.accuracy_score(LABELS, predicted)
    assert metrics["recall"]["value"] == skm.recall_score(LABELS, predicted)
    assert metrics["confusion_matrix"] == {"0": {"0": 3, "1": 1}, "1": {"0": 1, "1": 3}}


@pytest.mark.parametrize("name, content, fmt", [
    ("d.jsonl", "".join(json.dumps({"p": p >= 0.5, "s": p, "y": bool(a)}) + "\n" for a, p in zip(LABELS, SCORES)), JSON_LINES),
    ("d.csv", "p,s,y\n" + "".join(f"{str(p >= 0.5).lower()},{p},{a}\n" for a, p in zip(LABELS, SCORES)), CSV_HEADER),
])
def test_positive_label_true_for_boolean_labels(job_env, tmp_path, name, content, fmt):
    """positive_label=true did not match JSON booleans (read as '1'/'0'): 'positive_label 'true'
    is neither of the classes '0', '1''; predictions written true/false against labels 0/1 were
    four classes."""
    src = dataset(tmp_path, name, content)
    code, message, out = run(job_env, dataset_source=src, dataset_format=fmt, analysis_type="MODEL_QUALITY",
                             problem_type="BinaryClassification", inference_attribute="p", probability_attribute="s",
                             ground_truth_attribute="y", positive_label="true")
    assert (code, message) == (0, COMPLETED)
    metrics = read_json(out / "statistics.json")["binary_classification_metrics"]
    assert metrics["auc"]["value"] == skm.roc_auc_score(LABELS, SCORES)
    assert metrics["recall"]["value"] == skm.recall_score(LABELS, [p >= 0.5 for p in SCORES])


# ------------------------------------------------------------------ JSON records the reader skipped
ROWS = [{"p": int(p >= 0.5), "s": p, "y": a} for a, p in zip(LABELS, SCORES)]


@pytest.mark.parametrize("bad, shown", [
    (b"{not json", "line 3 is not a JSON object ('{not json')"),
    (b"[0.5, 1, 1]", "line 3 is not a JSON object ('[0.5, 1, 1]')"),
    (b'{"p": 1, "s": 0.5, "y": "\xff"}', "line 3 is not a JSON object"),  # not UTF-8
])
def test_a_json_lines_line_that_is_not_an_object(job_env, tmp_path, bad, shown):
    """Such lines were skipped without a word: the job completed with metrics over the other
    records."""
    lines = [json.dumps(r).encode() for r in ROWS]
    src = dataset(tmp_path, "d.jsonl", b"\n".join(lines[:2] + [bad] + lines[2:]) + b"\n")
    failed(*run(job_env, dataset_source=src, dataset_format=JSON_LINES, analysis_type="MODEL_QUALITY",
                problem_type="BinaryClassification", inference_attribute="p", probability_attribute="s",
                ground_truth_attribute="y"),
           f"[DATASET_UNREADABLE] Could not read JSON Lines file {src / 'd.jsonl'}: {shown}")


def test_a_json_document_record_that_is_not_an_object(job_env, tmp_path):
    src = dataset(tmp_path, "d.json", json.dumps(ROWS[:3] + [5] + ROWS[3:]))
    failed(*run(job_env, dataset_source=src, dataset_format='{"json": {"lines": false}}', analysis_type="MODEL_QUALITY",
                problem_type="BinaryClassification", inference_attribute="p", probability_attribute="s",
                ground_truth_attribute="y"),
           f"[DATASET_UNREADABLE] Could not read JSON file {src / 'd.json'}: 1 of its records are not JSON objects")


def test_a_labelled_json_lines_dataset_monitored_with_a_bad_line(job_env, tmp_path):
    """The batch evaluation (a labelled dataset against baseline constraints) reads the same way."""
    baseline = binary_baseline(job_env, tmp_path)
    lines = [json.dumps(r) for r in ROWS]
    src = dataset(tmp_path, "eval.jsonl", "\n".join(lines[:5] + ["oops"] + lines[5:]) + "\n")
    env = {**job_env, "output_path": str(tmp_path / "report"), "baseline_constraints": str(baseline / "constraints.json")}
    failed(*run(env, dataset_source=src, dataset_format=JSON_LINES, analysis_type="MODEL_QUALITY",
                problem_type="BinaryClassification", inference_attribute="p", probability_attribute="s",
                ground_truth_attribute="y"),
           f"[DATASET_UNREADABLE] Could not read JSON Lines file {src / 'eval.jsonl'}: line 6 is not a JSON object ('oops')")


# ------------------------------------------------------------------ the merge job
def capture_with_deep_lines(tmp_path: Path, depths: list[int], good: int) -> tuple[Path, Path, Path]:
    """Capture lines of one hour (``good`` plain ones, then one per depth holding an array nested
    that deep in its eventMetadata, each with a label) and their ground truth."""
    from tests.capture_tools import ENDPOINT, VARIANT, record

    records = [json.dumps(record([1], [0.5], T0, inferenceId=f"id{i}")) for i in range(good)]
    for j, depth in enumerate(depths):
        line = json.dumps(record([1], [0.5], T0, inferenceId=f"deep{j}"))
        records.append(line.replace('"inferenceId"', '"nested": ' + "[" * depth + "]" * depth + ', "inferenceId"'))
    folder = tmp_path / "capture" / ENDPOINT / VARIANT / "2024/03/05/11"
    folder.mkdir(parents=True)
    capture = folder / "00-00-000-capture.jsonl"
    capture.write_text("\n".join(records) + "\n")
    truth = tmp_path / "groundtruth"
    truth.mkdir()
    ids = [f"id{i}" for i in range(good)] + [f"deep{j}" for j in range(len(depths))]
    (truth / "labels.jsonl").write_text("".join(json.dumps(
        {"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": i}}) + "\n" for i in ids))
    return tmp_path / "capture", truth, capture


WINDOW = dict(start_time="2024-03-05T11:00:00Z", end_time="2024-03-05T12:00:00Z")


def test_the_merge_job_on_a_capture_line_nested_deeper_than_python_reads(job_env, tmp_path):
    """The line rules (pyarrow's parser) keep such a line; Python's json then raised RecursionError
    (reading it, or writing the merged record at a depth just under the limit): an internal error.
    It is now a malformed capture line, within the bad-line budget."""
    capture, truth, file = capture_with_deep_lines(tmp_path, [100_000], good=10)
    failed(*run({**job_env, "output_path": str(tmp_path / "merged")}, dataset_source=capture, ground_truth_source=truth, **WINDOW),
           "[CAPTURE_TOO_MANY_BAD_LINES] 1 of 11 capture lines",
           f"line 11 of {file}: JSON nested deeper than the merge job reads")
    depths = list(range(900, 1001, 4)) + [100_000]
    capture, truth, _ = capture_with_deep_lines(tmp_path / "budget", depths, good=300)
    code, message, out = run({**job_env, "output_path": str(tmp_path / "merged-budget"), "MMON_CAPTURE_MAX_BAD_FRACTION": "0.2"},
                             dataset_source=capture, ground_truth_source=truth, **WINDOW)
    assert (code, message) == (0, COMPLETED)
    merged = [line for f in out.rglob("*.jsonl") for line in f.read_text().splitlines()]
    assert 300 <= len(merged) < 300 + len(depths)  # the lines too deep for Python skipped, the others merged
