"""The model-quality jobs through container.entrypoint.main: baselines against SageMaker's real
outputs, the merge job and monitoring of its records, and the failures a user can cause."""
from __future__ import annotations

import json
import re
import shutil
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from container.entrypoint import main
from tests.capture_tools import ENDPOINT, VARIANT, record, write_capture
from tests.conftest import REFERENCE, read_json

CSV_HEADER = '{"csv": {"header": true, "output_columns_position": "START"}}'
MERGED = '{"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}}'
COMPLETED = "Completed: Job completed successfully with no violations."
BINARY = dict(analysis_type="MODEL_QUALITY", problem_type="BinaryClassification", inference_attribute="prediction",
              probability_attribute="probability", ground_truth_attribute="label")
T0 = datetime(2024, 3, 5, 11, tzinfo=timezone.utc)


def run(env: dict, **params) -> tuple[int, str, Path]:
    env = {**env, **{k: str(v) for k, v in params.items() if v is not None}}
    code = main(env)
    message = (Path(env["SAGEMAKER_BASE_DIR"]) / "output" / "message").read_text(encoding="utf-8")
    return code, message, Path(env["output_path"])


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def baseline_dir(tmp_path: Path, reference: str, name: str) -> Path:
    folder = tmp_path / f"in-{reference}"
    folder.mkdir()
    shutil.copy(REFERENCE / reference / name, folder)
    return folder


def six_digits(x: float) -> float:
    """``x`` as the notebooks displayed it: 6 significant digits, or 6 decimals (either matches)."""
    return float(f"{x:.6g}")


def shown(ours: float, real: float) -> bool:
    return six_digits(ours) == real or round(ours, 6) == real


# ------------------------------------------------------------------ baselines vs SageMaker's outputs
def test_binary_baseline_matches_real_sagemaker_baseline(job_env, tmp_path):
    """The churn baseline (201 records): every displayed value to its 6 significant digits,
    the confusion matrix exactly, and the thresholds that the real violations print at full
    precision exactly (AUC included)."""
    src = baseline_dir(tmp_path, "mq_churn_binary", "validation_with_predictions.csv")
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER, **BINARY)
    assert (code, message) == (0, COMPLETED)
    stats, constraints = read_json(out / "statistics.json"), read_json(out / "constraints.json")
    real = read_json(REFERENCE / "mq_churn_binary" / "statistics.display-rounded.partial.json")["binary_classification_metrics"]
    ours = stats["binary_classification_metrics"]
    assert stats["version"] == 0.0 and stats["dataset"]["item_count"] == 201
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stats["dataset"]["evaluation_time"])
    assert ours["confusion_matrix"] == real["confusion_matrix"]
    for name, metric in real.items():
        if name == "confusion_matrix":
            continue
        assert shown(ours[name]["value"], metric["value"]), name
        # The standard deviation comes from 5 random 80 % samples (theirs and ours): exactly 0
        # where every sample gives the same value, else the same order of magnitude.
        std = ours[name]["standard_deviation"]
        if metric["standard_deviation"] == 0:
            assert std == 0.0, name
        else:
            assert metric["standard_deviation"] / 8 < std < metric["standard_deviation"] * 8, name
    real_constraints = read_json(REFERENCE / "mq_churn_binary" / "constraints.display-rounded.json")
    section = constraints["binary_classification_constraints"]
    assert list(section) == list(real_constraints["binary_classification_constraints"])
    for name, c in real_constraints["binary_classification_constraints"].items():
        assert section[name]["comparison_operator"] == c["comparison_operator"], name
        assert six_digits(section[name]["threshold"]) == c["threshold"], name
    printed = {v["metric_name"]: re.search(r"'(.*)'$", v["description"]).group(1)
               for v in read_json(REFERENCE / "mq_churn_binary" / "constraint_violations.json")["violations"]}
    snake = {"truePositiveRate": "true_positive_rate", "falsePositiveRate": "false_positive_rate",
             "trueNegativeRate": "true_negative_rate", "falseNegativeRate": "false_negative_rate"}
    for name, text in printed.items():
        assert repr(section[snake.get(name, name)]["threshold"]) == text, name


def test_regression_baseline_matches_real_sagemaker_statistics_exactly(job_env, tmp_path):
    """The SDK's regression baseline (100 records, so standard deviations "NaN"); its test names
    the inference column `Label` and the ground truth `Prediction`."""
    src = baseline_dir(tmp_path, "mq_sdk_regression", "baseline_dataset.csv")
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER, analysis_type="MODEL_QUALITY",
                             problem_type="Regression", inference_attribute="Label", ground_truth_attribute="Prediction")
    assert (code, message) == (0, COMPLETED)
    ours, real = read_json(out / "statistics.json"), read_json(REFERENCE / "mq_sdk_regression" / "statistics.json")
    assert ours["dataset"]["item_count"] == real["dataset"]["item_count"] == 100
    assert list(ours["regression_metrics"]) == list(real["regression_metrics"])
    for name, metric in real["regression_metrics"].items():
        assert ours["regression_metrics"][name]["value"] == pytest.approx(metric["value"], rel=1e-12), name
        assert ours["regression_metrics"][name]["standard_deviation"] == "NaN"
    constraints = read_json(out / "constraints.json")
    real_constraints = read_json(REFERENCE / "mq_sdk_regression" / "constraints.json")
    assert constraints["version"] == 0.0
    for name, c in real_constraints["regression_constraints"].items():
        assert constraints["regression_constraints"][name]["comparison_operator"] == c["comparison_operator"]
        assert constraints["regression_constraints"][name]["threshold"] == pytest.approx(c["threshold"], rel=1e-12)


def test_regression_baseline_matches_the_weather_baseline(job_env, tmp_path):
    src = baseline_dir(tmp_path, "mq_weather_regression", "model-quality-baseline-data.csv")
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER, analysis_type="MODEL_QUALITY",
                             problem_type="Regression", inference_attribute="prediction", ground_truth_attribute="label")
    assert (code, message) == (0, COMPLETED)
    ours = read_json(out / "statistics.json")["regression_metrics"]
    real = read_json(REFERENCE / "mq_weather_regression" / "statistics.display-rounded.json")["regression_metrics"]
    for name, metric in real.items():
        assert shown(ours[name]["value"], metric["value"]), name
        assert metric["standard_deviation"] / 8 < ours[name]["standard_deviation"] < metric["standard_deviation"] * 8
    constraints = read_json(out / "constraints.json")["regression_constraints"]
    real_constraints = read_json(REFERENCE / "mq_weather_regression" / "constraints.display-rounded.json")
    for name, c in real_constraints["regression_constraints"].items():
        assert constraints[name]["comparison_operator"] == c["comparison_operator"]
        assert six_digits(constraints[name]["threshold"]) == c["threshold"]


def test_multiclass_baseline_from_json_lines_equals_scikit_learn(job_env, tmp_path):
    rng = np.random.default_rng(4)
    truth = rng.choice(["cat", "dog", "emu"], size=900, p=[0.5, 0.3, 0.2])
    predicted = np.where(rng.random(900) < 0.7, truth, rng.choice(["cat", "dog", "emu"], size=900))
    src = tmp_path / "mc"
    src.mkdir()
    (src / "data.jsonl").write_text("".join(json.dumps({"y": t, "yhat": p}) + "\n" for t, p in zip(truth, predicted)))
    code, message, out = run(job_env, dataset_source=src, dataset_format='{"json": {"lines": true}}',
                             analysis_type="MODEL_QUALITY", problem_type="MulticlassClassification",
                             inference_attribute="yhat", ground_truth_attribute="y")
    assert (code, message) == (0, COMPLETED)
    m = read_json(out / "statistics.json")["multiclass_classification_metrics"]
    assert m["accuracy"]["value"] == pytest.approx(skm.accuracy_score(truth, predicted), rel=1e-12)
    for beta, key in ((0.5, "weighted_f0_5"), (1, "weighted_f1"), (2, "weighted_f2")):
        expected = skm.fbeta_score(truth, predicted, beta=beta, average="weighted", zero_division=0)
        assert m[key]["value"] == pytest.approx(expected, rel=1e-12)
    assert m["weighted_precision"]["value"] == pytest.approx(
        skm.precision_score(truth, predicted, average="weighted", zero_division=0), rel=1e-12)
    labels = ["cat", "dog", "emu"]
    matrix = skm.confusion_matrix(truth, predicted, labels=labels)
    assert m["confusion_matrix"] == {a: {p: int(matrix[i, j]) for j, p in enumerate(labels)} for i, a in enumerate(labels)}
    assert isinstance(m["accuracy"]["standard_deviation"], float)  # 900 records: resampled


# ------------------------------------------------------------------ merged records and monitoring
def merged_line(label, output: str, when: datetime, inference_id: str | None = None) -> str:
    meta = {"eventId": str(uuid.uuid4()), **({"inferenceId": inference_id} if inference_id else {}),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return json.dumps({
        "eventVersion": "0", "groundTruthData": {"data": str(label), "encoding": "CSV"},
        "captureData": {"endpointInput": {"data": "1,2,3", "encoding": "CSV", "mode": "INPUT", "observedContentType": "text/csv"},
                        "endpointOutput": {"data": output, "encoding": "CSV", "mode": "OUTPUT", "observedContentType": "text/csv"}},
        "eventMetadata": meta,
    }, separators=(",", ":"))


def write_merged(root: Path, lines: list[str], hour: datetime = T0) -> Path:
    folder = root / ENDPOINT / VARIANT / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"part-00000-{uuid.uuid4()}.c000.jsonl").write_text("\n".join(lines) + "\n")
    return root


def scored(n: int, seed: int, skill: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities of a model whose scores separate the classes by ``skill``."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + skill * (2 * y - 1))))
    return y, np.round(p, 6)


def binary_baseline(job_env, tmp_path, n=2000, seed=1, skill=2.0) -> Path:
    y, p = scored(n, seed, skill)
    src = tmp_path / "mq-base"
    src.mkdir()
    pd.DataFrame({"probability": p, "prediction": (p >= 0.5).astype(int), "label": y}).to_csv(src / "b.csv", index=False)
    env = {**job_env, "output_path": str(tmp_path / "baseline")}
    code, message, out = run(env, dataset_source=src, dataset_format=CSV_HEADER, **BINARY)
    assert (code, message) == (0, COMPLETED)
    return out


def monitoring_env(job_env, baseline: Path, **extra) -> dict:
    return {**job_env, "analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
            "dataset_format": MERGED, "probability_attribute": "0", "probability_threshold_attribute": "0.5",
            "baseline_constraints": str(baseline / "constraints.json"), **extra}


def test_monitoring_a_worse_model_reports_each_metric_below_its_baseline(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    y, p = scored(800, seed=7, skill=0.3)  # a much worse model
    lines = [merged_line(label, f"{prob}", T0 + timedelta(seconds=i)) for i, (label, prob) in enumerate(zip(y, p))]
    src = write_merged(tmp_path / "merged", lines)
    env = monitoring_env(job_env, baseline, dataset_source=str(src), start_time="2024-03-05T11:00:00Z",
                         end_time="2024-03-05T12:00:00Z", publish_cloudwatch_metrics="Enabled",
                         sagemaker_endpoint_name="ep", sagemaker_monitoring_schedule_name="sched")
    code, message, out = run(env)
    stats = read_json(out / "statistics.json")["binary_classification_metrics"]
    predicted = (p >= 0.5).astype(int)
    assert stats["auc"]["value"] == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)  # < 1000 distinct scores: exact
    assert stats["accuracy"]["value"] == pytest.approx(skm.accuracy_score(y, predicted), rel=1e-12)
    assert stats["recall"]["value"] == pytest.approx(skm.recall_score(y, predicted), rel=1e-12)
    violations = read_json(out / "constraint_violations.json")["violations"]
    names = {v["metric_name"] for v in violations}
    assert {"auc", "accuracy", "f1"} <= names
    assert code == 0 and message == f"CompletedWithViolations: Job completed successfully with {len(violations)} violations."
    constraints = read_json(baseline / "constraints.json")["binary_classification_constraints"]
    for v in violations:
        m = re.fullmatch(r"Metric (\w+) with (\S+) \+/- (\S+) was (\w+) '(\S+)'", v["description"])
        assert m and m.group(1) == v["metric_name"] and m.group(4) == v["constraint_check_type"], v
        snake = re.sub(r"([A-Z])", lambda c: "_" + c.group(1).lower(), v["metric_name"])
        assert float(m.group(2)) == stats[snake]["value"] and float(m.group(5)) == constraints[snake]["threshold"]
    records = [json.loads(line) for line in
               (Path(job_env["SAGEMAKER_BASE_DIR"]) / "output/metrics/cloudwatch/cloudwatch_metrics.jsonl").read_text().splitlines()]
    by_name = {r["MetricName"]: r for r in records}
    assert by_name["auc"]["Value"] == stats["auc"]["value"]
    assert by_name["auc"]["Dimensions"] == [{"Name": "Endpoint", "Value": "ep"}, {"Name": "MonitoringSchedule", "Value": "sched"}]
    assert "confusion_matrix" not in by_name and "precision_recall_curve" not in by_name
    assert len(records) == 17


def test_monitoring_the_same_model_has_no_violation_and_is_deterministic(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path, skill=1.0)
    y, p = scored(3000, seed=9, skill=4.0)  # better than the baseline on every metric
    src = write_merged(tmp_path / "merged", [merged_line(a, f"{b}", T0) for a, b in zip(y, p)])
    outputs = []
    for name in ("one", "two"):
        env = monitoring_env({**job_env, "output_path": str(tmp_path / name)}, baseline, dataset_source=str(src),
                             end_time="2024-03-05T12:00:00Z")
        code, message, out = run(env)
        assert (code, message) == (0, COMPLETED)
        outputs.append({f: (out / f).read_bytes() for f in ("statistics.json", "constraint_violations.json")})
    assert outputs[0] == outputs[1]


def test_the_whole_loop_capture_ground_truth_merge_monitor(job_env, tmp_path):
    """Capture with inferenceId, ground truth uploaded an hour later, the merge job, then the
    monitoring job over the merge job's output."""
    baseline = binary_baseline(job_env, tmp_path)
    y, p = scored(600, seed=3, skill=0.2)
    records = [record([1, 2], [prob], T0 + timedelta(seconds=5 * i), inferenceId=f"id-{i}") for i, prob in enumerate(p)]
    write_capture(tmp_path / "capture", records)
    truth = tmp_path / "groundtruth" / "2024/03/05/12"
    truth.mkdir(parents=True)
    (truth / "labels.jsonl").write_text("".join(
        json.dumps({"groundTruthData": {"data": str(label), "encoding": "CSV"}, "eventMetadata": {"eventId": f"id-{i}"},
                    "eventVersion": "0"}) + "\n" for i, label in enumerate(y) if i % 10))  # 10 % never labelled
    merged = tmp_path / "merge-out"
    code, message, _ = run({**job_env, "output_path": str(merged)}, dataset_source=tmp_path / "capture",
                           ground_truth_source=tmp_path / "groundtruth", start_time="2024-03-05T11:00:00Z",
                           end_time="2024-03-05T12:00:00Z")
    assert (code, message) == (0, COMPLETED)
    lines = [json.loads(line) for f in sorted(merged.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    assert len(lines) == 540 and list(lines[0]) == ["eventVersion", "groundTruthData", "captureData", "eventMetadata"]
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(merged),
                         start_time="2024-03-05T11:00:00Z", end_time="2024-03-05T12:00:00Z")
    code, message, out = run(env)
    assert code == 0 and message.startswith("CompletedWithViolations")
    stats = read_json(out / "statistics.json")
    keep = np.arange(600) % 10 != 0
    assert stats["dataset"]["item_count"] == 540
    assert stats["binary_classification_metrics"]["auc"]["value"] == pytest.approx(skm.roc_auc_score(y[keep], p[keep]), rel=1e-12)


# ------------------------------------------------------------------ failures a user can cause
def failed(code, message, out, *fragments):
    assert code == 255 and message.startswith("Failed: ["), message
    for fragment in fragments:
        assert fragment in message, message
    assert leftovers(out) == []


def test_a_column_that_is_not_in_the_dataset(job_env, tmp_path):
    src = baseline_dir(tmp_path, "mq_churn_binary", "validation_with_predictions.csv")
    failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER, **{**BINARY, "ground_truth_attribute": "churn"}),
           "[MODEL_QUALITY_COLUMN_MISSING]", "ground_truth_attribute 'churn'", "probability, prediction, label")


@pytest.mark.parametrize("value, fragment", [("1.3", "[0, 1]"), ("high", "high"), ("", "validation.csv, row 3")])
def test_a_bad_probability_is_named_with_its_file_and_row(job_env, tmp_path, value, fragment):
    src = tmp_path / "bad"
    src.mkdir()
    rows = ["probability,prediction,label", "0.2,0,0", "0.9,1,1", f"{value},1,1", "0.4,0,0"]
    (src / "validation.csv").write_text("\n".join(rows) + "\n")
    failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER, **BINARY),
           "[MODEL_QUALITY_VALUE_INVALID]", "probability_attribute 'probability'", fragment)


def test_a_binary_baseline_with_one_class(job_env, tmp_path):
    src = tmp_path / "one"
    src.mkdir()
    (src / "d.csv").write_text("probability,prediction,label\n0.2,0,0\n0.3,0,0\n0.1,0,0\n")
    failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER, **BINARY),
           "[MODEL_QUALITY_VALUE_INVALID]", "ground_truth_attribute 'label'")


def test_a_regression_label_that_is_not_a_number(job_env, tmp_path):
    src = tmp_path / "reg"
    src.mkdir()
    (src / "d.csv").write_text("prediction,label\n1.5,2\n2.5,two\n")
    failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER, analysis_type="MODEL_QUALITY",
                problem_type="Regression", inference_attribute="prediction", ground_truth_attribute="label"),
           "[MODEL_QUALITY_VALUE_INVALID]", "'two'")


@pytest.mark.parametrize("params, fragment", [
    ({"problem_type": "Ranking"}, "[ENV_INVALID] Invalid value 'Ranking' for problem_type"),
    ({"problem_type": None}, "[ENV_MISSING] Required parameter problem_type"),
    ({"problem_type": "Regression", "inference_attribute": None}, "[ENV_MISSING] Required parameter inference_attribute"),
    ({"probability_threshold_attribute": "1.5"}, "[ENV_INVALID] Invalid value '1.5' for probability_threshold_attribute"),
    ({"analysis_type": "MODEL_BIAS"}, "[ENV_INVALID] Invalid value 'MODEL_BIAS' for analysis_type"),
])
def test_model_quality_parameters_are_checked(job_env, tmp_path, params, fragment):
    src = baseline_dir(tmp_path, "mq_churn_binary", "validation_with_predictions.csv")
    env = {**job_env, **{k: v for k, v in {**BINARY, **params}.items() if v is not None}}
    for key in [k for k, v in params.items() if v is None]:
        env.pop(key, None)
    failed(*run(env, dataset_source=src, dataset_format=CSV_HEADER), fragment)


def test_no_merged_record_in_the_window(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", [merged_line(1, "0.9", T0), merged_line(0, "0.1", T0)])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src),
                         start_time="2024-03-05T11:30:00Z", end_time="2024-03-05T11:40:00Z")
    failed(*run(env), "[NO_MERGED_RECORDS]", "2024-03-05T11:30:00Z")


def test_an_output_index_past_the_output_fields(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", [merged_line(1, "0.9", T0) for _ in range(5)])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src),
                         probability_attribute="2")
    failed(*run(env), "[CAPTURE_TOO_MANY_BAD_LINES]", "probability_attribute '2' is past the 1 field(s)")


def test_constraints_with_an_unknown_operator(job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    doc = read_json(baseline / "constraints.json")
    doc["binary_classification_constraints"]["auc"]["comparison_operator"] = "Sideways"
    (baseline / "constraints.json").write_text(json.dumps(doc))
    src = write_merged(tmp_path / "merged", [merged_line(i % 2, "0.6", T0) for i in range(20)])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "report")}, baseline, dataset_source=str(src))
    failed(*run(env), "[BASELINE_INVALID]", "Sideways")


def test_the_readme_model_quality_loop_runs_as_written(tmp_path, monkeypatch, capsys):
    """The README's worked example, command by command, on the bundled sample."""
    import shlex

    from container.cli import main as mmon

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("A worked loop on the bundled sample", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip().startswith("mmon ")]
    expected = re.search(r"^# (.*)$", block, re.M).group(1)
    assert len(commands) == 3
    monkeypatch.chdir(root)
    for command in commands:
        argv = [a.replace("$S", "sample/model-quality").replace("mq/", f"{tmp_path}/") for a in shlex.split(command)[1:]]
        assert mmon(argv) == 0, command
    assert capsys.readouterr().out.strip().splitlines()[-1] == expected


def test_monitoring_real_merged_records_with_json_outputs(job_env, tmp_path):
    """Records SageMaker's merge job wrote (tests/fixtures/reference/mq_merged): a JSON endpoint
    output of several predictions with an ``instances`` label list, a JSON Lines output with one
    label object, and a batch-transform output whose score sits at ``SageMakerOutput.score``."""
    real = (REFERENCE / "mq_merged" / "groundtruth-merged-records.sample.jsonl").read_text().splitlines()
    baseline = binary_baseline(job_env, tmp_path)
    expected_truth, expected_score = [], []
    for index in (1, 3):
        rec = json.loads(real[index])
        out = rec["captureData"]["endpointOutput"]["data"]
        preds = json.loads(out)["predictions"] if "predictions" in out else [json.loads(out)]
        labels = json.loads(rec["groundTruthData"]["data"])
        labels = labels["instances"] if "instances" in labels else [labels]
        expected_truth += [label["label"] for label in labels]
        expected_score += [p["score"] for p in preds]
    src = write_merged(tmp_path / "endpoint", [real[1], real[3]])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "ep")}, baseline, dataset_source=str(src),
                         probability_attribute="score", inference_attribute="predicted_label")
    code, message, out = run(env)
    assert code == 0, message
    stats = read_json(out / "statistics.json")
    assert stats["dataset"]["item_count"] == len(expected_truth) > 2
    assert stats["binary_classification_metrics"]["auc"]["value"] == pytest.approx(
        skm.roc_auc_score(expected_truth, expected_score), rel=1e-12)

    batch = json.loads(real[2])
    src = write_merged(tmp_path / "batch", [real[2], real[2]])
    env = monitoring_env({**job_env, "output_path": str(tmp_path / "bt")}, baseline, dataset_source=str(src),
                         probability_attribute="SageMakerOutput.score", inference_attribute="SageMakerOutput.predicted_label")
    code, message, out = run(env)
    assert code == 0, message
    matrix = read_json(out / "statistics.json")["binary_classification_metrics"]["confusion_matrix"]
    assert json.loads(batch["groundTruthData"]["data"])["label"] == 1 and matrix["1"]["1"] == 2


@pytest.mark.parametrize("problem_type", ["Regression", "MulticlassClassification"])
def test_json_lines_values_that_are_arrays_or_objects(job_env, tmp_path, problem_type):
    """Found by fuzzing: nested JSON values ended in an internal error. A regression value that is
    an array fails naming it; a class label may be any text (its JSON text)."""
    src = tmp_path / "nested"
    src.mkdir()
    rows = [{"yhat": 1, "y": 2}, {"yhat": [1, 2], "y": 1}, {"yhat": {"a": 1}, "y": 3}]
    (src / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run(job_env, dataset_source=src, dataset_format='{"json": {"lines": true}}', analysis_type="MODEL_QUALITY",
                 problem_type=problem_type, inference_attribute="yhat", ground_truth_attribute="y")
    if problem_type == "Regression":
        failed(*result, "[MODEL_QUALITY_VALUE_INVALID]", "inference_attribute 'yhat'", "d.jsonl, row 2")
    else:
        code, message, out = result
        assert (code, message) == (0, COMPLETED)
        matrix = read_json(out / "statistics.json")["multiclass_classification_metrics"]["confusion_matrix"]
        assert len(matrix) == 5 and {"1", "2", "3"} <= set(matrix)  # the predictions' two odd labels too


def test_positive_label_nan_is_refused(job_env, tmp_path):
    src = baseline_dir(tmp_path, "mq_churn_binary", "validation_with_predictions.csv")
    failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER, positive_label="NaN", **BINARY),
           "[ENV_INVALID] Invalid value 'NaN' for positive_label")


def test_a_headerless_csv_baseline_takes_column_positions(job_env, tmp_path):
    """Without a header the attributes are positions ("0": the first column); the metrics equal
    those of the same file with its header."""
    rows = (REFERENCE / "mq_churn_binary" / "validation_with_predictions.csv").read_text().splitlines()
    src = tmp_path / "nohdr"
    src.mkdir()
    (src / "d.csv").write_text("\n".join(rows[1:]) + "\n")
    code, message, out = run({**job_env, "output_path": str(tmp_path / "positions")}, dataset_source=src,
                             dataset_format='{"csv": {"header": false}}', analysis_type="MODEL_QUALITY",
                             problem_type="BinaryClassification", inference_attribute="1", probability_attribute="0",
                             ground_truth_attribute="2")
    assert (code, message) == (0, COMPLETED)
    named = baseline_dir(tmp_path, "mq_churn_binary", "validation_with_predictions.csv")
    code, message, out2 = run({**job_env, "output_path": str(tmp_path / "names")}, dataset_source=named,
                              dataset_format=CSV_HEADER, **BINARY)
    ours = read_json(out / "statistics.json")["binary_classification_metrics"]
    assert ours == read_json(out2 / "statistics.json")["binary_classification_metrics"]
    failed(*run({**job_env, "output_path": str(tmp_path / "past")}, dataset_source=src, dataset_format='{"csv": {"header": false}}',
                analysis_type="MODEL_QUALITY", problem_type="Regression", inference_attribute="1", ground_truth_attribute="3"),
           "[MODEL_QUALITY_COLUMN_MISSING]", "ground_truth_attribute '3'", "_c0, _c1, _c2")


def test_monitoring_a_labelled_csv_instead_of_merged_records(job_env, tmp_path):
    """Batch evaluation: a CSV holding predictions and labels, checked against a baseline's
    constraints with the baseline's column names (no capture, no merge)."""
    baseline = binary_baseline(job_env, tmp_path)
    y, p = scored(1000, seed=11, skill=0.3)
    src = tmp_path / "batch"
    src.mkdir()
    pd.DataFrame({"probability": p, "prediction": (p >= 0.5).astype(int), "label": y}).to_csv(src / "eval.csv", index=False)
    env = {**job_env, "output_path": str(tmp_path / "report"), "baseline_constraints": str(baseline / "constraints.json")}
    code, message, out = run(env, dataset_source=src, dataset_format=CSV_HEADER, **BINARY)
    assert code == 0 and message.startswith("CompletedWithViolations"), message
    stats = read_json(out / "statistics.json")["binary_classification_metrics"]
    assert stats["auc"]["value"] == pytest.approx(skm.roc_auc_score(y, p), rel=1e-12)
    assert "auc" in {v["metric_name"] for v in read_json(out / "constraint_violations.json")["violations"]}
