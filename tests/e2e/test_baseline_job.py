"""The baselining job through container.entrypoint.main, as the processing container runs it."""
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from container.entrypoint import main
from tests.conftest import REFERENCE, SHARED_REFERENCE, read_json

CSV_HEADER = '{"csv": {"header": true, "output_columns_position": "START"}}'
COMPLETED = "Completed: Job completed successfully with no violations."


def run(env: dict, **params) -> tuple[int, str, Path]:
    env = {**env, **{k: str(v) for k, v in params.items()}}
    code = main(env)
    message = (Path(env["SAGEMAKER_BASE_DIR"]) / "output" / "message").read_text(encoding="utf-8")
    return code, message, Path(env["output_path"])


def reports(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


# ------------------------------------------------------------------ real SageMaker outputs
def test_housing_matches_real_sagemaker_output_field_by_field(job_env, tmp_path):
    """Same names, types, counts, min/max, bucket edges and bucket counts exactly; mean, sum
    and std_dev to 1e-12 relative (summation order); the sketch holds every value (n < k)."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(REFERENCE / "housing" / "housing.csv", src)
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER)
    assert (code, message) == (0, COMPLETED)
    ours, real = read_json(out / "statistics.json"), read_json(REFERENCE / "housing" / "statistics.json")
    assert ours["version"] == real["version"] == 0.0
    assert ours["dataset"] == real["dataset"]
    assert len(ours["features"]) == len(real["features"])
    for a, b in zip(ours["features"], real["features"]):
        assert (a["name"], a["inferred_type"]) == (b["name"], b["inferred_type"])
        na, nb = a["numerical_statistics"], b["numerical_statistics"]
        assert na["common"] == nb["common"]
        assert (na["min"], na["max"]) == (nb["min"], nb["max"])
        for key in ("mean", "sum", "std_dev"):
            assert na[key] == pytest.approx(nb[key], rel=1e-12), (a["name"], key)
        assert na["distribution"]["kll"]["buckets"] == nb["distribution"]["kll"]["buckets"], a["name"]
        assert sorted(sum(na["distribution"]["kll"]["sketch"]["data"], [])) == sorted(sum(nb["distribution"]["kll"]["sketch"]["data"], []))
        assert type(na["sum"]) is float and type(na["common"]["num_present"]) is int
    c_ours, c_real = read_json(out / "constraints.json"), read_json(REFERENCE / "housing" / "constraints.json")
    assert c_ours["features"] == c_real["features"]
    mc = c_ours["monitoring_config"]
    assert mc["datatype_check_threshold"] == 1.0 and mc["domain_content_threshold"] == 1.0
    assert mc["distribution_constraints"] == {
        "perform_comparison": "Enabled", "comparison_threshold": 0.1, "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1, "categorical_drift_method": "LInfinity",
    }


def test_headerless_csv_matches_real_sdk_output(job_env):
    code, message, out = run(
        job_env,
        dataset_source=REFERENCE / "sdk_data_quality" / "baseline_dataset.csv",
        dataset_format='{"csv": {"header": false}}',
    )
    assert code == 0, message
    ours, real = read_json(out / "statistics.json"), read_json(REFERENCE / "sdk_data_quality" / "statistics.json")
    assert [(f["name"], f["inferred_type"]) for f in ours["features"]] == [(f["name"], f["inferred_type"]) for f in real["features"]]
    for a, b in zip(ours["features"], real["features"]):
        na, nb = a["numerical_statistics"], b["numerical_statistics"]
        assert na["common"] == nb["common"] and (na["min"], na["max"]) == (nb["min"], nb["max"])
        assert na["mean"] == pytest.approx(nb["mean"], rel=1e-12)
        assert na["std_dev"] == pytest.approx(nb["std_dev"], rel=1e-12)
        assert na["distribution"]["kll"]["buckets"] == nb["distribution"]["kll"]["buckets"]
    assert read_json(out / "constraints.json")["features"] == read_json(REFERENCE / "sdk_data_quality" / "constraints.json")["features"]


AAI = SHARED_REFERENCE / "aai-540"


@pytest.mark.skipif(not (AAI / "train_data.csv").exists(), reason="shared reference folder not beside the checkout")
def test_string_heavy_dataset_matches_real_2024_output(job_env):
    """aai-540 (compare only, never copied): string columns, HLL distinct counts, categorical
    buckets and domains. Counts, types, means exact/1e-12; our distinct counts within 5% of the
    exact count (3 standard errors at lg_k=12) and within 12% of SageMaker's own estimate (its
    HLL is off by up to 9% on this file); buckets and domains equal as sets (SageMaker's order
    is a hash order)."""
    code, message, out = run(job_env, dataset_source=AAI / "train_data.csv", dataset_format='{"csv": {"header": true}}')
    assert code == 0, message
    ours, real = read_json(out / "statistics.json"), read_json(AAI / "statistics.json")
    exact = pd.read_csv(AAI / "train_data.csv", dtype=str).nunique()
    assert ours["dataset"] == real["dataset"]
    for a, b in zip(ours["features"], real["features"], strict=True):
        assert (a["name"], a["inferred_type"]) == (b["name"], b["inferred_type"])
        if "numerical_statistics" in b:
            na, nb = a["numerical_statistics"], b["numerical_statistics"]
            assert na["common"] == nb["common"] and (na["min"], na["max"]) == (nb["min"], nb["max"])
            assert na["mean"] == pytest.approx(nb["mean"], rel=1e-12)
            assert na["std_dev"] == pytest.approx(nb["std_dev"], rel=1e-9)
            assert na["approximate_num_distinct_values"] == pytest.approx(exact[a["name"]], rel=0.05)
            assert na["approximate_num_distinct_values"] == pytest.approx(nb["approximate_num_distinct_values"], rel=0.12)
        else:
            sa, sb = a["string_statistics"], b["string_statistics"]
            assert sa["common"] == sb["common"]
            assert sa["distinct_count"] == pytest.approx(exact[a["name"]], rel=0.05)
            assert sa["distinct_count"] == pytest.approx(sb["distinct_count"], rel=0.12)
            assert ("distribution" in sa) == ("distribution" in sb), a["name"]
            if "distribution" in sb:
                assert {x["value"]: x["count"] for x in sa["distribution"]["categorical"]["buckets"]} == {
                    x["value"]: x["count"] for x in sb["distribution"]["categorical"]["buckets"]
                }
    c_ours, c_real = read_json(out / "constraints.json"), read_json(AAI / "constraints.json")
    for a, b in zip(c_ours["features"], c_real["features"], strict=True):
        assert set(a) == set(b), a["name"]
        if "string_constraints" in b:
            assert set(a["string_constraints"]["domains"]) == set(b["string_constraints"]["domains"])
    assert c_ours["monitoring_config"] == c_real["monitoring_config"]


# ------------------------------------------------------------------ formats
@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(11)
    n = 2000
    return pd.DataFrame({
        "price": rng.normal(100, 15, n).round(3),
        "rooms": rng.integers(1, 7, n),
        "city": rng.choice(["Lyon", "Oslo", "Lima"], n),
    })


def _check_frame_stats(out: Path, frame: pd.DataFrame) -> None:
    stats = read_json(out / "statistics.json")
    assert stats["dataset"]["item_count"] == len(frame)
    by_name = {f["name"]: f for f in stats["features"]}
    assert [f["name"] for f in stats["features"]] == list(frame.columns)
    assert by_name["price"]["inferred_type"] == "Fractional"
    assert by_name["rooms"]["inferred_type"] == "Integral"
    assert by_name["city"]["inferred_type"] == "String"
    assert by_name["price"]["numerical_statistics"]["mean"] == pytest.approx(frame["price"].mean(), rel=1e-12)
    assert by_name["rooms"]["numerical_statistics"]["sum"] == float(frame["rooms"].sum())
    buckets = by_name["city"]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert {b["value"]: b["count"] for b in buckets} == frame["city"].value_counts().to_dict()


def test_json_lines_keeps_input_column_order(job_env, tmp_path, frame):
    src = tmp_path / "json"
    src.mkdir()
    frame.iloc[:1000].to_json(src / "part-1.jsonl", orient="records", lines=True)
    with gzip.open(src / "part-2.jsonl.gz", "wt") as fh:
        fh.write(frame.iloc[1000:].to_json(orient="records", lines=True))
    code, message, out = run(job_env, dataset_source=src, dataset_format='{"json": {"lines": true}}')
    assert (code, message) == (0, COMPLETED)
    _check_frame_stats(out, frame)


def test_parquet_directory(job_env, tmp_path, frame):
    src = tmp_path / "pq"
    src.mkdir()
    frame.iloc[:700].to_parquet(src / "a.parquet")
    frame.iloc[700:].to_parquet(src / "b.parquet")
    (src / "_SUCCESS").write_text("")
    code, message, out = run(job_env, dataset_source=src, dataset_format='{"parquet": {}}')
    assert (code, message) == (0, COMPLETED)
    _check_frame_stats(out, frame)


def test_csv_with_header_several_files_and_processingjobconfig(job_env, tmp_path, frame):
    src = tmp_path / "csv"
    src.mkdir()
    frame.iloc[:1500].to_csv(src / "a.csv", index=False)
    frame.iloc[1500:].to_csv(src / "b.csv", index=False)
    config = Path(job_env["SAGEMAKER_BASE_DIR"]) / "config"
    config.mkdir()
    (config / "processingjobconfig.json").write_text(json.dumps({"Environment": {
        "dataset_source": str(src), "dataset_format": CSV_HEADER, "output_path": job_env["output_path"],
        "publish_cloudwatch_metrics": "Disabled",
    }}))
    code, message, out = run({**job_env, "dataset_format": '{"parquet": {}}'})  # the file wins
    assert (code, message) == (0, COMPLETED)
    _check_frame_stats(out, frame)


def test_categorical_drift_method_override_is_written(job_env, tmp_path, frame):
    src = tmp_path / "d.csv"
    frame.to_csv(src, index=False)
    code, _, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER, categorical_drift_method="ChiSquared")
    assert code == 0
    dc = read_json(out / "constraints.json")["monitoring_config"]["distribution_constraints"]
    assert dc["categorical_drift_method"] == "ChiSquared"


def test_ragged_rows_and_undecodable_bytes_do_not_crash(job_env, tmp_path, caplog):
    src = tmp_path / "ragged.csv"
    src.write_bytes(b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n7,\xff\xfe,1\n8,9,10\n")
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER)
    assert (code, message) == (0, COMPLETED)
    stats = {f["name"]: f for f in read_json(out / "statistics.json")["features"]}
    assert read_json(out / "statistics.json")["dataset"]["item_count"] == 5
    # short row: c missing; undecodable value in b: missing; long row: extra field ignored
    assert stats["c"]["numerical_statistics"]["common"] == {"num_present": 4, "num_missing": 1}
    assert stats["b"]["numerical_statistics"]["common"] == {"num_present": 4, "num_missing": 1}
    assert stats["b"]["inferred_type"] == "Integral"
    assert "2 rows did not have the header's number of fields" in caplog.text
    assert "1 values held bytes that are not UTF-8" in caplog.text


# ------------------------------------------------------------------ bad input
def _assert_failed(code, message, out, fragment):
    assert code != 0
    assert message.startswith("Failed: ")
    assert fragment in message, message
    assert "\n" not in message and len(message.encode()) <= 1024
    assert [n for n in reports(out) if n.endswith(".json") or ".tmp" in n] == []


@pytest.mark.parametrize(
    "fmt,fragment",
    [
        (None, "[ENV_MISSING] Required parameter dataset_format is not set"),
        ("{csv: true", "[DATASET_FORMAT_INVALID]"),
        ('{"avro": {}}', "[DATASET_FORMAT_UNSUPPORTED] Unsupported dataset_format 'avro'"),
    ],
)
def test_bad_dataset_format(job_env, fmt, fragment):
    env = dict(job_env, dataset_source=str(REFERENCE / "housing" / "housing.csv"))
    if fmt is not None:
        env["dataset_format"] = fmt
    _assert_failed(*run(env), fragment)


def test_missing_source(job_env, tmp_path):
    _assert_failed(*run(job_env, dataset_source=tmp_path / "nope", dataset_format=CSV_HEADER), "[DATASET_SOURCE_MISSING]")


def test_source_without_data_files(job_env, tmp_path):
    src = tmp_path / "empty"
    (src / ".hidden").mkdir(parents=True)
    (src / "_SUCCESS").write_text("")
    _assert_failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER), "[DATASET_NO_FILES]")


def test_header_only_csv(job_env, tmp_path):
    src = tmp_path / "h.csv"
    src.write_text("a,b,c\n")
    _assert_failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER), "[DATASET_EMPTY]")


def test_zero_byte_csv(job_env, tmp_path):
    src = tmp_path / "z.csv"
    src.write_text("")
    _assert_failed(*run(job_env, dataset_source=src, dataset_format=CSV_HEADER), "[DATASET_EMPTY]")


def test_corrupt_parquet(job_env, tmp_path):
    src = tmp_path / "bad.parquet"
    src.write_bytes(b"PAR1 this is not really parquet")
    _assert_failed(*run(job_env, dataset_source=src, dataset_format='{"parquet": {}}'), "[DATASET_UNREADABLE]")


def test_parquet_with_damaged_pages(job_env, tmp_path, frame):
    src = tmp_path / "damaged.parquet"
    frame.to_parquet(src, compression=None)
    data = bytearray(src.read_bytes())
    data[8:400] = b"\x13" * 392  # keep both magic markers, break the column data
    src.write_bytes(bytes(data))
    _assert_failed(*run(job_env, dataset_source=src, dataset_format='{"parquet": {}}'), "Failed: [")


def test_output_path_not_writable(job_env, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, message, _ = run(
        job_env, dataset_source=REFERENCE / "housing" / "housing.csv", dataset_format=CSV_HEADER,
        output_path=blocker / "out",
    )
    assert code != 0 and message.startswith("Failed: [OUTPUT_NOT_WRITABLE]")


def test_failure_leaves_earlier_message_untouched_by_nothing_else(job_env, tmp_path):
    """One writer: a failure after a successful run replaces the old status with the new reason."""
    src = tmp_path / "h.csv"
    src.write_text("a\n")
    code, message, _ = run(job_env, dataset_source=src, dataset_format=CSV_HEADER)
    assert code == 255 and message.startswith("Failed: [DATASET_EMPTY]")


HEADER_LINES = [
    "a,b,c", "a,,c", ",,", "A,a,b", "x,X,x,y", " a , b", "a;b,c", "é,ü,名前", "a,b,", "a\tb,c",
    '"a,b",c', "\ufeffa,b",
]


@pytest.mark.parametrize("header", [True, False])
def test_csv_columns_read_in_python_equal_sparks(spark, tmp_path, header):
    """The header is read in Python; its names must be the ones Spark's CSV reader makes."""
    from container.config import CsvFormat
    from container.dataset import csv_columns

    fmt = CsvFormat(header=header)
    for n, line in enumerate(HEADER_LINES):
        path = tmp_path / f"h{header}{n}.csv"
        path.write_text("\n  \n" + line + "\n1,2,3\n", encoding="utf-8")
        ours = csv_columns([str(path)], fmt)
        theirs = spark.read.options(header=str(header).lower(), sep=",", quote='"', escape="\\").csv(str(path)).columns
        assert ours == theirs, line


def test_csv_columns_of_empty_data(tmp_path):
    from container.config import CsvFormat
    from container.dataset import csv_columns

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert csv_columns([str(empty)], CsvFormat(header=True)) == []


def test_damaged_gzip_csv_names_the_file_and_the_cause(job_env, tmp_path):
    src = tmp_path / "parts"
    src.mkdir()
    (src / "a.csv").write_text("p,q\n1,2\n")
    (src / "b.csv.gz").write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    code, message, out = run(job_env, dataset_source=src, dataset_format=CSV_HEADER)
    _assert_failed(code, message, out, "[DATASET_UNREADABLE]")
    assert "b.csv.gz" in message and "invalid stored block lengths" in message, message
    assert "collectToPython" not in message
