#!/usr/bin/env python3
"""Benchmark: our jobs beside DuckDB SUMMARIZE and whylogs, whole-process wall time and peak RSS.

    python scripts/bench.py                       # W1, W2, W3 at full size (several minutes)
    python scripts/bench.py --rows 20000 --scale 20000 40000 --records 5000 --runs 1   # smoke size

Every measured run is a fresh process (Python start and imports included) that ends when its
report is written. Ours runs this checkout's code with the run-time dependencies only, as a user
installs it (a venv made once in the work folder, `--ours-python` to choose another). Peak RSS is
the largest sum of resident memory over the process tree, sampled every 20 ms. Workloads:
  W1  baseline of a generated CSV (20 columns: 10 fractional, 5 integral, 5 strings of 3-8
      categories, ~1% missing in three columns) by us, DuckDB SUMMARIZE and whylogs (pandas)
  W2  our baseline at several row counts: time per row and peak memory
  W3  our monitoring job on captured records (CSV payloads of W1's features, 24 hourly files)
      against W1's baseline: cost per record beside the baselining job's
  housing  baseline of the bundled sample/housing.csv (506 rows) by us and DuckDB SUMMARIZE:
      a small file, where start-up is most of the time (target: ours/duckdb <= 5x)
  MQ  model quality: a binary baseline of generated records (probability, prediction, label;
      AUC over more than 1,000 distinct scores, so binned as Spark bins), then the monitoring
      job on as many merged records (the ground-truth merge job's layout) against it
Results: a table on stdout and JSON (--json). Peers that are not installed are reported as such.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOUSING = ROOT / "sample" / "housing.csv"
HOUSING_TARGET = 5.0  # ours/duckdb on the small sample
CATEGORIES = [["a", "b", "c"], ["north", "south", "east", "west"], ["x1", "x2", "x3", "x4", "x5"],
              ["red", "green", "blue", "amber", "cyan", "pink"], [f"k{i}" for i in range(8)]]


def make_csv(path: Path, rows: int, seed: int = 42) -> Path:
    """Write the W1 dataset in chunks (bounded memory)."""
    import numpy as np
    import pandas as pd

    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    chunk = 250_000
    with open(tmp, "w") as fh:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = {}
            for i in range(10):
                cols[f"f{i}"] = rng.normal(i * 10, 1 + i, n).round(4)
            for i in range(5):
                cols[f"i{i}"] = rng.integers(0, 10 ** (i + 1), n)
            for i, cats in enumerate(CATEGORIES):
                cols[f"s{i}"] = rng.choice(cats, n)
            frame = pd.DataFrame(cols)
            for name in ("f0", "i0", "s0"):
                frame[name] = frame[name].astype(object)
                frame.loc[rng.random(n) < 0.01, name] = None
            frame.to_csv(fh, index=False, header=start == 0)
    tmp.rename(path)
    return path


def make_model_quality(root: Path, records: int, seed: int = 7) -> tuple[Path, Path]:
    """A labelled binary CSV (baseline) and as many merged records of a weaker model (monitoring)."""
    import numpy as np

    base, merged = root / "baseline.csv", root / "merged" / "ep" / "AllTraffic" / "2024" / "01" / "01" / "00"
    if base.exists() and merged.exists():
        return base, root / "merged"
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)

    def scored(skill: float):
        y = (rng.random(records) < 0.3).astype(int)
        p = np.round(1 / (1 + np.exp(-(rng.normal(size=records) + skill * (2 * y - 1)))), 6)
        return y, p

    y, p = scored(1.5)
    with open(base, "w") as fh:
        fh.write("probability,prediction,label\n")
        fh.writelines(f"{a},{int(a >= 0.5)},{b}\n" for a, b in zip(p.tolist(), y.tolist()))
    y, p = scored(0.5)
    merged.mkdir(parents=True, exist_ok=True)
    with open(merged / "part-00000-bench.c000.jsonl", "w") as fh:
        for i, (a, b) in enumerate(zip(p.tolist(), y.tolist())):
            fh.write(json.dumps({
                "eventVersion": "0", "groundTruthData": {"data": str(b), "encoding": "CSV"},
                "captureData": {"endpointOutput": {"data": str(a), "encoding": "CSV", "mode": "OUTPUT",
                                                   "observedContentType": "text/csv"}},
                "eventMetadata": {"eventId": f"e{i}", "inferenceId": f"i{i}", "inferenceTime": "2024-01-01T00:30:00Z"},
            }, separators=(",", ":")) + "\n")
    return base, root / "merged"


def make_capture(root: Path, source_csv: Path, records: int, hours: int = 24) -> Path:
    """`records` capture lines with CSV payloads (first column the output), spread over 24 hourly files."""
    if root.exists():
        return root
    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    per_hour = -(-records // hours)
    with open(source_csv) as src:
        src.readline()
        written = 0
        for h in range(hours):
            hour = start + timedelta(hours=h)
            folder = tmp / "ep" / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
            folder.mkdir(parents=True)
            with open(folder / "00-00-000-bench.jsonl", "w") as out:
                for j in range(min(per_hour, records - written)):
                    line = src.readline().rstrip("\n")
                    if not line:
                        src.seek(0)
                        src.readline()
                        line = src.readline().rstrip("\n")
                    first, rest = line.split(",", 1)
                    when = (hour + timedelta(seconds=j * 3600 / per_hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
                    out.write(json.dumps({
                        "captureData": {
                            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": rest, "encoding": "CSV"},
                            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": first, "encoding": "CSV"},
                        },
                        "eventMetadata": {"eventId": f"e{written}", "inferenceTime": when},
                        "eventVersion": "0",
                    }) + "\n")
                    written += 1
    tmp.rename(root)
    return root


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, summed over the process tree) of one command."""
    import psutil

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            procs = [root] + root.children(recursive=True)
            rss = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.02)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])}... exited {proc.returncode}: {err[-1500:]}")
    return wall, peak / 1e6


def median_of(runs: int, cmd: list[str], env: dict | None = None) -> dict:
    return summary([measure(cmd, env) for _ in range(runs)])


def summary(results: list[tuple[float, float]]) -> dict:
    return {"wall_s": statistics.median(r[0] for r in results), "peak_rss_mb": max(r[1] for r in results),
            "walls": [round(r[0], 2) for r in results]}


OURS_PYTHON = sys.executable


def runtime_python(work: Path) -> str:
    """A virtual environment with the project as a user installs it (run-time dependencies
    only: no pandas, which pyarrow imports whenever it is importable), made once per workdir."""
    venv = work / "venv-runtime"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(ROOT)], check=True)
    return str(python)


def ours_baseline(csv: Path, out: Path) -> list[str]:
    return [OURS_PYTHON, "-m", "container.cli", "baseline", str(csv), "--output", str(out)]


DUCKDB = "import duckdb,sys; duckdb.sql(\"SUMMARIZE SELECT * FROM read_csv('\" + sys.argv[1] + \"')\").fetchall()"
WHYLOGS = "import sys, pandas as pd, whylogs as why; why.log(pd.read_csv(sys.argv[1])).view().to_pandas()"


def peer_python(name: str, args) -> str | None:
    """A Python that has the peer installed: ours, or the peer's own virtual environment."""
    module = {"duckdb": "duckdb", "whylogs": "whylogs"}[name]
    for python in ([getattr(args, f"{name}_python")] if getattr(args, f"{name}_python") else []) + [sys.executable]:
        if python and subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0:
            return python
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2_000_000, help="W1 rows")
    parser.add_argument("--scale", type=int, nargs="*", default=[500_000, 2_000_000, 8_000_000], help="W2 row counts")
    parser.add_argument("--records", type=int, default=500_000, help="W3 capture records")
    parser.add_argument("--mq-records", type=int, default=1_000_000, help="MQ records (baseline, and merged records)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench-out")
    parser.add_argument("--json", type=Path, default=None, help="write results here (default workdir/results.json)")
    parser.add_argument("--duckdb-python", help="Python with duckdb (default: this one)")
    parser.add_argument("--whylogs-python", help="Python with whylogs, e.g. a separate venv")
    parser.add_argument("--skip", nargs="*", default=[], choices=["W1", "W2", "W3", "MQ", "housing", "duckdb", "whylogs"])
    parser.add_argument("--ours-python", help="Python with the project installed (default: a run-time-only venv in the workdir)")
    args = parser.parse_args(argv)
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    global OURS_PYTHON
    OURS_PYTHON = args.ours_python or runtime_python(work)
    # Our code runs from this checkout (PYTHONPATH); its bytecode is written once here, as pip
    # does at install time, so that no run pays for compiling it (PYTHONDONTWRITEBYTECODE=1
    # would otherwise make every run compile every module).
    subprocess.run([OURS_PYTHON, "-m", "compileall", "-q", str(ROOT / "analyzer"), str(ROOT / "container")], check=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "memory_gb": round(_memory_bytes() / 2**30, 1)},
        "runs": args.runs,
    }
    # W1's file and baseline serve W1 and W3 (an only-housing run makes neither).
    need_w1 = "W1" not in args.skip or "W3" not in args.skip
    w1_csv = make_csv(work / f"w1-{args.rows}.csv", args.rows) if need_w1 else None
    w1_out = work / "w1-baseline"
    if "W1" not in args.skip:
        w1 = {"rows": args.rows, "csv_mb": round(w1_csv.stat().st_size / 1e6, 1)}
        w1["ours"] = median_of(args.runs, ours_baseline(w1_csv, w1_out), env)
        for peer, code in (("duckdb", DUCKDB), ("whylogs", WHYLOGS)):
            python = None if peer in args.skip else peer_python(peer, args)
            if python is None:
                w1[peer] = {"error": "not installed" if peer not in args.skip else "skipped"}
                continue
            w1[peer] = median_of(args.runs, [python, "-c", code, str(w1_csv)])
            w1[f"ours_over_{peer}"] = round(w1["ours"]["wall_s"] / w1[peer]["wall_s"], 2)
        results["W1"] = w1
    elif need_w1 and not (w1_out / "statistics.json").exists():
        measure(ours_baseline(w1_csv, w1_out), env)
    if "W2" not in args.skip:
        w2 = []
        for rows in args.scale:
            csv = make_csv(work / f"w1-{rows}.csv", rows)
            r = median_of(args.runs, ours_baseline(csv, work / f"w2-{rows}"), env)
            r.update(rows=rows, us_per_row=round(r["wall_s"] / rows * 1e6, 3))
            w2.append(r)
        results["W2"] = w2
    if "W3" not in args.skip:
        capture = make_capture(work / f"w3-capture-{args.records}", w1_csv, args.records)
        cmd = [OURS_PYTHON, "-m", "container.cli", "monitor", str(capture), "--format", "capture",
               "--statistics", str(w1_out / "statistics.json"), "--constraints", str(w1_out / "constraints.json"),
               "--output", str(work / "w3-report")]
        # Against the baseline of a CSV of as many rows (start-up costs weigh the same on both),
        # run in alternation with it: a pair shares the machine's state of the moment, and the
        # ratio is the median of the pairs' ratios.
        same_csv = make_csv(work / f"w1-{args.records}.csv", args.records)
        same_cmd = ours_baseline(same_csv, work / "w3-same-size-baseline")
        pairs = [(measure(same_cmd, env), measure(cmd, env)) for _ in range(args.runs)]
        w3 = summary([w for _, w in pairs])
        w3.update(records=args.records, us_per_record=round(w3["wall_s"] / args.records * 1e6, 3),
                  same_size_baseline=summary([b for b, _ in pairs]),
                  over_same_size_baseline=round(statistics.median(w[0] / b[0] for b, w in pairs), 2))
        if "W1" in results:
            base_per_row = results["W1"]["ours"]["wall_s"] / args.rows * 1e6
            w3["over_baseline_per_row"] = round(w3["us_per_record"] / base_per_row, 2)
        results["W3"] = w3
    if "MQ" not in args.skip:
        results["MQ"] = bench_model_quality(args, env)
    if "housing" not in args.skip:
        results["housing"] = bench_housing(args, env)
    print(render(results))
    target = args.json or work / "results.json"
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten: {target}")
    return 0


def bench_model_quality(args, env: dict) -> dict:
    """The model-quality baseline, then monitoring of as many merged records against it."""
    base, merged = make_model_quality(args.workdir / f"mq-{args.mq_records}", args.mq_records)
    mq = ["--problem-type", "BinaryClassification"]
    out = args.workdir / "mq-baseline"
    baseline = [OURS_PYTHON, "-m", "container.cli", "baseline", str(base), "--output", str(out), *mq,
                "--inference-attribute", "prediction", "--probability-attribute", "probability", "--ground-truth-attribute", "label"]
    monitor = [OURS_PYTHON, "-m", "container.cli", "monitor", str(merged), "--format", "merged", *mq,
               "--probability-attribute", "0", "--constraints", str(out / "constraints.json"),
               "--output", str(args.workdir / "mq-report")]
    result = {"records": args.mq_records, "baseline": median_of(args.runs, baseline, env)}
    result["monitoring"] = median_of(args.runs, monitor, env)
    return result


def bench_housing(args, env: dict) -> dict:
    """The bundled sample by us and by DuckDB SUMMARIZE, whole processes like the others."""
    with open(HOUSING, "rb") as fh:
        rows = sum(1 for _ in fh) - 1  # the header
    h = {"rows": rows, "csv_kb": round(HOUSING.stat().st_size / 1e3, 1), "target_ours_over_duckdb": HOUSING_TARGET}
    h["ours"] = median_of(args.runs, ours_baseline(HOUSING, args.workdir / "housing-baseline"), env)
    python = None if "duckdb" in args.skip else peer_python("duckdb", args)
    if python is None:
        h["duckdb"] = {"error": "not installed" if "duckdb" not in args.skip else "skipped"}
    else:
        h["duckdb"] = median_of(args.runs, [python, "-c", DUCKDB, str(HOUSING)])
        h["ours_over_duckdb"] = round(h["ours"]["wall_s"] / h["duckdb"]["wall_s"], 2)
    return h


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def render(r: dict) -> str:
    m = r["machine"]
    lines = [f"machine: {m['cpus']} cpus, {m['memory_gb']} GB, {m['platform']}, Python {m['python']}; median of {r['runs']} runs", ""]
    lines.append("| workload | tool | wall (s) | peak RSS (MB) | note |")
    lines.append("|---|---|---:|---:|---|")
    if "W1" in r:
        w1 = r["W1"]
        for tool in ("ours", "duckdb", "whylogs"):
            x = w1[tool]
            if "error" in x:
                lines.append(f"| W1 {w1['rows']:,} rows ({w1['csv_mb']} MB) | {tool} | - | - | {x['error']} |")
                continue
            note = ", ".join(f"ours/{p} = {w1[f'ours_over_{p}']}x" for p in ("duckdb", "whylogs") if tool == "ours" and f"ours_over_{p}" in w1)
            lines.append(f"| W1 {w1['rows']:,} rows ({w1['csv_mb']} MB) | {tool} | {x['wall_s']:.2f} | {x['peak_rss_mb']:.0f} | {note} |")
    for x in r.get("W2", []):
        lines.append(f"| W2 {x['rows']:,} rows | ours | {x['wall_s']:.2f} | {x['peak_rss_mb']:.0f} | {x['us_per_row']} us/row |")
    if "W3" in r:
        x = r["W3"]
        note = f"{x['us_per_record']} us/record" + (f", {x['over_baseline_per_row']}x W1 baseline per row" if "over_baseline_per_row" in x else "")
        if "over_same_size_baseline" in x:
            note += (f", {x['over_same_size_baseline']}x the baseline of as many rows (median of"
                     f" {len(x['walls'])} alternating pairs)")
        lines.append(f"| W3 {x['records']:,} captured records | ours (monitoring) | {x['wall_s']:.2f} | {x['peak_rss_mb']:.0f} | {note} |")
    if "MQ" in r:
        x = r["MQ"]
        for job, label in (("baseline", "ours (model-quality baseline)"), ("monitoring", "ours (model-quality monitoring)")):
            y = x[job]
            what = "labelled records" if job == "baseline" else "merged records"
            lines.append(f"| MQ {x['records']:,} {what} | {label} | {y['wall_s']:.2f} | {y['peak_rss_mb']:.0f} | "
                         f"{round(y['wall_s'] / x['records'] * 1e6, 3)} us/record |")
    if "housing" in r:
        h = r["housing"]
        label = f"housing {h['rows']:,} rows ({h['csv_kb']} kB)"
        for tool in ("ours", "duckdb"):
            x = h[tool]
            if "error" in x:
                lines.append(f"| {label} | {tool} | - | - | {x['error']} |")
                continue
            note = ""
            if tool == "ours" and "ours_over_duckdb" in h:
                ratio = h["ours_over_duckdb"]
                verdict = "within" if ratio <= h["target_ours_over_duckdb"] else "over"
                note = f"ours/duckdb = {ratio}x ({verdict} the {h['target_ours_over_duckdb']:g}x target)"
            lines.append(f"| {label} | {tool} | {x['wall_s']:.2f} | {x['peak_rss_mb']:.0f} | {note} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
