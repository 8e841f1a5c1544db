"""The model-quality jobs on the Spark driver (MMON_SPARK_MASTER): Spark's readers gather the
columns (merged records decoded on the executors); the reports equal the local driver's."""
from __future__ import annotations

import shutil

from tests.conftest import REFERENCE, read_json
from tests.e2e.test_model_quality_job import (BINARY, CSV_HEADER, T0, binary_baseline, merged_line, monitoring_env, run,
                                              scored, write_merged)


def _without_time(doc: dict) -> dict:
    return {**doc, "dataset": {k: v for k, v in doc["dataset"].items() if k != "evaluation_time"}}


def test_binary_baseline_on_spark_equals_local(spark, job_env, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(REFERENCE / "mq_churn_binary" / "validation_with_predictions.csv", src)
    results = []
    for name, extra in (("local", {}), ("spark", {"MMON_SPARK_MASTER": "local[2]"})):
        code, message, out = run({**job_env, "output_path": str(tmp_path / name), **extra},
                                 dataset_source=src, dataset_format=CSV_HEADER, **BINARY)
        assert code == 0, message
        results.append((_without_time(read_json(out / "statistics.json")), read_json(out / "constraints.json")))
    assert results[0] == results[1]


def test_merged_monitoring_on_spark_equals_local(spark, job_env, tmp_path):
    baseline = binary_baseline(job_env, tmp_path)
    y, p = scored(1500, seed=5, skill=0.5)
    lines = [merged_line(a, f"{b}", T0) for a, b in zip(y, p)]
    lines.insert(100, "{not json")  # one bad line, within the budget of 1 %
    src = write_merged(tmp_path / "merged", lines)
    outputs = []
    for name, extra in (("local", {}), ("spark", {"MMON_SPARK_MASTER": "local[2]"})):
        env = monitoring_env({**job_env, "output_path": str(tmp_path / name), **extra}, baseline,
                             dataset_source=str(src), end_time="2024-03-05T12:00:00Z")
        code, message, out = run(env)
        assert code == 0 and message.startswith("CompletedWithViolations"), message
        outputs.append({f: (out / f).read_bytes() for f in ("statistics.json", "constraint_violations.json")})
    assert outputs[0] == outputs[1]


def test_no_merged_record_in_the_window_on_spark(spark, job_env, tmp_path):
    """A window whose hours hold no merged file fails as locally (Spark is not asked to read
    an empty list of files)."""
    baseline = binary_baseline(job_env, tmp_path)
    src = write_merged(tmp_path / "merged", [merged_line(1, "0.9", T0), merged_line(0, "0.2", T0)])
    for name, extra in (("local", {}), ("spark", {"MMON_SPARK_MASTER": "local[2]"})):
        env = monitoring_env({**job_env, "output_path": str(tmp_path / name), **extra}, baseline, dataset_source=str(src),
                             start_time="2024-03-06T11:00:00Z", end_time="2024-03-06T12:00:00Z")
        code, message, _ = run(env)
        assert code == 255 and message.startswith("Failed: [NO_MERGED_RECORDS]") and "(0 lines in 0 files)" in message, message
