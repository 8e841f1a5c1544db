"""analyzer.report: the self-contained HTML page, from SageMaker's own files and synthetic ones."""
from __future__ import annotations

import copy
import html
import re

import pytest

from analyzer.report import largest_gap, render_html
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
