"""S3 locations outside SageMaker: inputs fetched before the job, outputs uploaded after it.

Inside SageMaker the platform copies S3 to local paths; elsewhere (docker run, cron, Airflow,
Kubernetes) any of ``dataset_source``, ``baseline_statistics``, ``baseline_constraints``,
``output_path`` and the script paths may be ``s3://bucket/prefix``. boto3's standard credential
chain applies, and ``AWS_ENDPOINT_URL`` points it at an S3-compatible store.
"""
from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from analyzer.errors import InputError

log = logging.getLogger(__name__)
DOWNLOAD_THREADS = 8


def is_s3(uri: str | None) -> bool:
    return bool(uri) and uri.startswith("s3://")


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _client():
    import boto3

    return boto3.client("s3")


def _error(exc: Exception, uri: str, operation: str) -> InputError:
    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("NoSuchBucket",):
            return InputError("S3_BUCKET_MISSING", bucket=_split(uri)[0], uri=uri)
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403") or status == 403:
            return InputError("S3_ACCESS_DENIED", uri=uri, operation=operation)
    reason = " ".join(str(exc).split())[:300]
    return InputError("S3_ERROR", operation=operation, uri=uri, reason=reason or type(exc).__name__)


def download_tree(uri: str, dest: Path, keep: Callable[[str], bool] = lambda key: True) -> list[Path]:
    """Every object under the prefix (listed page by page) that ``keep`` accepts, fetched in
    parallel into ``dest`` with the same relative paths."""
    bucket, prefix = _split(uri)
    client = _client()
    keys: list[str] = []
    listed = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                listed += 1
                if not obj["Key"].endswith("/") and keep(obj["Key"]):
                    keys.append(obj["Key"])
    except Exception as exc:
        raise _error(exc, uri, "listing") from None
    base = prefix if prefix.endswith("/") or not prefix else prefix.rsplit("/", 1)[0] + "/"
    if prefix in keys:  # the URI names one object
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""

    def fetch(key: str) -> Path:
        target = dest / key[len(base):]
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            client.download_file(bucket, key, str(target))
        except Exception as exc:
            raise _error(exc, f"s3://{bucket}/{key}", "download") from None
        return target

    with ThreadPoolExecutor(DOWNLOAD_THREADS) as pool:
        paths = list(pool.map(fetch, keys))
    log.info("Downloaded %d of %d objects under %s", len(paths), listed, uri)
    return paths


def download_file(uri: str, dest: Path) -> Path:
    bucket, key = _split(uri)
    target = dest / Path(key).name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _client().download_file(bucket, key, str(target))
    except Exception as exc:
        raise _error(exc, uri, "download") from None
    return target


def check_bucket(uri: str) -> None:
    try:
        _client().head_bucket(Bucket=_split(uri)[0])
    except Exception as exc:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            raise InputError("S3_BUCKET_MISSING", bucket=_split(uri)[0], uri=uri) from None
        raise _error(exc, uri, "output check") from None


def _put(client, bucket: str, key: str, path: Path) -> None:
    client.upload_file(str(path), bucket, key)


def upload_all(files: list[Path], uri: str) -> list[str]:
    """Upload complete report files; if any upload fails, delete those already uploaded so that
    the destination never shows a partial set."""
    bucket, prefix = _split(uri)
    prefix = prefix.rstrip("/")
    client = _client()
    done: list[str] = []
    for path in files:
        key = f"{prefix}/{path.name}" if prefix else path.name
        try:
            _put(client, bucket, key, path)
        except Exception as exc:
            for uploaded in done:
                try:
                    client.delete_object(Bucket=bucket, Key=uploaded)
                except Exception:  # best effort: the original error is what the user needs
                    log.warning("could not remove s3://%s/%s after a failed upload", bucket, uploaded)
            raise _error(exc, f"s3://{bucket}/{key}", "upload") from None
        done.append(key)
    log.info("Uploaded %s to %s", ", ".join(p.name for p in files), uri)
    return [f"s3://{bucket}/{k}" for k in done]


def localize(config, staging: Path):
    """Fetch S3 inputs into ``staging`` and return (config with local paths, S3 output URI or None)."""
    from .capture import files_in_window
    from .config import CaptureFormat

    changes = {}
    if is_s3(config.dataset_source):
        keep = lambda key: True  # noqa: E731
        if isinstance(config.dataset_format, CaptureFormat):
            keep = lambda key: bool(files_in_window([key], config.start_time, config.end_time))  # noqa: E731
        dest = staging / "dataset"
        dest.mkdir(parents=True)
        download_tree(config.dataset_source, dest, keep)
        changes["dataset_source"] = str(dest)
    for name in ("baseline_statistics", "baseline_constraints", "record_preprocessor_script", "post_analytics_processor_script"):
        value = getattr(config, name)
        if is_s3(value):
            changes[name] = str(download_file(value, staging / name))
    remote_output = None
    if is_s3(config.output_path):
        check_bucket(config.output_path)
        remote_output = config.output_path
        changes["output_path"] = str(staging / "output")
    return dataclasses.replace(config, **changes), remote_output
