"""main(environ) -> exit code: the one place that writes the exit message and decides the code.

config -> dataset -> profile (this process, or Spark) -> analyzer -> staged reports -> commit -> message.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Mapping

from analyzer.errors import AlgorithmError, AnalyzerError, InputError

from . import exit_message, params, scripts, storage
from .config import CsvFormat, JobConfig, JsonFormat, ParquetFormat, Paths, merged_environment
from .jobs import Drivers, JobResult, run_baseline
from .monitoring import run_monitoring
from .outputs import ReportWriter, check_writable

log = logging.getLogger("mmon")

EXIT_FAILED = 255
EXIT_STOPPED = 143


class JobStopped(BaseException):
    """Raised in the main thread by the SIGTERM handler (how SageMaker stops a job)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signal_name = signal.Signals(signum).name


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure_logging(env: Mapping[str, str]) -> None:
    level = env.get(params.LOG_LEVEL, "INFO").upper()
    root = logging.getLogger()
    formatter: logging.Formatter
    if env.get(params.LOG_FORMAT, "").lower() == "json":
        formatter = JsonFormatter()
        formatter.converter = time.gmtime  # type: ignore[assignment]
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler = next((h for h in root.handlers if getattr(h, "_mmon", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler._mmon = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(formatter)
    root.setLevel(level if level in logging._nameToLevel else "INFO")
    for noisy in ("py4j", "py4j.clientserver", "py4j.java_gateway"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _install_stop_handlers() -> dict:
    """SIGTERM (how SageMaker stops a job) and SIGINT raise JobStopped in the main thread.

    The job itself runs in a worker thread: the main thread only waits, so it notices a signal
    at once instead of when a long Spark call returns."""

    def handler(signum, frame):  # noqa: ARG001
        raise JobStopped(signum)

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread (e.g. an embedding application)
            pass
    return previous


def run(drivers: Drivers, config: JobConfig, writer: ReportWriter) -> JobResult:
    if config.ground_truth_source:
        from .jobs import run_merge

        return run_merge(config, writer)
    if config.model_quality is not None:
        from .model_quality import run_model_quality_baseline, run_model_quality_monitoring

        job = run_model_quality_monitoring if config.is_monitoring else run_model_quality_baseline
        return job(drivers, config, writer)
    return (run_monitoring if config.is_monitoring else run_baseline)(drivers, config, writer)


_LOCATIONS = (
    "dataset_source", "ground_truth_source", "output_path", "baseline_statistics", "baseline_constraints",
    "record_preprocessor_script", "post_analytics_processor_script",
)


class _JobState:
    def __init__(self) -> None:
        self.writer: ReportWriter | None = None
        self.message = exit_message.failed(str(AlgorithmError("INTERNAL", reason="the job did not finish")))
        self.code = EXIT_FAILED
        self.cause: BaseException | None = None  # logged with the message (a traceback for our bugs)


def _check_output_outside_dataset(config: JobConfig) -> None:
    """A data-quality job reads every (not hidden) file under a dataset folder: reports written
    inside it would be read as data by the next run (``mmon baseline data/ -o data/out``)."""
    if (config.model_quality is not None or config.ground_truth_source
            or not isinstance(config.dataset_format, (CsvFormat, JsonFormat, ParquetFormat))
            or storage.is_s3(config.dataset_source) or storage.is_s3(config.output_path)
            or not Path(config.dataset_source).is_dir()):
        return
    source, output = Path(config.dataset_source).resolve(), Path(config.output_path).resolve()
    if output != source and source not in output.parents:
        return
    if any(part.startswith((".", "_")) for part in output.relative_to(source).parts):
        return  # a hidden folder (.x, _x) is not read
    raise InputError("ENV_INVALID", name=params.OUTPUT_PATH, value=config.output_path, reason=(
        f"it is inside dataset_source {config.dataset_source}, whose files are all read as data: the next run "
        "would read these reports as records; write them outside it"))


def _run_job(environ: Mapping[str, str], paths: Paths, state: _JobState) -> None:
    started = time.monotonic()
    saved_environ = None
    staging: Path | None = None
    try:
        env = merged_environment(environ, paths)
        config = JobConfig.from_environ(env, paths)
        log.info("All params: %s", json.dumps({k: env[k] for k in sorted(env) if k in params.ANALYZER_PARAMETERS}))
        remote_output = None
        if any(storage.is_s3(getattr(config, f)) for f in _LOCATIONS):
            staging = Path(tempfile.mkdtemp(prefix="mmon-s3-"))
            config, remote_output = storage.localize(config, staging)
        _check_output_outside_dataset(config)
        inputs = (config.dataset_source, config.baseline_statistics, config.baseline_constraints)
        state.writer = ReportWriter(check_writable(config.output_path), inputs=[p for p in inputs if not storage.is_s3(p or "")])
        if config.record_preprocessor_script or config.post_analytics_processor_script:
            # As in SageMaker's container, the job's variables are visible to the user's scripts
            # (restored when the job ends, for callers that run several jobs in one process).
            saved_environ = dict(os.environ)
            os.environ.update(env)
            scripts.validate(config)
        if not storage.is_s3(config.dataset_source) and not Path(config.dataset_source).exists():
            raise InputError("DATASET_SOURCE_MISSING", source=config.dataset_source)
        drivers = Drivers(config, env)
        if config.spark_master:
            from .session import spark_settings

            spark_settings(env)  # our own knobs are checked before a JVM starts
        try:
            result = run(drivers, config, state.writer)
        except AnalyzerError:
            raise
        except Exception as exc:
            if not config.spark_master:
                raise
            raise _classify_spark_error(exc) from exc  # Spark failures while reading data surface here
        finally:
            drivers.close()
        if config.post_analytics_processor_script:
            scripts.run_postprocessor(config.post_analytics_processor_script)
        if remote_output:
            storage.upload_all(list(result.files), remote_output, Path(config.output_path))
        state.message, state.code = exit_message.completed(result.violations), 0
        log.info("Wrote %s in %.1f s", ", ".join(str(p) for p in result.files), time.monotonic() - started)
    except AnalyzerError as exc:
        if state.writer:
            state.writer.discard()
        state.message, state.code = exit_message.failed(str(exc)), exc.exit_code
        state.cause = exc.__cause__
    except BaseException as exc:  # our bug: still a one-line reason, and the traceback in the log
        # (BaseException: this is the job's worker thread; signals are the main thread's)
        if state.writer:
            state.writer.discard()
        state.message = exit_message.failed(str(AlgorithmError("INTERNAL", reason=f"{type(exc).__name__}: {exc}")))
        state.code, state.cause = EXIT_FAILED, exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if saved_environ is not None:
            os.environ.clear()
            os.environ.update(saved_environ)


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run one job; write the exit message; return the exit code (never raises)."""
    environ = dict(os.environ if environ is None else environ)
    paths = Paths.from_environ(environ)
    configure_logging(environ)
    _remove_previous_message(paths.message_file)
    state = _JobState()
    worker = threading.Thread(target=_run_job, args=(environ, paths, state), name="mmon-job", daemon=True)
    previous = _install_stop_handlers()
    try:
        worker.start()
        while worker.is_alive():
            worker.join(0.2)
    except JobStopped as stop:
        _stop(stop, paths, state, worker)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if state.code == 0:
        log.info("%s", state.message)
    else:  # each failure logged once: the message, with the full cause when there is one
        log.error("%s", exit_message.clip(state.message), exc_info=state.cause)
    return state.code if _write_message(paths.message_file, state.message) else EXIT_FAILED


def _remove_previous_message(path: Path) -> None:
    """A job starts without the previous run's message, so that a job killed before it writes
    its own does not pass for the previous (maybe successful) one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("Could not remove the previous run's message %s: %s", path, exc.strerror or exc)
        return
    log.info("Removed the previous run's message %s", path)


def _write_message(path: Path, message: str) -> bool:
    """Write the exit message; when that fails, say so (and the message) on stderr: False."""
    try:
        exit_message.write(path, message)
        return True
    except OSError as exc:
        print(f"mmon: could not write the exit message to {path} ({exc.strerror or exc}); the job's message: "
              f"{exit_message.clip(message)}", file=sys.stderr, flush=True)
        return False


def _stop(stop: JobStopped, paths: Paths, state: _JobState, worker: threading.Thread) -> None:
    """End the job now: drop staged reports, say it was stopped, exit without waiting for Spark.
    If the reports were already committed, the job is complete: let it finish its message."""
    if state.writer is not None and not state.writer.discard_unless_committed():
        worker.join(5)
        return
    message = exit_message.failed(str(InputError("STOPPED", signal=stop.signal_name)))
    log.error(message)
    written = _write_message(paths.message_file, message)
    logging.shutdown()
    os._exit(EXIT_STOPPED if written else EXIT_FAILED)


_INPUT_MARKERS = (
    "FAILED_READ_FILE", "CANNOT_READ_FILE", "Parquet", "parquet", "MALFORMED", "Malformed", "corrupt",
    "EOFException", "FileNotFoundException", "not a Parquet file", "ZipException", "gzip",
)


def _classify_spark_error(exc: Exception) -> AnalyzerError:
    text = str(exc).strip()
    first = text.splitlines()[0][:400] if text else type(exc).__name__
    if scripts.SCRIPT_ERROR_MARKER in text:
        reason = text.split(scripts.SCRIPT_ERROR_MARKER, 1)[1].strip().splitlines()[0][:400]
        return InputError("SCRIPT_FAILED", which=scripts.PREPROCESSOR, path="preprocess_handler", reason=reason)
    if any(marker in text for marker in _INPUT_MARKERS):
        return InputError("DATASET_UNREADABLE", what="the dataset", reason=_read_failure(text) or first)
    return AlgorithmError("INTERNAL", reason=first)


_ERROR_CLASS = re.compile(r"\[([A-Z][A-Z_]*(?:\.[A-Z_]+)*)\]\s*(.*?)\s*(?:SQLSTATE: \w+)?\s*$")


def _read_failure(text: str) -> str | None:
    """Spark's own sentence for a failed read (``[FAILED_READ_FILE...] Encountered error while
    reading file <path>.``) and the deepest ``Caused by`` (what the file is wrong with), instead
    of py4j's "An error occurred while calling o598.collectToPython"."""
    lines = [line.strip() for line in text.splitlines()]
    sentence = next((m.group(2) for m in map(_ERROR_CLASS.search, lines) if m and m.group(2)), None)
    causes = [line[len("Caused by: "):] for line in lines if line.startswith("Caused by: ")]
    parts = [p for p in (sentence, causes[-1] if causes else None) if p]
    return " ".join(parts)[:400] if parts else None
