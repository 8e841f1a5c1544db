"""Calibrated drift end to end: `mmon baseline --comparison-method Calibrated` on a 20-feature
dataset, then monitoring jobs on clean small samples (no drift) and on a sample with every
feature drifted by a CDF gap of 0.15 (every feature flagged)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, poisson

from container import cli
from container.entrypoint import main
from tests.conftest import read_json

FAMILIES = ("normal", "lognormal", "uniform", "poisson", "category")
GAP = 0.15


def frame(n: int, seed: int, gap: float = 0.0) -> pd.DataFrame:
    """20 features, 4 of each family, each drifted by an exact CDF (or share) gap of ``gap``."""
    rng = np.random.default_rng(seed)
    delta = 2 * norm.ppf((1 + gap) / 2)  # N(0,1) vs N(delta,1): largest CDF gap 2 Phi(delta/2) - 1
    x = np.arange(40)
    mix = gap / np.max(np.abs(poisson.cdf(x, 4) - poisson.cdf(x - 4, 4)))  # Poisson(4) mixed with Poisson(4)+4
    shares = np.array([0.35, 0.25, 0.2, 0.12, 0.08])
    shares[0] -= gap
    shares[-1] += gap
    columns = {}
    for i in range(4):
        columns[f"normal{i}"] = (rng.standard_normal(n) + delta).round(6)
        columns[f"lognormal{i}"] = np.exp(rng.standard_normal(n) + delta).round(6)
        columns[f"uniform{i}"] = (rng.random(n) + gap).round(6)
        columns[f"poisson{i}"] = rng.poisson(4, n) + 4 * (rng.random(n) < mix)
        columns[f"category{i}"] = np.array(list("abcde"))[rng.choice(5, n, p=shares)]
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    base = tmp_path_factory.mktemp("calibrated")
    frame(5000, seed=1).to_csv(base / "train.csv", index=False)
    assert cli.main(["baseline", str(base / "train.csv"), "--output", str(base / "out"), "--comparison-method", "Calibrated"]) == 0
    return base / "out"


def monitor(tmp_path: Path, baseline: Path, data: pd.DataFrame, constraints: Path | None = None) -> list[dict]:
    data.to_csv(tmp_path / "current.csv", index=False)
    code = cli.main(["monitor", str(tmp_path / "current.csv"), "--output", str(tmp_path / "report"),
                     "--statistics", str(baseline / "statistics.json"),
                     "--constraints", str(constraints or baseline / "constraints.json")])
    assert code == 0
    return read_json(tmp_path / "report" / "constraint_violations.json")["violations"]


def test_baseline_writes_calibrated(baseline):
    constraints = read_json(baseline / "constraints.json")
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Calibrated"
    assert len(constraints["features"]) == 20
    types = {f["name"]: f["inferred_type"] for f in constraints["features"]}
    assert types["poisson0"] == "Integral" and types["category0"] == "String" and types["normal0"] == "Fractional"


@pytest.mark.parametrize("m,seed", [(30, 2), (100, 3)])
def test_clean_small_samples_raise_no_drift(tmp_path, baseline, m, seed):
    assert monitor(tmp_path, baseline, frame(m, seed)) == []


def test_simple_alarms_on_the_same_clean_sample(tmp_path, baseline):
    """The contrast: SageMaker's Simple on the same 30 clean records flags drift."""
    doc = read_json(baseline / "constraints.json")
    doc["monitoring_config"]["distribution_constraints"]["comparison_method"] = "Simple"
    (tmp_path / "simple.json").write_text(json.dumps(doc))
    violations = monitor(tmp_path, baseline, frame(30, 2), tmp_path / "simple.json")
    assert violations and {v["constraint_check_type"] for v in violations} == {"baseline_drift_check"}


def test_every_feature_drifted_by_0_15_is_flagged(tmp_path, baseline):
    violations = monitor(tmp_path, baseline, frame(1000, 4, gap=GAP))
    assert {v["constraint_check_type"] for v in violations} == {"baseline_drift_check"}
    assert sorted(v["feature_name"] for v in violations) == sorted(f"{f}{i}" for f in FAMILIES for i in range(4))
    for v in violations:
        first, added = v["description"].split("\n")
        assert first.startswith("Baseline drift distance: ") and first.endswith(" exceeds threshold: 0.1")
        assert added.startswith("Calibrated: also above ") and "(n=5000, m=1000)." in added
        numeric = not v["feature_name"].startswith("category")
        assert ("Largest CDF gap at " in added) is numeric and ("Largest share changes" in added) is not numeric
        assert len(v["description"]) < 1000


def test_container_environment_variable_writes_calibrated(tmp_path):
    frame(200, seed=5).to_csv(tmp_path / "train.csv", index=False)
    code = main({
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
        "dataset_source": str(tmp_path / "train.csv"), "dataset_format": '{"csv": {"header": true}}',
        "MMON_COMPARISON_METHOD": "Calibrated", "MMON_REPORT": "Disabled",
    })
    assert code == 0
    doc = read_json(tmp_path / "out" / "constraints.json")
    assert doc["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Calibrated"


def test_unknown_method_in_an_override_fails_the_job(tmp_path, baseline):
    doc = read_json(baseline / "constraints.json")
    doc["features"][3]["monitoringConfigOverrides"] = {"comparison_method": "Fancy"}
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    frame(50, 6).to_csv(tmp_path / "current.csv", index=False)
    code = main({
        "SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(tmp_path / "out"),
        "dataset_source": str(tmp_path / "current.csv"), "dataset_format": '{"csv": {"header": true}}',
        "baseline_statistics": str(baseline / "statistics.json"), "baseline_constraints": str(tmp_path / "bad.json"),
    })
    assert code == 255
    message = (tmp_path / "ml" / "output" / "message").read_text()
    assert "BASELINE_INVALID" in message and "comparison_method" in message
