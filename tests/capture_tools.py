"""Build data-capture trees the way a SageMaker endpoint writes them."""
from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Sequence

ENDPOINT, VARIANT = "my-endpoint", "AllTraffic"


def _fmt(v) -> str:
    return "" if v is None else str(v)


def side(mode: str, values: Sequence, encoding: str, content_type: str | None = None) -> dict:
    if encoding == "CSV":
        data, ct = ",".join(_fmt(v) for v in values), content_type or "text/csv"
    elif encoding == "JSON":
        ct = content_type or "application/json"
        payload = list(values) if mode == "INPUT" else {"predictions": list(values)}
        data = json.dumps(payload)
    elif encoding == "BASE64":
        ct = content_type or "text/csv"
        data = base64.b64encode(",".join(_fmt(v) for v in values).encode()).decode()
    else:
        raise ValueError(encoding)
    return {"observedContentType": ct, "mode": mode, "data": data, "encoding": encoding}


def record(inputs: Sequence, outputs: Sequence, when: datetime, encoding: str = "CSV", **metadata) -> dict:
    return {
        "captureData": {
            "endpointInput": side("INPUT", inputs, encoding),
            "endpointOutput": side("OUTPUT", outputs, encoding),
        },
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), **metadata},
        "eventVersion": "0",
    }


def write_capture(root: Path, records: Iterable[dict], lines_per_file: int = 200) -> list[Path]:
    """Write records into {endpoint}/{variant}/yyyy/mm/dd/hh/<mm-ss-mmm>-<uuid>.jsonl by inference time."""
    by_hour: dict[datetime, list[str]] = {}
    hour = None
    for r in records:
        if isinstance(r, dict) and "inferenceTime" in r.get("eventMetadata", {}):
            when = datetime.strptime(r["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
            hour = when.replace(minute=0, second=0, tzinfo=timezone.utc)
        # a raw line (or a record without a time) lands in the hour of the record before it
        by_hour.setdefault(hour, []).append(json.dumps(r) if isinstance(r, dict) else r)
    written = []
    for hour, lines in by_hour.items():
        folder = root / ENDPOINT / VARIANT / hour.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(0, len(lines), lines_per_file):
            path = folder / f"{i // lines_per_file:02d}-00-000-{uuid.uuid4()}.jsonl"
            path.write_text("\n".join(lines[i : i + lines_per_file]) + "\n")
            written.append(path)
    return written


def times(start: datetime, count: int, span: timedelta = timedelta(hours=1)) -> list[datetime]:
    step = span / max(count, 1)
    return [start + step * i for i in range(count)]
