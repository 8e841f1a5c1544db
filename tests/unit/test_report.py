"""analyzer.report: the self-contained HTML page, from SageMaker's own files and synthetic ones."""
from __future__ import annotations

import copy
import html
import re

import pytest

from analyzer.report import largest_gap, model_quality_section, render_html, render_model_quality_html
from tests.conftest import REFERENCE, SHARED_REFERENCE, read_json

HOUSING = REFERENCE / "housing"
NETWORK = ("http://", "https://", "src=", "<script", "@import", "url(", "<link", "<iframe", "<object", "<embed")


def housing():
    return read_json(HOUSING / "statistics.json"), read_json(HOUSING / "constraints.json"), read_json(HOUSING / "constraint_violations.json")


def sections(page: str) -> list[str]:
    return re.findall(r'<section class="feature[^"]*"[^>]*>.*?</section>', page, flags=re.S)


def assert_offline(page: str) -> None:
    lowered = page.lower()
    assert [ref for ref in NETWORK if ref in lowered] == []


def shifted(statistics: dict) -> dict:
    """The housing statistics with every numeric feature moved up by half its range."""
    current = copy.deepcopy(statistics)
    for feature in current["features"]:
        numbers = feature["numerical_statistics"]
        shift = (numbers["max"] - numbers["min"]) / 2
        for bucket in numbers["distribution"]["kll"]["buckets"]:
            bucket["lower_bound"] += shift
            bucket["upper_bound"] += shift
    return current


def test_baselining_page_for_sagemakers_housing_files():
    statistics, constraints, _ = housing()
    page = render_html(statistics, constraints)
    found = sections(page)
    assert len(found) == len(statistics["features"]) == 13
    assert all(s.count("<svg") == 1 for s in found)
    assert page.count("<svg") == len(found)
    for feature in statistics["features"]:
        assert f'data-feature="{feature["name"]}"' in page
    assert "506" in page  # rows
    assert 'class="verdict' not in page and "Violations" not in page
    assert_offline(page)


def test_monitoring_page_links_every_violation_to_its_feature_and_puts_them_first():
    statistics, constraints, violations = housing()
    page = render_html(shifted(statistics), constraints, baseline_statistics=statistics, violations=violations,
                       message="CompletedWithViolations: Job completed successfully with 4 violations.")
    assert page.index('class="verdict bad"') < page.index('class="violations"') < page.index('<section')
    assert "CompletedWithViolations" in page
    ids = dict(re.findall(r'<section class="feature[^"]*" id="([^"]+)" data-feature="([^"]+)"', page))
    by_name = {name: anchor for anchor, name in ids.items()}
    rows = re.findall(r'<tr class="violation"><td><a href="#([^"]+)">([^<]+)</a></td><td>([^<]+)</td>', page)
    assert [(name, check) for _, name, check in rows] == [(v["feature_name"], v["constraint_check_type"]) for v in violations["violations"]]
    assert all(by_name[name] == anchor for anchor, name, _ in rows)
    flagged = [v["feature_name"] for v in violations["violations"]]
    order = [name for _, name in re.findall(r'<section class="feature[^"]*" id="([^"]+)" data-feature="([^"]+)"', page)]
    assert set(order[: len(flagged)]) == set(flagged)
    found = sections(page)
    assert len(found) == 13 and all(s.count("<svg") == 1 for s in found)
    assert "largest gap" in page and "baseline (solid)" in page
    assert_offline(page)


def test_categorical_comparison_marks_new_categories():
    def stats(buckets):
        return {"dataset": {"item_count": 10}, "features": [{"name": "colour", "inferred_type": "String", "string_statistics": {
            "common": {"num_present": 10, "num_missing": 0}, "distinct_count": len(buckets),
            "distribution": {"categorical": {"buckets": [{"value": v, "count": c} for v, c in buckets]}}}}]}

    page = render_html(stats([("red", 5), ("violet", 5)]), baseline_statistics=stats([("red", 6), ("blue", 4)]), violations={"violations": []})
    assert "violet (new)" in page and "red (new)" not in page and "blue (new)" not in page
    assert "No violations." in page and "Completed: Job completed successfully with no violations." in page
    assert_offline(page)


def test_names_categories_and_descriptions_are_escaped():
    name = "<b>&\"x'"
    statistics = {"dataset": {"item_count": 3}, "features": [{"name": name, "inferred_type": "String", "string_statistics": {
        "common": {"num_present": 3, "num_missing": 0},
        "distribution": {"categorical": {"buckets": [{"value": "<script>alert(1)</script>", "count": 3}]}}}}]}
    violations = {"violations": [{"feature_name": name, "constraint_check_type": "data_type_check", "description": "<i>bad</i>"}]}
    page = render_html(statistics, violations=violations, message="<hr>")
    assert name not in page and "<b>" not in page and "<i>" not in page and "<hr>" not in page
    assert html.escape(name, quote=True) in page
    assert "&lt;script&gt;" in page
    assert_offline(page)


def test_a_hundred_features_stay_well_under_five_megabytes():
    features = []
    for i in range(100):
        if i % 4 == 0:
            features.append({"name": f"category_{i}", "inferred_type": "String", "string_statistics": {
                "common": {"num_present": 1000, "num_missing": 0}, "distinct_count": 120.0,
                "distribution": {"categorical": {"buckets": [{"value": f"value-{j}" * 3, "count": 1000 - j} for j in range(120)]}}}})
        else:
            buckets = [{"lower_bound": j * 1.5, "upper_bound": (j + 1) * 1.5, "count": float(100 + j)} for j in range(10)]
            features.append({"name": f"number_{i}", "inferred_type": "Fractional", "numerical_statistics": {
                "common": {"num_present": 1000, "num_missing": 3}, "mean": 7.5, "sum": 7500.0, "std_dev": 4.3, "min": 0.0, "max": 15.0,
                "distribution": {"kll": {"buckets": buckets, "sketch": {"data": [[float(k) for k in range(2000)]]}}}}})
    statistics = {"version": 0.0, "dataset": {"item_count": 1003}, "features": features}
    violations = {"violations": [{"feature_name": f"number_{i}", "constraint_check_type": "baseline_drift_check", "description": "drift"}
                                 for i in range(1, 100, 4)]}
    for page in (render_html(statistics), render_html(statistics, baseline_statistics=statistics, violations=violations)):
        assert len(page.encode("utf-8")) < 5_000_000
        assert len(sections(page)) == 100
        assert_offline(page)


@pytest.mark.parametrize("path", sorted(SHARED_REFERENCE.glob("**/statistics*.json")) if SHARED_REFERENCE.exists() else [],
                         ids=lambda p: str(p.relative_to(SHARED_REFERENCE)))
def test_every_sagemaker_statistics_file_renders(path):
    """2021 and 2024 shapes, partial and model-quality ones: missing fields show as "-"."""
    statistics = read_json(path)
    page = render_html(statistics)
    assert len(sections(page)) == len(statistics.get("features", []))
    assert_offline(page)


def test_lenient_with_missing_and_odd_fields():
    statistics = {"features": [{"name": "a"}, {"name": "b", "numerical_statistics": {"distribution": {"kll": {"buckets": [
        {"lower_bound": "x", "upper_bound": 1, "count": 1}]}}}}, "not a feature"]}
    page = render_html(statistics, violations={"violations": [{"feature_name": "gone", "constraint_check_type": "missing_column_check"}]})
    assert len(sections(page)) == 3 and 'data-feature="gone"' in page
    assert page.count("<svg") == 3


def test_largest_gap_between_bucket_cdfs():
    same = [(0.0, 1.0, 5.0), (1.0, 2.0, 5.0)]
    assert largest_gap(same, same) == (0.0, 0.0)
    x, gap = largest_gap(same, [(1.0, 2.0, 10.0)])
    assert (x, gap) == (1.0, 0.5)
    assert largest_gap([], same) is None


# ---------------------------------------------------------------- model quality

CHURN = REFERENCE / "mq_churn_binary"
WEATHER, SDK = REFERENCE / "mq_weather_regression", REFERENCE / "mq_sdk_regression"
MQ_REFERENCE = [
    (CHURN / "statistics.display-rounded.partial.json", CHURN / "constraints.display-rounded.json", CHURN / "constraint_violations.json"),
    (WEATHER / "statistics.display-rounded.json", WEATHER / "constraints.display-rounded.json", WEATHER / "constraint_violations.json"),
    (SDK / "statistics.json", SDK / "constraints.json", None),
]


MQ_SECTION = re.compile(r'"(binary_classification|multiclass_classification|regression)_metrics"')


def metric_rows(page: str) -> list[tuple[str, str]]:
    """(metric, status text) of each row of the metrics table."""
    rows = re.findall(r'<tr class="metric[^"]*" id="[^"]+" data-metric="([^"]*)">(.*?)</tr>', page, flags=re.S)
    return [(html.unescape(key), re.sub(r"<[^>]+>", "", re.findall(r"<td[^>]*>(.*?)</td>", body)[-1])) for key, body in rows]


def metric_cells(page: str) -> list[list[str]]:
    """The text of each data cell of each row of the metrics table."""
    rows = re.findall(r'<tr class="metric[^"]*" id="[^"]+" data-metric="[^"]*">(.*?)</tr>', page, flags=re.S)
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", body)] for body in rows]


def churn_statistics(n: int | None = None, seed: int = 0) -> dict:
    """Our statistics of the churn validation set (``n`` given: that many random records instead)."""
    import numpy as np
    import pandas as pd

    from analyzer import quality

    if n is None:
        frame = pd.read_csv(CHURN / "validation_with_predictions.csv")
        truth, predicted, probability = frame["label"], frame["prediction"], frame["probability"]
    else:
        rng = np.random.default_rng(seed)
        truth = rng.integers(0, 2, n)
        probability = np.clip(truth * 0.3 + rng.random(n) * 0.7, 0, 1)
        predicted = (probability >= 0.5).astype(int)
    data = quality.parse_columns("BinaryClassification", list(truth), list(predicted), list(probability),
                                 names={}, baseline=True)
    return quality.compute_metrics(data)


def test_model_quality_monitoring_page_marks_sagemakers_violations():
    """SageMaker's churn run: ten violations (camelCase rates included) marked on their metrics'
    rows; f0_5, below its threshold but never flagged by SageMaker, says so."""
    statistics, constraints, violations = (read_json(p) for p in MQ_REFERENCE[0])
    page = render_model_quality_html(statistics, constraints, violations)
    flagged = {"auc", "precision", "true_positive_rate", "f1", "accuracy", "false_positive_rate", "true_negative_rate",
               "false_negative_rate", "recall", "f2"}
    assert metric_rows(page) == [(key, "violated" if key in flagged else "ok") for key in (
        "recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate", "false_positive_rate",
        "false_negative_rate", "auc", "f0_5", "f1", "f2")]
    assert page.count('class="metric flagged"') == 10
    anchors = dict(re.findall(r'id="(metric-\d+)" data-metric="([^"]+)"', page))
    links = re.findall(r'<tr class="violation"><td><a href="#([^"]+)">([^<]+)</a></td><td>([^<]+)</td>', page)
    assert [(name, check) for _, name, check in links] == [
        (v["metric_name"], v["constraint_check_type"]) for v in violations["violations"]]
    assert anchors[links[2][0]] == "true_positive_rate"
    assert "CompletedWithViolations: Job completed successfully with 10 violations." in page
    assert '<td class=n title="LessThanThreshold">&lt; 0.939513</td>' in page  # auc's threshold, as the file rounds it
    # The display file holds neither curves nor a dataset: said, not failed.
    assert 'id="no-curves"' in page and "<svg" not in page
    assert re.search(r"<th>records</th><td>-</td>", page)
    assert_offline(page)


def test_model_quality_page_past_threshold_but_not_flagged():
    statistics = {"binary_classification_metrics": {"f0_5": {"value": 0.34, "standard_deviation": 0.01},
                                                    "recall": {"value": 0.9, "standard_deviation": 0.01}}}
    constraints = {"binary_classification_constraints": {
        "f0_5": {"threshold": 0.87, "comparison_operator": "LessThanThreshold"},
        "recall": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}}}
    page = render_model_quality_html(statistics, constraints, {"violations": []})
    assert metric_rows(page) == [("f0_5", "past threshold, not flagged"), ("recall", "ok")]
    assert "No violations." in page and "Completed: Job completed successfully with no violations." in page


@pytest.mark.parametrize("files", MQ_REFERENCE, ids=lambda f: f[0].parent.name)
def test_sagemakers_model_quality_files_render(files):
    """Display-rounded and partial files, "NaN" standard deviations, no dataset section."""
    statistics, constraints, violations = (read_json(p) if p else None for p in files)
    page = render_model_quality_html(statistics, constraints, violations)
    section = next(v for k, v in statistics.items() if k.endswith("_metrics"))
    scalars = [k for k in section if k not in ("confusion_matrix",) and not k.endswith("_best_constant_classifier")]
    assert [key for key, _ in metric_rows(page)] == scalars
    stds = [cells[1] for cells in metric_cells(page)]
    assert stds == ["-" if section[key]["standard_deviation"] == "NaN" else f"\u00b1 {section[key]['standard_deviation']:.6g}"
                    for key in scalars]
    assert_offline(page)


@pytest.mark.parametrize("path", sorted(p for p in SHARED_REFERENCE.glob("**/*.json") if MQ_SECTION.search(p.read_text(errors="replace")))
                         if SHARED_REFERENCE.exists() else [], ids=lambda p: str(p.relative_to(SHARED_REFERENCE)))
def test_every_sagemaker_model_quality_file_renders(path):
    """Every model-quality statistics file in the shared references, model cards' copies too."""
    document = read_json(path)
    assert model_quality_section(document) is not None
    page = render_model_quality_html(document)
    assert len(metric_rows(page)) >= 4
    _, section = model_quality_section(document)
    if "receiver_operating_characteristic_curve" in section:  # the model card's copy keeps the curves
        assert page.count("<polyline") == 2
    assert_offline(page)


def test_binary_page_draws_both_curves_with_the_chance_line_and_auc():
    statistics = churn_statistics()
    page = render_model_quality_html(statistics, title="Baseline")
    roc, pr = (re.search(rf'<figure id="{name}">(.*?)</figure>', page, flags=re.S).group(1) for name in ("roc", "precision-recall"))
    auc = statistics["binary_classification_metrics"]["auc"]["value"]
    assert f"ROC curve, AUC {auc:.6g}" in roc and 'class="chance"' in roc
    assert roc.count("<polyline") == pr.count("<polyline") == 1 and 'class="chance"' not in pr
    assert "true positive rate" in roc and "false positive rate" in roc and "precision" in pr and "recall" in pr
    assert re.search(r"<td class=\"n hit\">173<small>100.0%</small></td>", page)  # 0 -> 0 of SageMaker's matrix
    assert_offline(page)


def test_curves_of_a_thousand_bins_stay_compact_and_baseline_is_drawn_beside_current():
    current, baseline = churn_statistics(5000, seed=1), churn_statistics(5000, seed=2)
    assert len(current["binary_classification_metrics"]["receiver_operating_characteristic_curve"]["true_positive_rates"]) > 1000
    page = render_model_quality_html(current, baseline_statistics=baseline, violations={"violations": []})
    assert len(page.encode("utf-8")) < 80_000
    points = re.findall(r'<polyline class="line (\w+)" points="([^"]+)"', page)
    assert [css for css, _ in points] == ["baseline", "current", "baseline", "current"]
    assert all(re.fullmatch(r"-?\d+\.\d,-?\d+\.\d( -?\d+\.\d,-?\d+\.\d)*", p) for _, p in points)
    assert "baseline (solid)" in page and "current (dashed)" in page and "(baseline 0." in page


def test_multiclass_confusion_matrix_is_capped_with_a_note():
    labels = [f"c{i:02d}" for i in range(40)]
    matrix = {a: {p: (100 + i if a == p else 1) for p in labels} for i, a in enumerate(labels)}
    statistics = {"version": 0.0, "dataset": {"item_count": 5620}, "multiclass_classification_metrics": {
        "confusion_matrix": matrix, "accuracy": {"value": 0.8, "standard_deviation": 0.01},
        "accuracy_best_constant_classifier": {"value": 0.03, "standard_deviation": 0.0}}}
    page = render_model_quality_html(statistics)
    table = re.search(r'<table class="matrix">(.*?)</table>', page, flags=re.S).group(1)
    columns = re.findall(r'<th scope="col">([^<]*)</th>', table)
    rows = re.findall(r'<th scope="row">([^<]*)</th>', table)
    assert columns == labels[10:] + ["other (10 classes)"]  # the 30 most frequent, in label order
    assert rows == columns + ["total"]
    assert "The 30 most frequent of 40 classes are shown" in page
    assert page.count('class="n hit"') == 30
    total = sum(sum(row.values()) for row in matrix.values())
    assert table.endswith(f"<td class=n>{total:,}</td></tr>")
    assert "<svg" not in page and "MulticlassClassification" in page


def test_model_quality_page_escapes_everything_from_the_files():
    bad = "<b>&\"x'"
    statistics = {"version": 0.0, "dataset": {"item_count": 4, "evaluation_time": "<i>now</i>"},
                  "binary_classification_metrics": {
                      "confusion_matrix": {bad: {bad: 1, "<u>": 1}, "<u>": {bad: 1, "<u>": 1}},
                      bad: {"value": "<v>", "standard_deviation": "<s>"},
                      "auc": {"value": 0.5, "standard_deviation": "NaN"},
                      "receiver_operating_characteristic_curve": {"false_positive_rates": [0, "<x>", 1],
                                                                  "true_positive_rates": [0, 0.5, 1]}}}
    constraints = {"binary_classification_constraints": {bad: {"threshold": 1, "comparison_operator": "<op>"}}}
    violations = {"violations": [{"metric_name": bad, "constraint_check_type": "<c>", "description": "<script>alert(1)</script>"}]}
    page = render_model_quality_html(statistics, constraints, violations, message="<hr>", title="<t>")
    for raw in (bad, "<u>", "<i>", "<v>", "<s>", "<op>", "<c>", "<script>", "<hr>", "<t>", "<x>"):
        assert raw not in page, raw
    assert html.escape(bad, quote=True) in page and "&lt;script&gt;" in page and "&lt;op&gt; 1" in page
    assert metric_rows(page)[0] == (bad, "violated")
    assert_offline(page)


def test_model_quality_page_is_lenient_with_missing_and_odd_fields():
    for statistics in ({}, {"binary_classification_metrics": {}}, {"regression_metrics": {"mae": "x", "r2": {"value": "-Infinity"}}},
                       {"binary_classification_metrics": {"confusion_matrix": "x", "precision_recall_curve": {"recalls": [0, 1]}}}):
        page = render_model_quality_html(statistics, constraints={"x": 1}, violations={"violations": ["x", {"metric_name": "gone"}]},
                                         baseline_statistics={"version": 0.0})
        assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
        assert ("gone", "violated") in metric_rows(page)
    assert "-Infinity" in render_model_quality_html({"regression_metrics": {"r2": {"value": "-Infinity"}}})


def test_model_quality_section_tells_the_two_kinds_of_statistics_apart():
    statistics, _, _ = housing()
    assert model_quality_section(statistics) is None
    assert model_quality_section(read_json(MQ_REFERENCE[1][0]))[0] == "Regression"
    assert model_quality_section({"features": [], "regression_metrics": {}}) is None


def test_a_descriptions_second_line_stays_a_line_of_its_own():
    """Our details follow SageMaker's sentence after a line break: the page keeps the break."""
    statistics, constraints, violations = housing()
    violations = copy.deepcopy(violations)
    violations["violations"][0]["description"] += "\n500 of 2000 values are missing."
    page = render_html(shifted(statistics), constraints, baseline_statistics=statistics, violations=violations)
    assert ".desc{white-space:pre-line}" in page
    cells = re.findall(r"<td class=desc>(.*?)</td>", page, re.S)
    assert len(cells) == len(violations["violations"]) and cells[0].endswith("\n500 of 2000 values are missing.")
