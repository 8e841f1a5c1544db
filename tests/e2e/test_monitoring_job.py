"""The monitoring job on capture trees built as an endpoint writes them: exact violation sets."""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from container.entrypoint import main
from tests.capture_tools import record, times, write_capture
from tests.conftest import REFERENCE, read_json

CAPTURE_FORMAT = '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}'
H10 = datetime(2024, 3, 5, 10, tzinfo=timezone.utc)
H11, H12 = H10 + timedelta(hours=1), H10 + timedelta(hours=2)
WINDOW = {"start_time": "2024-03-05T11:00:00Z", "end_time": "2024-03-05T12:00:00Z"}
FEATURES = ["prediction", "income", "score", "age", "color", "visits"]


def make_frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "prediction": rng.uniform(0, 1, n).round(4),
        "income": rng.normal(50_000, 8_000, n).round(2),
        "score": (rng.normal(0, 1, n) + shift).round(4),
        "age": rng.integers(18, 90, n),
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "visits": rng.poisson(3, n).astype(float).round(1),
    })
    frame["visits"] = frame["visits"].astype(object)
    frame.loc[rng.random(n) < 0.05, "visits"] = None  # 5% missing in the baseline and in fresh data
    return frame


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    base = tmp_path_factory.mktemp("baseline")
    frame = make_frame(5000, seed=1)
    frame.to_csv(base / "train.csv", index=False)
    code = main({
        "SAGEMAKER_BASE_DIR": str(base / "ml"), "output_path": str(base / "out"),
        "dataset_source": str(base / "train.csv"), "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
    })
    assert code == 0
    return base / "out"


def rows_to_records(frame: pd.DataFrame, start: datetime, encodings=("CSV", "JSON", "BASE64")) -> list[dict]:
    out = []
    for i, (row, when) in enumerate(zip(frame.itertuples(index=False), times(start, len(frame)))):
        values = list(row)
        out.append(record(values[1:], values[:1], when, encoding=encodings[i % len(encodings)]))
    return out


def monitor(tmp_path: Path, baseline: Path, records: list, env: dict | None = None, **extra) -> tuple[int, str, list, Path]:
    capture = tmp_path / "capture"
    write_capture(capture, records)
    ml = tmp_path / "ml"
    params = {
        "SAGEMAKER_BASE_DIR": str(ml), "output_path": str(tmp_path / "out"),
        "dataset_source": str(capture), "dataset_format": CAPTURE_FORMAT,
        "baseline_statistics": str(baseline / "statistics.json"), "baseline_constraints": str(baseline / "constraints.json"),
        **WINDOW, **(env or {}), **extra,
    }
    code = main(params)
    message = (ml / "output" / "message").read_text()
    out = tmp_path / "out"
    violations = read_json(out / "constraint_violations.json")["violations"] if (out / "constraint_violations.json").exists() else None
    pairs = None if violations is None else [(v["feature_name"], v["constraint_check_type"]) for v in violations]
    return code, message, pairs, out


def fresh(n: int = 2000, seed: int = 2, start: datetime = H11) -> pd.DataFrame:
    return make_frame(n, seed)


def test_fresh_sample_from_the_baseline_distribution_raises_no_alarm(tmp_path, baseline):
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(fresh(), H11))
    assert pairs == []
    assert (code, message) == (0, "Completed: Job completed successfully with no violations.")
    stats = read_json(out / "statistics.json")
    assert stats["dataset"]["item_count"] == 2000
    assert [f["name"] for f in stats["features"]] == FEATURES


def test_only_records_inside_the_window_count(tmp_path, baseline):
    """Shifted, broken traffic in the hours before and after the window is ignored, and so is
    shadow-variant traffic inside it."""
    inside = rows_to_records(fresh(), H11)
    before = rows_to_records(make_frame(300, 5, shift=5.0), H10)
    after = rows_to_records(make_frame(300, 6, shift=5.0), H12)
    shadow = [record(["x"] * 5, ["y"], H11 + timedelta(minutes=3), invocationSource="ShadowExperiment") for _ in range(20)]
    code, message, pairs, out = monitor(tmp_path, baseline, inside + before + after + shadow)
    assert pairs == [] and code == 0
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 2000


def test_type_change(tmp_path, baseline):
    frame = fresh()
    frame["age"] = frame["age"] + 0.5  # integers become fractions
    frame["age"] = frame["age"].astype(object)
    frame.loc[[3, 700], "age"] = ["n/a", "12"]
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("age", "data_type_check")]  # drift is not checked when the type differs
    assert message == "CompletedWithViolations: Job completed successfully with 1 violations."
    assert code == 0
    first, added = read_json(out / "constraint_violations.json")["violations"][0]["description"].split("\n")
    assert first == ("Data type match requirement is not met. Expected data type: Integral, Expected match: 100.0%. "
                     "Observed: Only 0.05% of data is Integral.")
    # the first distinct values of each class in capture order, one class after the other in turn
    fractional = list(dict.fromkeys(str(v) for v in frame["age"] if isinstance(v, float)))[:4]
    assert added == (f"1999 of 2000 non-null values are not Integral, e.g. '{fractional[0]}', '{fractional[1]}', "
                     f"'{fractional[2]}', '{fractional[3]}' (Fractional), 'n/a' (String).")


def test_rising_missing_values(tmp_path, baseline):
    frame = fresh()
    frame["income"] = frame["income"].astype(object)
    frame.loc[frame.index % 4 == 0, "income"] = None
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("income", "completeness_check")]
    v = read_json(out / "constraint_violations.json")["violations"][0]
    assert v["description"] == ("Data completeness requirement is not met. Expected: 100.0%. Observed: Only 75.0%.\n"
                                "500 of 2000 values are missing.")


def test_new_category(tmp_path, baseline):
    frame = fresh()
    frame.loc[frame.index % 50 == 0, "color"] = "purple"
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("color", "categorical_values_check")]
    description = read_json(out / "constraint_violations.json")["violations"][0]["description"]
    assert description.endswith("\nValues not in the baseline domain include: 'purple'.")


def test_dropped_column(tmp_path, baseline):
    frame = fresh().drop(columns=["visits"])
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("Missing columns", "missing_column_check")]  # one for all, as SageMaker writes it
    assert read_json(out / "constraint_violations.json")["violations"][0]["description"] == (
        "There are missing columns in current dataset. Number of columns in current dataset: 5, "
        "Number of columns in baseline constraints: 6\nMissing: 'visits'."
    )


def test_extra_column(tmp_path, baseline):
    frame = fresh()
    frame["extra"] = 7
    code, message, pairs, _ = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("_c6", "extra_column_check")]


def test_shifted_distribution(tmp_path, baseline):
    frame = make_frame(2000, seed=2, shift=1.0)
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("score", "baseline_drift_check")]
    description = read_json(out / "constraint_violations.json")["violations"][0]["description"]
    first, added = description.split("\n")
    distance = float(first.split("distance: ")[1].split(" exceeds")[0])
    assert first.endswith("exceeds threshold: 0.1")
    # exact two-sample KS minus the robust margin, within the sketches' rank error
    from scipy.stats import ks_2samp

    base = np.sort(pd.read_csv(baseline.parent / "train.csv")["score"].to_numpy())
    current = np.sort(frame["score"].to_numpy())
    ks = ks_2samp(base, current).statistic
    assert distance == pytest.approx(ks - 1.8 * np.sqrt((5000 + 2000) / (5000 * 2000)), abs=0.01)
    # where: the gap at the value named is the largest, the shares and percentiles are the data's
    numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", added.replace("10th / 50th / 90th", ""))]
    at, at_again, base_share, current_share, *percentiles = numbers
    assert at == at_again and len(percentiles) == 6

    def cdf(sorted_values, x):
        return np.searchsorted(sorted_values, x, "right") / len(sorted_values)

    assert abs(cdf(base, at) - cdf(current, at)) == pytest.approx(ks, abs=0.006)
    assert (cdf(base, at), cdf(current, at)) == (pytest.approx(base_share / 100, abs=0.004), pytest.approx(current_share / 100, abs=0.004))
    for values, found in ((base, percentiles[:3]), (current, percentiles[3:])):
        for q, value in zip((0.1, 0.5, 0.9), found):
            assert cdf(values, value) == pytest.approx(q, abs=0.004)


def test_categorical_drift_methods(tmp_path, baseline):
    frame = fresh()
    frame["color"] = np.where(np.arange(len(frame)) % 10 < 7, "blue", frame["color"])  # blue 20% -> ~76%
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11))
    assert pairs == [("color", "baseline_drift_check")]
    shares = frame["color"].value_counts(normalize=True)
    base_shares = pd.read_csv(baseline.parent / "train.csv")["color"].value_counts(normalize=True)
    moved = "Largest share changes, baseline -> current: " + ", ".join(
        f"'{c}' {base_shares[c] * 100:.4g}% -> {shares[c] * 100:.4g}%" for c in ("blue", "red", "green"))
    assert read_json(out / "constraint_violations.json")["violations"][0]["description"].endswith("\n" + moved + ".")
    constraints = read_json(baseline / "constraints.json")
    constraints["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared"
    edited = tmp_path / "chi" / "constraints.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(constraints))
    code, message, pairs, out = monitor(tmp_path / "c2", baseline, rows_to_records(frame, H11), baseline_constraints=str(edited))
    assert pairs == [("color", "baseline_drift_check")]
    first, added = read_json(out / "constraint_violations.json")["violations"][0]["description"].split("\n")
    assert first.startswith("Baseline drift chi-squared p-value: ") and added == moved + "."


def test_evaluate_constraints_overrides(tmp_path, baseline):
    frame = fresh()
    frame["age"] = frame["age"] + 0.5
    frame["income"] = frame["income"].astype(object)
    frame.loc[frame.index % 4 == 0, "income"] = None
    constraints = read_json(baseline / "constraints.json")
    for f in constraints["features"]:
        if f["name"] == "age":
            f["monitoringConfigOverrides"] = {"evaluate_constraints": "Disabled"}
    edited = tmp_path / "o" / "constraints.json"
    edited.parent.mkdir()
    edited.write_text(json.dumps(constraints))
    _, _, pairs, _ = monitor(tmp_path, baseline, rows_to_records(frame, H11), baseline_constraints=str(edited))
    assert pairs == [("income", "completeness_check")]
    constraints["monitoring_config"]["evaluate_constraints"] = "Disabled"
    edited.write_text(json.dumps(constraints))
    _, message, pairs, _ = monitor(tmp_path / "again", baseline, rows_to_records(frame, H11), baseline_constraints=str(edited))
    assert pairs == [] and message.startswith("Completed:")


def test_cloudwatch_metrics_written_when_enabled(tmp_path, baseline):
    code, _, pairs, _ = monitor(
        tmp_path, baseline, rows_to_records(fresh(), H11),
        publish_cloudwatch_metrics="Enabled", sagemaker_endpoint_name="my-endpoint",
        sagemaker_monitoring_schedule_name="hourly",
    )
    assert code == 0
    path = tmp_path / "ml" / "output" / "metrics" / "cloudwatch" / "cloudwatch_metrics.jsonl"
    metrics = {r["MetricName"]: r for r in map(json.loads, path.read_text().splitlines())}
    assert metrics["feature_data_income"]["StatisticValues"]["SampleCount"] == 2000.0
    assert metrics["feature_non_null_income"]["Value"] == 1.0
    assert 0 <= metrics["feature_baseline_drift_score"]["Value"] < 0.1
    assert metrics["feature_non_null_visits"]["Dimensions"] == [
        {"Name": "Endpoint", "Value": "my-endpoint"}, {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]
    assert metrics["feature_data_income"]["Timestamp"] == "2024-03-05T11:00:00Z"


def test_no_metrics_file_when_disabled(tmp_path, baseline):
    monitor(tmp_path, baseline, rows_to_records(fresh(300), H11), publish_cloudwatch_metrics="Disabled")
    assert not (tmp_path / "ml" / "output" / "metrics").exists()


# ---------------------------------------------------------------- real SageMaker verdicts
def test_housing_monitoring_reproduces_real_verdict(tmp_path):
    """The real run captured rows as `prediction, 12 inputs` against a baseline whose label is
    last, so features are shifted by one position: SageMaker reported exactly four
    data_type_check violations. The real capture line plus two more rows of the same file."""
    lines = [json.loads((REFERENCE / "housing" / "capture-sample.jsonl").read_text())]
    housing = pd.read_csv(REFERENCE / "housing" / "housing.csv", dtype=str)
    for i, row in enumerate(housing.iloc[1:3].itertuples(index=False)):
        values = list(row)
        lines.append(record(values[:-1], ["24.5"], datetime(2021, 7, 7, 16, 50 + i, tzinfo=timezone.utc)))
    code, message, pairs, out = monitor(
        tmp_path, REFERENCE / "housing", lines, start_time="2021-07-07T16:00:00Z", end_time="2021-07-07T17:00:00Z",
    )
    real = read_json(REFERENCE / "housing" / "constraint_violations.json")["violations"]
    ours = read_json(out / "constraint_violations.json")["violations"]
    # same four, in SageMaker's words; what we add follows on a line of its own
    sagemakers = [{**v, "description": v["description"].split("\n")[0]} for v in ours]
    assert sorted(map(json.dumps, sagemakers)) == sorted(map(json.dumps, real))
    assert all(v["description"].split("\n")[1].startswith("3 of 3 non-null values are not ") for v in ours)
    assert message == "CompletedWithViolations: Job completed successfully with 4 violations."


# ---------------------------------------------------------------- bad input
def _failed(code, message, pairs, out, fragment):
    assert code != 0 and message.startswith("Failed: ") and fragment in message, message
    assert pairs is None and not (out / "statistics.json").exists()


def test_missing_baseline_file(tmp_path, baseline):
    _failed(*monitor(tmp_path, baseline, rows_to_records(fresh(50), H11), baseline_statistics=str(tmp_path / "nope.json")),
            "[BASELINE_MISSING] Baseline statistics file")


def test_malformed_baseline_file(tmp_path, baseline):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    _failed(*monitor(tmp_path, baseline, rows_to_records(fresh(50), H11), baseline_constraints=str(bad)),
            "[BASELINE_INVALID] Baseline constraints file")


def test_baseline_schema_that_does_not_parse(tmp_path, baseline):
    bad = tmp_path / "schema.json"
    bad.write_text(json.dumps({"version": 0.0, "features": [{"name": "a", "inferred_type": "Complex"}]}))
    _failed(*monitor(tmp_path, baseline, rows_to_records(fresh(50), H11), baseline_constraints=str(bad)),
            "unknown inferred_type 'Complex'")


def test_a_few_bad_lines_are_skipped(tmp_path, baseline):
    records = rows_to_records(fresh(1000), H11) + ["not json at all", json.dumps({"eventMetadata": {"inferenceTime": "2024-03-05T11:30:00Z"}})]
    code, message, pairs, out = monitor(tmp_path, baseline, records, MMON_CAPTURE_MAX_BAD_FRACTION="0.01")
    assert code == 0 and pairs == []
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 1000


def test_too_many_bad_lines_fail(tmp_path, baseline):
    records = rows_to_records(fresh(50), H11) + ["not json"] * 10
    _failed(*monitor(tmp_path, baseline, records), "[CAPTURE_TOO_MANY_BAD_LINES] 10 of 60 capture lines")


def test_payload_that_does_not_decode(tmp_path, baseline):
    records = rows_to_records(fresh(20), H11, encodings=("BASE64",))
    for r in records[:5]:
        r["captureData"]["endpointInput"]["data"] = "%%% not base64 %%%"
    _failed(*monitor(tmp_path, baseline, records), "[CAPTURE_DECODE_FAILED]")


def test_window_without_records(tmp_path, baseline):
    _failed(*monitor(tmp_path, baseline, rows_to_records(fresh(50), H10)), "[NO_CAPTURE_IN_WINDOW]")


def test_start_after_end(tmp_path, baseline):
    _failed(*monitor(tmp_path, baseline, rows_to_records(fresh(50), H11), start_time="2024-03-05T13:00:00Z"),
            "[TIME_WINDOW_INVALID]")


def test_empty_output_value_keeps_the_input_fields_in_place(tmp_path, baseline):
    """An empty CSV output payload is one missing field, not zero fields (found by the benchmark)."""
    frame = fresh()
    frame["prediction"] = frame["prediction"].astype(object)
    frame.loc[frame.index < 40, "prediction"] = None
    code, message, pairs, out = monitor(tmp_path, baseline, rows_to_records(frame, H11, encodings=("CSV",)))
    assert pairs == [("prediction", "completeness_check")]
    stats = {f["name"]: f for f in read_json(out / "statistics.json")["features"]}
    assert stats["prediction"]["numerical_statistics"]["common"]["num_missing"] == 40
    assert stats["color"]["string_statistics"]["common"]["num_missing"] == 0


def test_marketplace_monitoring_reproduces_real_verdict(tmp_path):
    """Baseline from baseline.csv, traffic from data_quality_drift.csv as the endpoint captured
    it (model output first; the notebook sent zip_feature_0/1 from float pandas columns, so as
    `0.0`, `-0.25`). SageMaker's report shows zip_feature_0 and zip_feature_1 data types,
    age_range completeness (310 of 320) and target drift; the screenshot may be cropped, so
    those four must be among ours, with the same words. The model's real outputs are not
    available; the real target distance, 0.30791265775509713, is exactly 58/63 - 1.8 sqrt((10 +
    63) / (10 * 63)): Deequ's rank maps count each distinct value once (the baseline's target
    has 10 distinct values), so the real outputs had 63 distinct values, 58 of them below the
    baseline's smallest. Outputs of that shape stand in for them, and the report is the
    screenshot's, word for word (no drift for the low-cardinality integer features)."""
    ref = REFERENCE / "marketplace"
    base = tmp_path / "baseline"
    assert main({
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml0"), "output_path": str(base),
        "dataset_source": str(ref / "baseline.csv"), "dataset_format": '{"csv": {"header": true}}',
    }) == 0
    lines = (ref / "data_quality_drift.csv").read_text().splitlines()
    start = datetime(2021, 1, 29, 13, tzinfo=timezone.utc)
    records = []
    outputs = [str(round(0.1 + 0.005 * k, 4)) for k in range(58)] + [str(round(0.7 + 0.01 * k, 4)) for k in range(5)]
    for i, (line, when) in enumerate(zip(lines, times(start, len(lines)))):
        fields = line.split(",")
        fields[3:5] = [str(float(v)) for v in fields[3:5]]  # pandas float64 columns
        r = record([], [outputs[i % len(outputs)]], when)
        r["captureData"]["endpointInput"]["data"] = ",".join(fields)
        records.append(r)
    code, message, pairs, out = monitor(
        tmp_path, base, records, start_time="2021-01-29T13:00:00Z", end_time="2021-01-29T14:00:00Z",
    )
    real = read_json(ref / "monitoring-report-transcribed-from-screenshots.json")["violations"]
    assert sorted(pairs) == sorted((v["feature_name"], v["constraint_check_type"]) for v in real)
    ours = {(v["feature_name"], v["constraint_check_type"]): v["description"] for v in read_json(out / "constraint_violations.json")["violations"]}
    for v in real:  # SageMaker's sentence, then ours on a line of its own
        assert ours[(v["feature_name"], v["constraint_check_type"])].split("\n")[0] == v["description"]
    assert ours[("age_range", "completeness_check")].split("\n")[1] == "10 of 320 values are missing."
    assert ours[("zip_feature_0", "data_type_check")].split("\n")[1].startswith("320 of 320 non-null values are not Integral, e.g. '")
    # The execution's statistics, as the report displayed them (pandas-rounded to 6 significant
    # digits): every feature but the stand-in target matches to that rounding.
    shown = read_json(ref / "monitoring-report-transcribed-from-screenshots.json")["execution_statistics_rounded"]
    stats = {f["name"]: f["numerical_statistics"] for f in read_json(out / "statistics.json")["features"]}
    assert stats["age_range"]["common"] == {"num_present": 310, "num_missing": 10}
    compared = 0
    for name, expected in shown.items():
        if name == "target":
            continue
        ours = stats[name]
        assert (ours["common"]["num_present"], ours["common"]["num_missing"]) == (expected["num_present"], expected["num_missing"])
        for key in ("mean", "sum", "std_dev", "min", "max"):
            if key in expected:
                assert ours[key] == pytest.approx(expected[key], rel=5e-6, abs=1e-6), (name, key)  # 6-decimal display, ties to even
                compared += 1
    assert compared >= 15


def _keyed_records(frame: pd.DataFrame, extra_key: str | None = None) -> list[dict]:
    """Input payloads as JSON objects keyed by feature name (the output stays a CSV value)."""
    out = []
    for i, (row, when) in enumerate(zip(frame.to_dict("records"), times(H11, len(frame)))):
        inputs = {k: v for k, v in row.items() if k != "prediction" and v is not None}
        if extra_key and i % 2:
            inputs[extra_key] = "x"
        rec = record([], [row["prediction"]], when)
        rec["captureData"]["endpointInput"] = {
            "observedContentType": "application/json", "mode": "INPUT", "encoding": "JSON", "data": json.dumps(inputs),
        }
        out.append(rec)
    return out


def test_json_object_payloads_fill_features_by_key(tmp_path, baseline, caplog):
    """Keys that are feature names fill those features (no column beyond the baseline's)."""
    frame = fresh()
    with caplog.at_level("INFO"):
        code, message, pairs, out = monitor(tmp_path, baseline, _keyed_records(frame))
    assert code == 0 and pairs == [], message
    assert "beyond the baseline" not in caplog.text
    stats = {f["name"]: f for f in read_json(out / "statistics.json")["features"]}
    assert list(stats) == FEATURES
    assert stats["age"]["numerical_statistics"]["sum"] == float(frame["age"].sum())
    assert stats["visits"]["numerical_statistics"]["common"]["num_missing"] == int(frame["visits"].isna().sum())


def test_an_unknown_json_key_is_an_extra_column(tmp_path, baseline, caplog):
    """A key outside the baseline is a column of its own after the baseline's features, and the
    verdict names it."""
    frame = fresh()
    with caplog.at_level("INFO"):
        code, message, pairs, out = monitor(tmp_path, baseline, _keyed_records(frame, extra_key="zzz"))
    assert "Capture columns beyond the baseline's features: zzz" in caplog.text
    assert pairs == [("zzz", "extra_column_check")], message
    stats = {f["name"]: f for f in read_json(out / "statistics.json")["features"]}
    assert list(stats) == FEATURES + ["zzz"]
    assert stats["zzz"]["string_statistics"]["common"]["num_present"] == len(frame) // 2


def test_window_inside_an_hour_folder_without_records(tmp_path, baseline):
    """The hour folder is read, but no record falls in the window: as SageMaker, the job fails."""
    records = rows_to_records(fresh(50), H11, encodings=("CSV",))  # 11:00 to 11:58:48
    _failed(*monitor(tmp_path, baseline, records, start_time="2024-03-05T11:59:00Z", end_time="2024-03-05T12:00:00Z"),
            "[NO_CAPTURE_IN_WINDOW] No capture records found between 2024-03-05T11:59:00Z and 2024-03-05T12:00:00Z")
    assert monitor(tmp_path / "again", baseline, records, start_time="2024-03-05T11:59:00Z",
                   end_time="2024-03-05T12:00:00Z")[0] == 255


def test_capture_lines_given_as_csv_are_refused(tmp_path, baseline):
    """Capture lines read as CSV would be profiled as garbage columns: the job says what they are."""
    capture = tmp_path / "capture"
    write_capture(capture, rows_to_records(fresh(20), H11))
    ml = tmp_path / "ml"
    code = main({
        "SAGEMAKER_BASE_DIR": str(ml), "output_path": str(tmp_path / "out"), "dataset_source": str(capture),
        "dataset_format": '{"csv": {"header": false}}',
        "baseline_statistics": str(baseline / "statistics.json"), "baseline_constraints": str(baseline / "constraints.json"),
    })
    message = (ml / "output" / "message").read_text()
    assert code == 255 and message.startswith("Failed: [DATASET_IS_CAPTURE] Dataset ")
    assert "use the sagemakerCaptureJson dataset_format (mmon: --format capture)" in message
    assert not (tmp_path / "out" / "statistics.json").exists()


def test_mmon_monitor_recognises_a_capture_folder(tmp_path, baseline, capsys):
    """`mmon monitor capture/` without --format: the capture format, as with --format capture."""
    from container import cli

    capture = tmp_path / "capture"
    frame = fresh(300)
    frame.loc[frame.index % 10 == 0, "color"] = "purple"
    write_capture(capture, rows_to_records(frame, H11))
    common = [
        "monitor", str(capture), "--statistics", str(baseline / "statistics.json"),
        "--constraints", str(baseline / "constraints.json"), "--start-time", WINDOW["start_time"], "--end-time", WINDOW["end_time"],
    ]
    assert cli.main(common + ["--output", str(tmp_path / "a")]) == 0
    assert cli.main(common + ["--format", "capture", "--output", str(tmp_path / "b")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == printed[1] and printed[0].startswith("CompletedWithViolations:")
    violations = read_json(tmp_path / "a" / "constraint_violations.json")
    assert violations == read_json(tmp_path / "b" / "constraint_violations.json")
    assert ("color", "categorical_values_check") in [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]]
    assert read_json(tmp_path / "a" / "statistics.json")["dataset"]["item_count"] == 300
