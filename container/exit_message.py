"""The exit message: SageMaker's exact status strings, UTF-8, at most 1 KB, one line."""
from __future__ import annotations

import os
from pathlib import Path

MAX_BYTES = 1024
COMPLETED = "Completed: Job completed successfully with no violations."


def completed(violations: int) -> str:
    if violations == 0:
        return COMPLETED
    # SageMaker writes "violations" even for one.
    return f"CompletedWithViolations: Job completed successfully with {violations} violations."


def failed(reason: str) -> str:
    return f"Failed: {reason}"


def clip(text: str, limit: int = MAX_BYTES) -> str:
    """One line of at most ``limit`` UTF-8 bytes, never cutting a character in half."""
    line = " ".join(text.split())
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    return data[: limit - 3].decode("utf-8", errors="ignore") + "..."


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(clip(text), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
