"""Report files: staged outside ``output_path``, renamed into place only when all are complete."""
from __future__ import annotations

import contextlib
import glob
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Iterable

from analyzer.errors import InputError

log = logging.getLogger(__name__)


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


REPORT_FILES = ("statistics.json", "constraints.json", "constraint_violations.json", "report.html")
STAGING = ".mmon-staging-"  # a staging folder: beside output_path (".<name>.mmon-staging-*") or inside it


def staging_folder(directory: Path) -> Path:
    """A new folder for staged reports, outside ``directory`` when a rename from there into it
    is possible (a sibling on the same mount: never uploaded with ``output_path``, even if the
    job is killed); else a hidden folder inside it (``output_path`` is a mount point, as in
    ``docker run -v``), removed on every exit path the process sees."""
    parent = directory.parent
    if parent != directory and not os.path.ismount(directory):
        try:
            if os.stat(parent).st_dev == os.stat(directory).st_dev:
                return Path(tempfile.mkdtemp(prefix=f".{directory.name}{STAGING}", dir=parent))
        except OSError:  # the parent cannot be written (or read): stage inside
            pass
    return Path(tempfile.mkdtemp(prefix=STAGING, dir=directory))


def remove_leftovers(directory: Path) -> None:
    """Staging folders and temporary files of earlier runs into ``directory`` that were killed."""
    candidates = [*directory.parent.glob(f".{glob.escape(directory.name)}{STAGING}*"), *directory.glob(f"{STAGING}*"),
                  *directory.glob(".mmon-probe-*"), *(p for name in REPORT_FILES for p in directory.glob(f".{name}.*.tmp"))]
    for path in candidates:
        log.info("Removing %s, left by an earlier run that did not finish", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                path.unlink()


class ReportWriter:
    """Stage every report outside ``output_path``, then move them in together; ``discard``
    removes whatever was staged and, unless this run's reports are in place, the reports a
    previous run left in ``output_path`` (never a file that is one of the job's inputs)."""

    def __init__(self, directory: Path, inputs: Iterable[str | Path] = ()) -> None:
        self.directory = directory
        self._inputs = [Path(p).resolve() for p in inputs if p]
        self._staging: Path | None = None
        self._staged: list[tuple[Path, Path]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.committed = False
        remove_leftovers(directory)

    def stage(self, name: str, doc: dict) -> None:
        self.stage_text(name, dumps(doc))

    def stage_text(self, name: str, text: str) -> None:
        self._stage([name], lambda tmp, _: tmp.write_text(text, encoding="utf-8"))

    def stage_tree(self, folder: Path, names: Iterable[str]) -> None:
        """Files already written under ``folder`` (``names``: paths relative to it, in
        subfolders too), moved into the staging folder to go to the same paths under
        ``directory`` at the commit (renames when ``folder`` is on its file system)."""
        self._stage(names, lambda tmp, name: shutil.move(folder / name, tmp))

    def _stage(self, names: Iterable[str], put) -> None:
        """``put(staged path, name)`` for each name; a failure discards everything staged."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job is ending: no more reports are staged")
            try:
                if self._staging is None:
                    self._staging = staging_folder(self.directory)
                for name in names:
                    tmp = self._staging / name
                    tmp.parent.mkdir(parents=True, exist_ok=True)
                    put(tmp, name)
                    self._staged.append((tmp, self.directory / name))
            except OSError as exc:
                self._discard()
                raise InputError("OUTPUT_NOT_WRITABLE", path=str(self.directory), reason=exc.strerror or str(exc)) from None

    def remove_previous(self, name: str) -> None:
        """A report of a previous run that this run will not write (report.html, turned off):
        removed so that it cannot pass for this run's."""
        path = self.directory / name
        if path.is_file() and not self._is_input(path):
            with contextlib.suppress(OSError):
                path.unlink()
                log.info("Removed %s of a previous run: this run does not write it", path)

    def commit(self) -> list[Path]:
        with self._lock:
            done = []
            try:
                for tmp, final in self._staged:
                    final.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, final)
                    done.append(final)
            except OSError as exc:
                raise InputError("OUTPUT_NOT_WRITABLE", path=str(self.directory), reason=exc.strerror or str(exc)) from None
            self._staged = []
            self.committed = True
            self._remove_staging()
            return done

    def discard(self) -> None:
        with self._lock:
            self._discard()

    def discard_unless_committed(self) -> bool:
        """Remove staged files (and a previous run's reports) unless the commit already
        happened; True if discarded. No report is staged after this."""
        with self._lock:
            self._closed = True
            if self.committed:
                return False
            self._discard()
            return True

    def _discard(self) -> None:
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged = []
        self._remove_staging()
        if not self.committed:
            self._remove_previous_reports()

    def _remove_staging(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def _remove_previous_reports(self) -> None:
        for name in REPORT_FILES:
            path = self.directory / name
            if not path.is_file() or self._is_input(path):
                continue
            try:
                path.unlink()
                log.info("Removed %s of a previous run: this run wrote no report", path)
            except OSError as exc:
                log.warning("Could not remove %s of a previous run: %s", path, exc.strerror or exc)

    def _is_input(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == p or p in resolved.parents for p in self._inputs)
