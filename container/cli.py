"""``mmon``: the same jobs as the container, from a laptop or a scheduler.

    mmon baseline data.csv --output out/
    mmon monitor capture/ --statistics out/statistics.json --constraints out/constraints.json --output report/
    mmon report --statistics out/statistics.json --constraints out/constraints.json --output out/report.html

Model quality: ``--problem-type`` (with the column options) makes ``baseline`` and ``monitor``
the model-quality jobs; ``mmon merge capture/ --ground-truth gt/ -o merged/`` is SageMaker's
ground-truth merge job.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import params

EXIT_VIOLATIONS = 3
EXIT_FAILED = 255  # as a failed job


def _format_for(path: str, args: argparse.Namespace) -> str:
    fmt = args.format
    if fmt is None:
        from .capture import looks_like_capture

        name = Path(path).name.lower().removesuffix(".gz")
        if looks_like_capture(path):  # JSON Lines of data capture, in a file or a capture tree
            fmt = "capture"
        elif Path(path).is_dir():
            fmt = "csv"
        elif name.endswith((".jsonl", ".json")):
            fmt = "json"
        elif name.endswith(".parquet"):
            fmt = "parquet"
        else:
            fmt = "csv"
    if fmt == "csv":
        return json.dumps({"csv": {"header": args.header}})
    if fmt == "json":
        return json.dumps({"json": {"lines": True}})
    if fmt == "parquet":
        return json.dumps({"parquet": {}})
    if fmt == "merged" or getattr(args, "problem_type", None):  # records of the merge job
        return json.dumps({"sagemakerMergeJson": {"captureIndexNames": ["endpointOutput"]}})
    return json.dumps({"sagemakerCaptureJson": {"captureIndexNames": args.capture_index_names}})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmon", description="SageMaker Model Monitor compatible data-quality jobs")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("data", help="dataset file or directory")
        p.add_argument("--output", "-o", required=True, help="directory for the report files")
        p.add_argument("--format", choices=["csv", "json", "parquet", "capture", "merged"],
                       help="default: capture (merged with --problem-type: the merge job's records) when the (first) "
                            "file starts with a data-capture line, else from the file name")
        p.add_argument("--no-header", dest="header", action="store_false", help="CSV without a header row")
        p.add_argument("--spark-master", help="run the job on Spark at this master URL, e.g. local[*] (default: in this process)")

    base = sub.add_parser("baseline", help="profile a dataset into statistics.json and constraints.json")
    common(base)
    base.add_argument("--categorical-drift-method", choices=["LInfinity", "ChiSquared"])
    base.add_argument("--comparison-method", choices=["Simple", "Robust", "Calibrated"],
                      help="drift method written into the suggested constraints (default Robust, SageMaker's)")

    def model_quality(p: argparse.ArgumentParser, baseline: bool) -> None:
        g = p.add_argument_group("model quality (SageMaker's ModelQualityMonitor)")
        g.add_argument("--problem-type", choices=["BinaryClassification", "MulticlassClassification", "Regression"],
                       help="run the model-quality job instead of data quality")
        where = "column name" if baseline else "index of the field in the endpoint output (0: the first), or key of a JSON output"
        g.add_argument("--inference-attribute", metavar="NAME", help=f"the model's prediction: {where}")
        g.add_argument("--probability-attribute", metavar="NAME", help=f"binary: the positive class's probability: {where}")
        g.add_argument("--probability-threshold", metavar="P", help="binary: probability >= P is the positive label (default 0.5)")
        g.add_argument("--ground-truth-attribute", metavar="NAME",
                       help="the label column" if baseline else "the label's key when ground truth is a JSON object")
        g.add_argument("--positive-label", metavar="LABEL", help="binary: the positive class (default 1)")

    model_quality(base, baseline=True)
    mon = sub.add_parser("monitor", help="check data against a baseline: constraint_violations.json")
    common(mon)
    model_quality(mon, baseline=False)
    mon.add_argument("--statistics", help="baseline statistics.json (data quality: required)")
    mon.add_argument("--constraints", required=True, help="baseline constraints.json")
    merge = sub.add_parser("merge", help="join captured data with ground truth (SageMaker's ground-truth merge job)")
    merge.add_argument("data", help="data-capture folder ({endpoint}/{variant}/yyyy/mm/dd/hh/*.jsonl)")
    merge.add_argument("--ground-truth", required=True, help="ground-truth folder (yyyy/mm/dd/hh/*.jsonl; every file is read)")
    merge.add_argument("--output", "-o", required=True, help="folder for the merged records")
    for p in (mon, merge):
        p.add_argument("--start-time", metavar="TIME",
                       help="analyse captured records with inferenceTime at or after TIME: ISO-8601, e.g. "
                            "2024-03-05T11:00:00Z (no offset = UTC)")
        p.add_argument("--end-time", metavar="TIME",
                       help="... and before TIME (ISO-8601, e.g. 2024-03-05T12:00:00Z); see also --window")
        p.add_argument(
            "--window", choices=sorted(WINDOWS),
            help="set start/end like a schedule: the last whole hour (or day) before now, in UTC",
        )
    mon.add_argument("--capture-index-names", nargs="+", default=["endpointInput", "endpointOutput"])
    mon.add_argument("--fail-on-violations", action="store_true", help=f"exit {EXIT_VIOLATIONS} when violations are found")
    rep = sub.add_parser("report", help="render report.html from existing JSON reports (ours or SageMaker's; "
                                        "data or model quality, told by the statistics)")
    rep.add_argument("--statistics", required=True, help="statistics.json (of the baseline, or of the monitored data; "
                                                         "with *_metrics instead of features: the model-quality page)")
    rep.add_argument("--constraints", help="constraints.json")
    rep.add_argument("--baseline-statistics", help="the baseline's statistics.json, to compare against")
    rep.add_argument("--violations", help="constraint_violations.json: makes it a monitoring report")
    rep.add_argument("--output", "-o", required=True, help="the HTML file to write")
    rep.add_argument("--title", help="the page title")
    for p in (base, mon, merge):
        p.add_argument("--log-json", action="store_true", help="log one JSON object per line (for log collectors)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mmon-analyzer")
    except PackageNotFoundError:  # run from a checkout without installing
        return "unknown"


WINDOWS = {"last-hour": timedelta(hours=1), "last-day": timedelta(days=1)}


def window(name: str, now: datetime | None = None) -> tuple[str, str]:
    """The window an hourly (daily) schedule running now would analyse.

    Examples
    --------
    >>> window("last-hour", datetime(2024, 3, 5, 11, 20, tzinfo=timezone.utc))
    ('2024-03-05T10:00:00Z', '2024-03-05T11:00:00Z')
    """
    now = now or datetime.now(timezone.utc)
    size = WINDOWS[name]
    end = now.replace(minute=0, second=0, microsecond=0)
    if size >= timedelta(days=1):
        end = end.replace(hour=0)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (end - size).strftime(fmt), end.strftime(fmt)


class ReportInputError(Exception):
    pass


def _read_json(path: str | None, which: str) -> dict | None:
    if path is None:
        return None
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"cannot read {which} file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except ValueError as exc:
        raise ReportInputError(f"{which} file {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ReportInputError(f"{which} file {path} is not valid JSON: arrays or objects nested too deeply") from None
    if not isinstance(doc, dict):
        raise ReportInputError(f"{which} file {path} is not a JSON object")
    return doc


def report(args: argparse.Namespace) -> int:
    """``mmon report``: the job's report.html, rendered from files already written: the
    model-quality page when the statistics hold a model-quality metrics section, else the
    data-quality page."""
    from analyzer.report import model_quality_section, render_html, render_model_quality_html

    try:
        statistics = _read_json(args.statistics, "statistics")
        if not isinstance(statistics.get("features", []), list):
            raise ReportInputError(f"statistics file {args.statistics} has no list of features")
        documents = {"constraints": _read_json(args.constraints, "constraints"),
                     "baseline_statistics": _read_json(args.baseline_statistics, "baseline statistics"),
                     "violations": _read_json(args.violations, "violations")}
    except ReportInputError as exc:
        print(f"mmon report: {exc}", file=sys.stderr)
        return EXIT_FAILED
    monitoring = documents["violations"] is not None or documents["baseline_statistics"] is not None
    if model_quality_section(statistics) is not None:
        title = args.title or ("Model quality monitoring report" if monitoring else "Model quality baseline report")
        page = render_model_quality_html(statistics, **documents, title=title)
    else:
        title = args.title or ("Monitoring report" if monitoring else "Baseline report")
        page = render_html(statistics, **documents, title=title)
    output = Path(args.output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        print(f"mmon report: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Wrote {output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "report":
        return report(args)
    from .entrypoint import main as job_main

    env = {k: v for k, v in os.environ.items() if k not in params.ANALYZER_PARAMETERS}
    env.update({params.DATASET_SOURCE: os.path.abspath(args.data), params.OUTPUT_PATH: os.path.abspath(args.output)})
    if args.command == "merge":
        env[params.GROUND_TRUTH_SOURCE] = os.path.abspath(args.ground_truth)
    else:
        env[params.DATASET_FORMAT] = _format_for(args.data, args)
    if getattr(args, "problem_type", None):
        env[params.ANALYSIS_TYPE] = "MODEL_QUALITY"
        for name, value in ((params.PROBLEM_TYPE, args.problem_type), (params.INFERENCE_ATTRIBUTE, args.inference_attribute),
                            (params.PROBABILITY_ATTRIBUTE, args.probability_attribute),
                            (params.PROBABILITY_THRESHOLD_ATTRIBUTE, args.probability_threshold),
                            (params.GROUND_TRUTH_ATTRIBUTE, args.ground_truth_attribute),
                            (params.POSITIVE_LABEL, args.positive_label)):
            if value is not None:
                env[name] = value
    if getattr(args, "spark_master", None):
        env[params.SPARK_MASTER] = args.spark_master
    if args.log_json:
        env[params.LOG_FORMAT] = "json"
    if args.command == "baseline" and args.categorical_drift_method:
        env[params.CATEGORICAL_DRIFT_METHOD] = args.categorical_drift_method
    if args.command == "baseline" and args.comparison_method:
        env[params.COMPARISON_METHOD] = args.comparison_method
    if args.command == "monitor":
        if args.statistics is None and not args.problem_type:
            build_parser().error("monitor: --statistics is required (data quality)")
        if args.statistics:
            env[params.BASELINE_STATISTICS] = os.path.abspath(args.statistics)
        env[params.BASELINE_CONSTRAINTS] = os.path.abspath(args.constraints)
    if args.command in ("monitor", "merge"):
        if args.window:
            env[params.START_TIME], env[params.END_TIME] = window(args.window)
        if args.start_time:
            env[params.START_TIME] = args.start_time
        if args.end_time:
            env[params.END_TIME] = args.end_time
    with tempfile.TemporaryDirectory(prefix="mmon-") as base:
        env[params.BASE_DIR] = base
        code = job_main(env)
        message_file = Path(base) / params.MESSAGE_FILE
        message = message_file.read_text(encoding="utf-8") if message_file.is_file() else ""
    if message:  # else the job said on stderr why it could not write it
        print(message)
    if code == 0 and message.startswith("CompletedWithViolations") and args.command == "monitor" and args.fail_on_violations:
        return EXIT_VIOLATIONS
    return code


if __name__ == "__main__":
    sys.exit(main())
