"""S3 locations outside SageMaker: datasets streamed by the readers, baselines and scripts
fetched before the job, outputs uploaded after it.

Inside SageMaker the platform copies S3 to local paths; elsewhere (docker run, cron, Airflow,
Kubernetes) any of ``dataset_source``, ``baseline_statistics``, ``baseline_constraints``,
``output_path`` and the script paths may be ``s3://bucket/prefix``. boto3's standard credential
chain applies, and ``AWS_ENDPOINT_URL`` points it at an S3-compatible store.
"""
from __future__ import annotations

import dataclasses
import io
import logging
import os
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


_READ_CLIENTS: dict = {}
_S3_SETTINGS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ACCESS_KEY_ID")


def _read_client():
    """One client for a job's listings and reads (boto3 clients are thread-safe), not one per
    object; a new one when the S3 settings in the environment change."""
    key = tuple(os.environ.get(name) for name in _S3_SETTINGS)
    client = _READ_CLIENTS.get(key)
    if client is None:
        client = _READ_CLIENTS[key] = _client()
    return client


def list_objects(uri: str, skip: Callable[[str], bool] = lambda rel: False) -> dict[str, int] | None:
    """The objects a dataset URI names, as ``{s3 URI: size}`` sorted by path parts (as local
    files are): the object itself when the URI names one, else every object under the URI taken
    as a folder (``prefix/``), listed page by page; folder markers (keys ending with ``/``) and
    those whose path relative to the folder ``skip`` rejects are left out. None when nothing
    exists at the URI (neither an object nor a folder)."""
    bucket, key = _split(uri)
    folder = key if not key or key.endswith("/") else key + "/"
    client = _read_client()
    found: dict[str, int] = {}
    listed = 0
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder):
            for obj in page.get("Contents", []):
                listed += 1
                rel = obj["Key"][len(folder):]
                if rel and not rel.endswith("/") and not skip(rel):
                    found[f"s3://{bucket}/{obj['Key']}"] = int(obj["Size"])
    except Exception as exc:
        raise _error(exc, uri, "listing") from None
    if not listed and folder != key:  # not a folder: perhaps one object
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                return None
            raise _error(exc, uri, "listing") from None
        return {f"s3://{bucket}/{key}": int(head["ContentLength"])}
    if not listed:
        return None
    return dict(sorted(found.items(), key=lambda item: item[0].split("/")))


READ_RETRIES = 3
READ_BUFFER = 1 << 20


class _ObjectReader(io.RawIOBase):
    """One object's bytes, streamed from a GET (nothing is written to disk). A connection that
    breaks mid-stream is resumed where it stopped (a ranged GET of the same ETag), up to
    ``READ_RETRIES`` times. ``tell()`` is the number of bytes read."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri
        self._bucket, self._key = _split(uri)
        self._client = _read_client()
        self._etag: str | None = None
        self._position = 0
        self._body = None
        self._body = self._get()

    def _get(self):
        args = {"Bucket": self._bucket, "Key": self._key}
        if self._position:
            args.update(Range=f"bytes={self._position}-", IfMatch=self._etag or "*")
        try:
            response = self._client.get_object(**args)
        except Exception as exc:
            raise _error(exc, self.uri, "read") from None
        self._etag = self._etag or response.get("ETag")
        return response["Body"]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        for attempt in range(READ_RETRIES + 1):
            try:
                data = self._body.read(len(buffer))
                break
            except (BotoCoreError, HTTPError, OSError) as exc:
                if attempt == READ_RETRIES:
                    raise _error(exc, self.uri, "read") from None
                log.warning("Reading %s broke off at byte %d (%s); resuming", self.uri, self._position, type(exc).__name__)
                self._body.close()
                self._body = self._get()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def readall(self) -> bytes:
        chunks = []
        while chunk := self.read(8 * READ_BUFFER):
            chunks.append(chunk)
        return b"".join(chunks)

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed and self._body is not None:
            self._body.close()
        super().close()


def open_object(uri: str) -> io.BufferedReader:
    """An object's bytes as a binary file (read-only, not seekable) streamed from S3."""
    return io.BufferedReader(_ObjectReader(uri), READ_BUFFER)


def arrow_filesystem(uri: str):
    """pyarrow's own S3 client (``pyarrow.fs.S3FileSystem``), configured as boto3 is here: the
    endpoint (``AWS_ENDPOINT_URL``), the bucket's region and boto3's current credentials. Parquet
    needs random access (the footer first, then column chunks by range); this reads those
    ranges straight from S3. Returns (filesystem, path inside it)."""
    from urllib.parse import urlsplit

    import boto3
    from pyarrow import fs as pafs

    bucket, key = _split(uri)
    client = _read_client()
    options: dict = {}
    endpoint = urlsplit(client.meta.endpoint_url or "")
    if endpoint.hostname and not endpoint.hostname.endswith(("amazonaws.com", "amazonaws.com.cn")):
        options.update(endpoint_override=endpoint.netloc, scheme=endpoint.scheme or "https")
    region = client.meta.region_name
    try:
        headers = client.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]
        region = headers.get("x-amz-bucket-region") or region
    except Exception as exc:
        raise _error(exc, uri, "read") from None
    credentials = (boto3.DEFAULT_SESSION or boto3.session.Session()).get_credentials()
    if credentials is not None:
        frozen = credentials.get_frozen_credentials()
        options.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
    else:
        options.update(anonymous=True)
    return pafs.S3FileSystem(region=region or "us-east-1", **options), f"{bucket}/{key}"


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


def upload_all(files: list[Path], uri: str, root: Path | None = None) -> list[str]:
    """Upload complete report files (keyed by their path below ``root``, else their name); if
    any upload fails, delete those already uploaded so that the destination never shows a
    partial set."""
    bucket, prefix = _split(uri)
    prefix = prefix.rstrip("/")
    client = _client()
    done: list[str] = []
    for path in files:
        name = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.name
        key = f"{prefix}/{name}" if prefix else name
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
    """Fetch the small S3 inputs (baselines, scripts; the dataset only for Spark jobs) into
    ``staging`` and return (config with local paths, S3 output URI or None)."""
    from .capture import files_in_window
    from .config import CaptureFormat

    changes = {}
    # The dataset stays on S3: the local driver's readers stream it (dataset.open_stream, Parquet
    # through pyarrow's S3 client, capture.read_lines). Spark jobs read files by path with Spark's
    # own readers, so for them the dataset is still fetched here first.
    if is_s3(config.dataset_source) and config.spark_master:
        key = _split(config.dataset_source)[1]
        folder = key if not key or key.endswith("/") else key + "/"
        capture = isinstance(config.dataset_format, CaptureFormat)

        def keep(name: str) -> bool:  # the URI's object, or the objects under it as a folder (as list_objects)
            in_window = not capture or bool(files_in_window([name], config.start_time, config.end_time))
            return (name == key or name.startswith(folder)) and in_window
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
