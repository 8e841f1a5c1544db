"""A tiny run of the benchmark script, so that it keeps working (no timing is asserted)."""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))

import bench  # noqa: E402


def test_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert bench.main([
        "--rows", "3000", "--scale", "600", "3000", "--records", "600", "--mq-records", "700", "--runs", "1",
        "--workdir", str(tmp_path), "--json", str(out), "--skip", "whylogs", "--ours-python", sys.executable,
    ]) == 0
    results = json.loads(out.read_text())
    w1 = results["W1"]
    assert w1["ours"]["wall_s"] > 0 and w1["ours"]["peak_rss_mb"] > 0
    assert w1["duckdb"]["wall_s"] > 0 and "ours_over_duckdb" in w1
    assert w1["whylogs"] == {"error": "skipped"}
    assert [x["rows"] for x in results["W2"]] == [600, 3000]
    assert results["W3"]["records"] == 600
    w3 = results["W3"]  # against a baseline of as many rows, run in alternation with it (one pair here)
    assert len(w3["walls"]) == len(w3["same_size_baseline"]["walls"]) == 1
    assert w3["over_same_size_baseline"] == round(w3["wall_s"] / w3["same_size_baseline"]["wall_s"], 2)
    assert json.loads((tmp_path / "w3-same-size-baseline" / "statistics.json").read_text())["dataset"]["item_count"] == 600
    stats = json.loads((tmp_path / "w1-baseline" / "statistics.json").read_text())
    assert stats["dataset"]["item_count"] == 3000 and len(stats["features"]) == 20
    report = json.loads((tmp_path / "w3-report" / "constraint_violations.json").read_text())
    assert isinstance(report["violations"], list)
    assert results["MQ"]["records"] == 700 and results["MQ"]["monitoring"]["wall_s"] > 0
    mq = json.loads((tmp_path / "mq-report" / "statistics.json").read_text())
    assert mq["dataset"]["item_count"] == 700 and "auc" in mq["binary_classification_metrics"]
    table = capsys.readouterr().out
    assert "| W1 3,000 rows" in table and "| W3 600 captured records" in table and "| MQ 700 merged records" in table
