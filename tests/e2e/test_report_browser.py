"""report.html in a real browser (Debian's headless Chromium, loaded from a file, offline), from
SageMaker's housing files through `mmon report` and from our own baselining job."""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from container.cli import main as cli_main
from container.entrypoint import main as job_main
from tests.conftest import REFERENCE, read_json

CHROMIUM = Path("/usr/bin/chromium")
HOUSING = REFERENCE / "housing"
CSV_HEADER = '{"csv": {"header": true}}'
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture
def chromium(tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("Chromium is missing: scripts/setup.sh --test installs it (apt-get install chromium)")
        pytest.skip("Chromium is not installed (scripts/setup.sh --test installs it)")

    def run(page: Path, *args: str) -> str:
        profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
        profile.mkdir()
        proc = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout

    return run


def rendered_features(dom: str) -> dict[str, str]:
    """data-feature -> the section's rendered markup, from Chromium's serialised DOM."""
    found = re.findall(r'<section class="feature[^"]*" id="[^"]+" data-feature="([^"]*)">(.*?)</section>', dom, flags=re.S)
    return dict(found)


def png_pixels(path: Path) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, unfiltered pixel bytes) of an 8-bit RGB(A) or grey PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, bytearray(), None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and interlace == 0 and colour in (0, 2, 4, 6)
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw, stride = zlib.decompress(bytes(idat)), width * bpp
    out, previous = bytearray(), bytearray(stride)
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + previous[i]) // 2) & 255
        elif kind == 4:
            for i in range(stride):
                a, b, c = (line[i - bpp] if i >= bpp else 0), previous[i], (previous[i - bpp] if i >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        previous = line
    return width, height, bpp, bytes(out)


def assert_not_blank(path: Path) -> None:
    width, height, bpp, pixels = png_pixels(path)
    grey = [sum(pixels[i:i + min(bpp, 3)]) // min(bpp, 3) for i in range(0, len(pixels), bpp)]
    mean = sum(grey) / len(grey)
    variance = sum((g - mean) ** 2 for g in grey) / len(grey)
    dark = sum(g < 128 for g in grey) / len(grey)
    assert variance > 100 and dark > 0.005, (width, height, variance, dark)


def monitoring_report(tmp_path: Path) -> Path:
    """`mmon report` over SageMaker's housing files, its violations against its own baseline."""
    out = tmp_path / "monitoring" / "report.html"
    code = cli_main(["report", "--statistics", str(HOUSING / "statistics.json"), "--constraints", str(HOUSING / "constraints.json"),
                     "--baseline-statistics", str(HOUSING / "statistics.json"),
                     "--violations", str(HOUSING / "constraint_violations.json"), "--output", str(out)])
    assert code == 0 and out.is_file()
    return out


def test_mmon_report_on_sagemakers_housing_files_renders_every_feature_and_violation(tmp_path, chromium):
    page = monitoring_report(tmp_path)
    dom = chromium(page, "--dump-dom")
    features = rendered_features(dom)
    names = [f["name"] for f in read_json(HOUSING / "statistics.json")["features"]]
    assert sorted(features) == sorted(names)
    assert all(body.count("<svg") == 1 for body in features.values())
    rows = re.findall(r'<tr class="violation"><td><a href="#([^"]+)">([^<]+)</a></td><td>([^<]+)</td>', dom)
    violations = read_json(HOUSING / "constraint_violations.json")["violations"]
    assert [(name, check) for _, name, check in rows] == [(v["feature_name"], v["constraint_check_type"]) for v in violations]
    for anchor, name, _ in rows:
        assert f'id="{anchor}" data-feature="{name}"' in dom


def test_screenshots_are_not_blank_wide_and_narrow(tmp_path, chromium):
    page = monitoring_report(tmp_path)
    for size in ("1000,900", "380,900"):
        shot = tmp_path / f"shot-{size.replace(',', 'x')}.png"
        chromium(page, f"--screenshot={shot}", f"--window-size={size}")
        assert_not_blank(shot)


def test_mmon_report_baselining_page_from_sagemakers_files(tmp_path, chromium):
    out = tmp_path / "baseline.html"
    assert cli_main(["report", "--statistics", str(HOUSING / "statistics.json"), "--constraints", str(HOUSING / "constraints.json"),
                     "--output", str(out)]) == 0
    features = rendered_features(chromium(out, "--dump-dom"))
    assert len(features) == 13 and all(body.count("<svg") == 1 for body in features.values())


def test_mmon_report_rejects_unreadable_and_invalid_json(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    out = tmp_path / "r.html"
    assert cli_main(["report", "--statistics", str(bad), "--output", str(out)]) == 255
    assert "not valid JSON" in capsys.readouterr().err
    assert cli_main(["report", "--statistics", str(HOUSING / "statistics.json"), "--violations", str(tmp_path / "nope.json"),
                     "--output", str(out)]) == 255
    assert "cannot read violations file" in capsys.readouterr().err
    bad.write_text("[1, 2]", encoding="utf-8")
    assert cli_main(["report", "--statistics", str(bad), "--output", str(out)]) == 255
    assert not out.exists()


def _baseline_job(job_env: dict, tmp_path: Path, **extra: str) -> Path:
    src = tmp_path / "in"
    src.mkdir(exist_ok=True)
    shutil.copy(HOUSING / "housing.csv", src)
    env = {**job_env, "dataset_source": str(src), "dataset_format": CSV_HEADER, **extra}
    assert job_main(env) == 0
    return Path(env["output_path"])


def test_baselining_job_writes_report_html_that_renders(job_env, tmp_path, chromium):
    out = _baseline_job(job_env, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["constraints.json", "report.html", "statistics.json"]
    features = rendered_features(chromium(out / "report.html", "--dump-dom"))
    assert len(features) == 13 and all(body.count("<svg") == 1 for body in features.values())


def test_mmon_report_disabled_writes_no_page_and_removes_a_previous_one(job_env, tmp_path):
    out = _baseline_job(job_env, tmp_path)
    assert (out / "report.html").is_file()
    _baseline_job(job_env, tmp_path, MMON_REPORT="Disabled")
    assert sorted(p.name for p in out.iterdir()) == ["constraints.json", "statistics.json"]


def test_mmon_report_knob_is_validated(job_env, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(HOUSING / "housing.csv", src)
    env = {**job_env, "dataset_source": str(src), "dataset_format": CSV_HEADER, "MMON_REPORT": "off"}
    assert job_main(env) == 255
    message = (Path(job_env["SAGEMAKER_BASE_DIR"]) / "output" / "message").read_text(encoding="utf-8")
    assert "MMON_REPORT" in message


def test_a_report_that_cannot_be_rendered_is_a_warning_not_a_failed_job(job_env, tmp_path, monkeypatch, caplog):
    import container.jobs

    def broken(*args, **kwargs):
        raise ValueError("a bug in the page")

    monkeypatch.setattr(container.jobs, "render_html", broken)
    out = _baseline_job(job_env, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["constraints.json", "statistics.json"]
    assert "Could not render report.html" in caplog.text


def test_monitoring_job_writes_report_html_with_its_violations_first(tmp_path, chromium):
    """`mmon monitor` over the shifted housing capture (4 violations) against SageMaker's baseline."""
    capture = tmp_path / "capture" / "ep" / "AllTraffic" / "2021" / "07" / "07" / "16"
    capture.mkdir(parents=True)
    (capture / "45-47-000-x.jsonl").write_text((HOUSING / "capture-sample.jsonl").read_text())
    out = tmp_path / "report"
    assert cli_main(["monitor", str(tmp_path / "capture"), "--format", "capture", "--output", str(out),
                     "--statistics", str(HOUSING / "statistics.json"), "--constraints", str(HOUSING / "constraints.json"),
                     "--start-time", "2021-07-07T16:00:00Z", "--end-time", "2021-07-07T17:00:00Z"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["constraint_violations.json", "report.html", "statistics.json"]
    dom = chromium(out / "report.html", "--dump-dom")
    assert "CompletedWithViolations: Job completed successfully with 4 violations." in dom
    violations = read_json(out / "constraint_violations.json")["violations"]
    rows = re.findall(r'<tr class="violation"><td><a href="#([^"]+)">([^<]+)</a></td><td>([^<]+)</td>', dom)
    assert [(name, check) for _, name, check in rows] == [(v["feature_name"], v["constraint_check_type"]) for v in violations]
    features = rendered_features(dom)
    assert all(body.count("<svg") == 1 for body in features.values())
    assert set(list(features)[: len(violations)]) == {v["feature_name"] for v in violations}


# ---------------------------------------------------------------- model quality
SAMPLE = Path(__file__).resolve().parents[2] / "sample" / "model-quality"
CHURN = REFERENCE / "mq_churn_binary"
MQ_BASELINE = {"dataset_format": CSV_HEADER, "analysis_type": "MODEL_QUALITY", "problem_type": "BinaryClassification",
               "inference_attribute": "prediction", "probability_attribute": "probability", "ground_truth_attribute": "label"}


def flagged_metrics(dom: str) -> list[str]:
    return re.findall(r'<tr class="metric flagged" id="[^"]+" data-metric="([^"]+)">', dom)


def test_model_quality_loop_writes_pages_that_chromium_renders(tmp_path, chromium):
    """The README's loop on the bundled sample: the baseline and the monitoring job each write a
    page (the merge job none); the monitoring page marks the 7 violated metrics and draws both
    curves; `mmon report` over the job's files renders the very same page."""
    window = ["--start-time", "2024-03-05T11:00:00Z", "--end-time", "2024-03-05T12:00:00Z"]
    base, merged, report = tmp_path / "baseline", tmp_path / "merged", tmp_path / "report"
    assert cli_main(["baseline", str(SAMPLE / "baseline.csv"), "-o", str(base), "--problem-type", "BinaryClassification",
                     "--inference-attribute", "prediction", "--probability-attribute", "probability",
                     "--ground-truth-attribute", "label"]) == 0
    assert cli_main(["merge", str(SAMPLE / "capture"), "--ground-truth", str(SAMPLE / "groundtruth"), "-o", str(merged), *window]) == 0
    assert cli_main(["monitor", str(merged), "--problem-type", "BinaryClassification", "--probability-attribute", "0",
                     "--constraints", str(base / "constraints.json"), "-o", str(report), *window]) == 0
    assert sorted(p.name for p in base.iterdir()) == ["constraints.json", "report.html", "statistics.json"]
    assert sorted(p.name for p in report.iterdir()) == ["constraint_violations.json", "report.html", "statistics.json"]
    assert not list(merged.rglob("report.html"))

    dom = chromium(report / "report.html", "--dump-dom")
    assert "CompletedWithViolations: Job completed successfully with 7 violations." in dom
    violations = read_json(report / "constraint_violations.json")["violations"]
    snake = {"falsePositiveRate": "false_positive_rate", "trueNegativeRate": "true_negative_rate"}
    assert sorted(flagged_metrics(dom)) == sorted(snake.get(v["metric_name"], v["metric_name"]) for v in violations)
    for name in ("roc", "precision-recall"):
        figure = re.search(rf'<figure id="{name}">(.*?)</figure>', dom, flags=re.S).group(1)
        assert figure.count("<polyline") == 1
    assert "ROC curve, AUC 0.85564" in dom
    for size in ("1000,2000", "380,1200"):
        shot = tmp_path / f"mq-{size.replace(',', 'x')}.png"
        chromium(report / "report.html", f"--screenshot={shot}", f"--window-size={size}")
        assert_not_blank(shot)
    assert rendered_features(chromium(base / "report.html", "--dump-dom")) == {}  # no data-quality sections

    again = tmp_path / "again.html"
    assert cli_main(["report", "--statistics", str(report / "statistics.json"), "--constraints", str(base / "constraints.json"),
                     "--violations", str(report / "constraint_violations.json"), "--output", str(again)]) == 0
    assert again.read_text(encoding="utf-8") == (report / "report.html").read_text(encoding="utf-8")


def test_mmon_report_renders_sagemakers_model_quality_files(tmp_path, chromium):
    out = tmp_path / "churn.html"
    assert cli_main(["report", "--statistics", str(CHURN / "statistics.display-rounded.partial.json"),
                     "--constraints", str(CHURN / "constraints.display-rounded.json"),
                     "--violations", str(CHURN / "constraint_violations.json"), "--output", str(out)]) == 0
    dom = chromium(out, "--dump-dom")
    assert "<title>Model quality monitoring report</title>" in dom
    assert len(flagged_metrics(dom)) == 10 and 'data-metric="f0_5"' in dom
    assert re.search(r'<table class="matrix">', dom) and 'id="no-curves"' in dom


def _model_quality_baseline(job_env: dict, tmp_path: Path, **extra: str) -> Path:
    src = tmp_path / "mq-in"
    src.mkdir(exist_ok=True)
    shutil.copy(CHURN / "validation_with_predictions.csv", src)
    env = {**job_env, **MQ_BASELINE, "dataset_source": str(src), **extra}
    assert job_main(env) == 0
    return Path(env["output_path"])


def test_model_quality_report_disabled_writes_no_page_and_removes_a_previous_one(job_env, tmp_path):
    out = _model_quality_baseline(job_env, tmp_path)
    assert (out / "report.html").is_file()
    _model_quality_baseline(job_env, tmp_path, MMON_REPORT="Disabled")
    assert sorted(p.name for p in out.iterdir()) == ["constraints.json", "statistics.json"]


def test_a_model_quality_report_that_cannot_be_rendered_is_a_warning(job_env, tmp_path, monkeypatch, caplog):
    import container.model_quality

    def broken(*args, **kwargs):
        raise ValueError("a bug in the page")

    monkeypatch.setattr(container.model_quality, "render_model_quality_html", broken)
    out = _model_quality_baseline(job_env, tmp_path)
    assert sorted(p.name for p in out.iterdir()) == ["constraints.json", "statistics.json"]
    assert "Could not render report.html" in caplog.text
