"""CloudWatch metric records, in the schema of SageMaker's BYOC contract (PutMetricData-like),
one JSON object per line in ``<cloudwatch dir>/cloudwatch_metrics.jsonl``."""
from __future__ import annotations

import json
import math
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping

from analyzer.model import Statistics

FILE_NAME = "cloudwatch_metrics.jsonl"


def metric_time(config) -> datetime:
    """The metrics' timestamp: ``metric_time``, else the window's start, else now."""
    return config.metric_time or config.start_time or datetime.now(timezone.utc)


def record_maker(when: datetime, endpoint: str | None, schedule: str | None) -> Callable[..., dict]:
    """``record(name, Value=... | StatisticValues=..., ...)``: one metric record with the job's
    timestamp and dimensions (``Endpoint`` and ``MonitoringSchedule`` when known)."""
    dimensions = []
    if endpoint:
        dimensions.append({"Name": "Endpoint", "Value": endpoint})
    if schedule:
        dimensions.append({"Name": "MonitoringSchedule", "Value": schedule})
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def record(name: str, **value) -> dict:
        return {"MetricName": name, "Timestamp": stamp, "Dimensions": dimensions, **value}

    return record


def cloudwatch_records(
    stats: Statistics, drift: Mapping[str, float], when: datetime, endpoint: str | None, schedule: str | None
) -> list[dict]:
    record = record_maker(when, endpoint, schedule)
    out = []
    for f in stats.features:
        num = f.numerical
        # CloudWatch takes finite numbers only: a sum past the range of a double is not sent.
        if num is not None and num.common.num_present and all(map(math.isfinite, (num.sum, num.min, num.max))):
            out.append(record(f"feature_data_{f.name}", StatisticValues={
                "SampleCount": float(num.common.num_present), "Sum": float(num.sum),
                "Minimum": float(num.min), "Maximum": float(num.max),
            }))
        completeness = f.common.num_present / stats.item_count if stats.item_count else 0.0
        out.append(record(f"feature_non_null_{f.name}", Value=completeness, Unit="None"))
        if f.name in drift and drift[f.name] == drift[f.name]:  # skip NaN
            out.append(record(f"feature_baseline_drift_{f.name}", Value=float(drift[f.name]), Unit="None"))
    return out


def write_metrics(directory: Path, records: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / FILE_NAME
    tmp = directory / f".{FILE_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text("".join(json.dumps(r, allow_nan=False) + "\n" for r in records), encoding="utf-8")
        os.replace(tmp, final)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    return final


ENDPOINT_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
BATCH_NAMESPACE = "aws/sagemaker/ModelMonitoring/data-metrics"
_CHUNK = 500


def put_metric_data(records: list[dict], namespace: str) -> int:
    """Send the same records with CloudWatch's PutMetricData (outside SageMaker, where no
    platform picks the metric file up). Returns the number of metrics sent."""
    import boto3

    from analyzer.errors import InputError

    data = []
    for r in records:
        item = {k: v for k, v in r.items() if k != "Timestamp"}
        item["Timestamp"] = datetime.strptime(r["Timestamp"], "%Y-%m-%dT%H:%M:%SZ")
        data.append(item)
    try:
        client = boto3.client("cloudwatch")
        for i in range(0, len(data), _CHUNK):
            client.put_metric_data(Namespace=namespace, MetricData=data[i : i + _CHUNK])
    except Exception as exc:
        raise InputError("CLOUDWATCH_FAILED", namespace=namespace, reason=" ".join(str(exc).split())[:300]) from None
    return len(data)


def publish(records: list[dict], config, endpoint_namespace: str, batch_namespace: str) -> None:
    """Write the job's metric records where SageMaker picks them up (``CLOUDWATCH_METRICS_DIRECTORY``)
    and, with ``MMON_CLOUDWATCH_PUT_METRIC_DATA=Enabled``, send them with PutMetricData."""
    import logging

    from analyzer.errors import InputError

    try:
        write_metrics(Path(config.cloudwatch_dir), records)
    except OSError as exc:
        raise InputError("OUTPUT_NOT_WRITABLE", path=config.cloudwatch_dir, reason=exc.strerror or str(exc)) from None
    if config.put_metric_data:
        namespace = config.cloudwatch_namespace or (endpoint_namespace if config.endpoint_name else batch_namespace)
        sent = put_metric_data(records, namespace)
        logging.getLogger(__name__).info("Sent %d metrics to CloudWatch namespace %s", sent, namespace)
