import json

import pytest

from analyzer.formats import constraints_json, statistics_json, violations_json
from tests.conftest import REFERENCE, read_json

STATISTICS_FILES = [REFERENCE / "housing" / "statistics.json", REFERENCE / "sdk_data_quality" / "statistics.json"]
CONSTRAINTS_FILES = [REFERENCE / "housing" / "constraints.json", REFERENCE / "sdk_data_quality" / "constraints.json"]


@pytest.mark.parametrize("path", STATISTICS_FILES, ids=lambda p: p.parent.name)
def test_statistics_round_trip_of_real_files(path):
    real = read_json(path)
    again = statistics_json.to_dict(statistics_json.from_dict(real))
    assert again["dataset"] == real["dataset"]
    assert [f["name"] for f in again["features"]] == [f["name"] for f in real["features"]]
    for ours, theirs in zip(again["features"], real["features"]):
        a, b = ours["numerical_statistics"], theirs["numerical_statistics"]
        for key in ("common", "mean", "sum", "std_dev", "min", "max"):
            assert a[key] == b[key]
        assert a["distribution"]["kll"]["buckets"] == b["distribution"]["kll"]["buckets"]
        assert a["distribution"]["kll"]["sketch"]["data"] == b["distribution"]["kll"]["sketch"]["data"]


@pytest.mark.parametrize("path", CONSTRAINTS_FILES, ids=lambda p: p.parent.name)
def test_constraints_round_trip_of_real_files(path):
    real = read_json(path)
    again = constraints_json.to_dict(constraints_json.from_dict(real))
    assert again["features"] == real["features"]
    real_mc, our_mc = real["monitoring_config"], again["monitoring_config"]
    for key, value in real_mc.items():
        if key != "distribution_constraints":
            assert our_mc[key] == value
    for key, value in real_mc["distribution_constraints"].items():
        assert our_mc["distribution_constraints"][key] == value


def test_old_files_get_categorical_defaults_from_comparison_threshold():
    doc = read_json(REFERENCE / "housing" / "constraints.json")
    assert "categorical_comparison_threshold" not in doc["monitoring_config"]["distribution_constraints"]
    parsed = constraints_json.from_dict(doc)
    dc = parsed.monitoring_config.distribution_constraints
    assert dc.categorical_comparison_threshold == dc.comparison_threshold
    assert dc.categorical_drift_method == "LInfinity"


def test_feature_overrides_are_read_from_both_documented_places():
    doc = {
        "features": [
            {"name": "a", "inferred_type": "String", "string_constraints": {"domains": ["x"], "monitoring_config_overrides": {"evaluate_constraints": "Disabled"}}},
            {"name": "b", "inferred_type": "Integral", "monitoringConfigOverrides": {"comparison_threshold": 0.5}},
        ]
    }
    parsed = constraints_json.from_dict(doc)
    assert parsed.features[0].overrides == {"evaluate_constraints": "Disabled"}
    assert parsed.features[1].overrides == {"comparison_threshold": 0.5}


@pytest.mark.parametrize(
    "doc,fragment",
    [
        ({}, "features"),
        ({"features": [{"name": "a"}]}, "inferred_type"),
        ({"features": [{"name": "a", "inferred_type": "Boolean"}]}, "inferred_type"),
        ({"features": [], "monitoring_config": {"distribution_constraints": {"comparison_method": "Fancy"}}}, "comparison_method"),
    ],
)
def test_invalid_constraints_name_the_problem(doc, fragment):
    with pytest.raises(ValueError, match=fragment):
        constraints_json.from_dict(doc)


def test_invalid_statistics_name_the_problem():
    with pytest.raises(ValueError, match="item_count"):
        statistics_json.from_dict({"dataset": {}, "features": []})
    with pytest.raises(ValueError, match=r"features\[0\]"):
        statistics_json.from_dict({"dataset": {"item_count": 1}, "features": [{"inferred_type": "String"}]})


def test_violations_round_trip_of_real_file():
    real = read_json(REFERENCE / "housing" / "constraint_violations.json")
    assert violations_json.to_dict(violations_json.from_dict(real)) == real
    assert json.loads(json.dumps(violations_json.to_dict([]))) == {"violations": []}
