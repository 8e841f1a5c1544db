"""The Spark driver (MMON_SPARK_MASTER) runs the same profiler in Spark's Python workers and
merges the partial states: its reports equal the local driver's (see tests/compare.py)."""
from __future__ import annotations

import json

from container.entrypoint import main
from tests.compare import assert_same_statistics
from tests.conftest import read_json
from tests.e2e.test_engine import CSV_HEADER, _dataset


def _run(tmp_path, name, source, fmt, **extra):
    out = tmp_path / name
    env = {"SAGEMAKER_BASE_DIR": str(tmp_path / f"ml-{name}"), "output_path": str(out),
           "dataset_source": str(source), "dataset_format": fmt, **extra}
    code = main(env)
    assert code == 0, (tmp_path / f"ml-{name}" / "output" / "message").read_text()
    return read_json(out / "statistics.json"), read_json(out / "constraints.json")


def test_spark_driver_equals_local_driver_on_csv(spark, tmp_path):
    source = _dataset(tmp_path / "data.csv")
    local = _run(tmp_path, "local", source, CSV_HEADER)
    on_spark = _run(tmp_path, "spark", source, CSV_HEADER, MMON_SPARK_MASTER="local[2]")
    assert_same_statistics(on_spark[0], local[0])
    assert on_spark[1] == local[1]


def test_spark_driver_equals_local_driver_on_json_lines(spark, tmp_path):
    rows = [{"a": i, "b": f"v{i % 5}", "c": i / 7} for i in range(3000)]
    source = tmp_path / "data.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fmt = '{"json": {"lines": true}}'
    local = _run(tmp_path, "local", source, fmt)
    on_spark = _run(tmp_path, "spark", source, fmt, MMON_SPARK_MASTER="local[2]")
    assert_same_statistics(on_spark[0], local[0])


def test_capture_monitoring_on_spark_equals_local(spark, tmp_path):
    """Captured data decoded by the executors (a summary pass, then the records): the same
    current statistics and the same violations as the local driver."""
    from tests.e2e.test_monitoring_job import H11, make_frame, monitor, rows_to_records

    base = tmp_path / "base"
    base.mkdir()
    make_frame(3000, seed=1).to_csv(base / "train.csv", index=False)
    _run(tmp_path, "baseline", base / "train.csv", CSV_HEADER)
    baseline = tmp_path / "baseline"
    frame = make_frame(1500, seed=3, shift=1.0)
    frame.loc[frame.index % 40 == 0, "color"] = "purple"
    records = rows_to_records(frame, H11)
    local = monitor(tmp_path / "local", baseline, records)
    on_spark = monitor(tmp_path / "spark", baseline, records, env={"MMON_SPARK_MASTER": "local[2]"})
    assert local[2] == on_spark[2] and local[2]  # the same violations, and some
    assert_same_statistics(read_json(on_spark[3] / "statistics.json"), read_json(local[3] / "statistics.json"))
