"""Report files: staged under temporary names, renamed into place only when all are complete."""
from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

from analyzer.errors import InputError


def check_writable(output_path: str) -> Path:
    path = Path(output_path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".mmon-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise InputError("OUTPUT_NOT_WRITABLE", path=output_path, reason=exc.strerror or str(exc)) from None
    return path


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


class ReportWriter:
    """Stage every report, then commit them together; discard removes whatever was staged."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._staged: list[tuple[Path, Path]] = []
        self._lock = threading.Lock()
        self.committed = False

    def stage(self, name: str, doc: dict) -> None:
        final = self.directory / name
        tmp = self.directory / f".{name}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(dumps(doc), encoding="utf-8")
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise InputError("OUTPUT_NOT_WRITABLE", path=str(self.directory), reason=exc.strerror or str(exc)) from None
        self._staged.append((tmp, final))

    def commit(self) -> list[Path]:
        with self._lock:
            done = []
            for tmp, final in self._staged:
                os.replace(tmp, final)
                done.append(final)
            self._staged = []
            self.committed = True
            return done

    def discard(self) -> None:
        with self._lock:
            for tmp, _ in self._staged:
                tmp.unlink(missing_ok=True)
            self._staged = []

    def discard_unless_committed(self) -> bool:
        """Remove staged files unless the commit already happened; True if discarded."""
        with self._lock:
            if self.committed:
                return False
            for tmp, _ in self._staged:
                tmp.unlink(missing_ok=True)
            self._staged = []
            return True
