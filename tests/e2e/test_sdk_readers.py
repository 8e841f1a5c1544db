"""Our files through the SageMaker Python SDK's own readers and writers.

The SDK reads reports from S3; its S3 download/upload calls are replaced by local file reads
and a capture of the uploaded body, so the SDK's parsing and editing code runs unchanged.
"""
import json
import shutil
from pathlib import Path
from unittest import mock

import pytest

from analyzer.formats import constraints_json, statistics_json
from container.entrypoint import main
from tests.conftest import REFERENCE, read_json


@pytest.fixture(scope="module")
def baseline_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("sdk")
    out = base / "out"
    code = main({
        "SAGEMAKER_BASE_DIR": str(base / "ml"), "output_path": str(out),
        "dataset_source": str(REFERENCE / "housing" / "housing.csv"),
        "dataset_format": '{"csv": {"header": true, "output_columns_position": "START"}}',
    })
    assert code == 0
    return out


def _local_reader(directory: Path):
    def read_file(s3_uri, sagemaker_session=None):
        return (directory / s3_uri.rsplit("/", 1)[-1]).read_text(encoding="utf-8")

    return read_file


def test_sdk_reads_our_statistics_and_constraints(baseline_dir):
    from sagemaker.model_monitor import Constraints, Statistics

    with mock.patch("sagemaker.s3.S3Downloader.read_file", side_effect=_local_reader(baseline_dir)):
        stats = Statistics.from_s3_uri("s3://bucket/results/statistics.json", sagemaker_session=object())
        constraints = Constraints.from_s3_uri("s3://bucket/results/constraints.json", sagemaker_session=object())
    assert stats.body_dict["dataset"]["item_count"] == 506
    assert [f["name"] for f in stats.body_dict["features"]][:3] == ["crim", "zn", "indus"]
    assert constraints.body_dict["monitoring_config"]["evaluate_constraints"] == "Enabled"


def test_sdk_edits_of_our_constraints_are_read_back(baseline_dir):
    from sagemaker.model_monitor import Constraints

    uploaded = {}

    def upload(body, desired_s3_uri, kms_key=None, sagemaker_session=None):
        uploaded[desired_s3_uri] = body
        return desired_s3_uri

    with mock.patch("sagemaker.s3.S3Downloader.read_file", side_effect=_local_reader(baseline_dir)), \
            mock.patch("sagemaker.s3.S3Uploader.upload_string_as_file_body", side_effect=upload):
        constraints = Constraints.from_s3_uri("s3://bucket/results/constraints.json", sagemaker_session=object())
        constraints.set_monitoring(False, feature_name="crim")
        constraints.set_monitoring(False)
        constraints.save("s3://bucket/edited/constraints.json")
    edited = constraints_json.from_dict(json.loads(uploaded["s3://bucket/edited/constraints.json"]))
    assert edited.monitoring_config.evaluate_constraints == "Disabled"
    assert edited.feature("crim").overrides == {"evaluate_constraints": "Disabled"}
    assert edited.feature("zn").overrides == {}


def test_sdk_fixture_files_parse(tmp_path):
    """SageMaker-made files, including SDK fixtures with old fields, load into our model."""
    stats = statistics_json.from_dict(read_json(REFERENCE / "housing" / "statistics.json"))
    assert stats.feature("medv").numerical.sketch.n == 506


@pytest.mark.parametrize("reference, csv, params, metric_type, expected", [
    ("mq_churn_binary", "validation_with_predictions.csv",
     {"problem_type": "BinaryClassification", "inference_attribute": "prediction", "probability_attribute": "probability",
      "ground_truth_attribute": "label"}, "BINARY_CLASSIFICATION", {"auc", "confusion_matrix", "receiver_operating_characteristic_curve"}),
    ("mq_weather_regression", "model-quality-baseline-data.csv",
     {"problem_type": "Regression", "inference_attribute": "prediction", "ground_truth_attribute": "label"},
     "REGRESSION", {"mae", "r2 - standard_deviation"}),
])
def test_sdk_model_card_reads_our_model_quality_statistics(tmp_path, reference, csv, params, metric_type, expected):
    """The SDK's model card takes model-quality statistics as evaluation metrics (its parsers
    validate every metric's type): ours go in as SageMaker's do."""
    from sagemaker.model_card import EvaluationJob
    from sagemaker.model_card.evaluation_metric_parsers import EvaluationMetricTypeEnum

    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(REFERENCE / reference / csv, src)
    out = tmp_path / "out"
    code = main({"SAGEMAKER_BASE_DIR": str(tmp_path / "ml"), "output_path": str(out), "dataset_source": str(src),
                 "dataset_format": '{"csv": {"header": true}}', "analysis_type": "MODEL_QUALITY", **params})
    assert code == 0
    for kind in (metric_type, "MODEL_MONITOR_MODEL_QUALITY"):
        job = EvaluationJob(name="mq")
        job.add_metric_group_from_json(str(out / "statistics.json"), getattr(EvaluationMetricTypeEnum, kind))
        names = {m.name for group in job.metric_groups for m in group.metric_data}
        assert expected <= names, names
