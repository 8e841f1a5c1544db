"""The ground-truth merge: capture records joined with the labels users upload, written as
SageMaker's merge job (the model-quality schedule's first job, image
``sagemaker-model-monitor-groundtruth-merger``) writes them for the analysis job
(``sagemakerMergeJson``).

Inputs:

- ``capture_source``: a data-capture tree ``<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl``. Its
  lines pass the capture decoder's line rules (:func:`container.capture.screen`): hour folders
  wholly outside the window are not read, ``start <= inferenceTime < end`` is kept, shadow
  traffic is skipped, malformed lines count against the bad-line budget. Payloads are copied,
  not decoded (the analysis job decodes them).
- ``ground_truth_source``: every file under it (ground truth is dated by its upload, not by
  the inference time), one label a line:
  ``{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."}, "eventVersion": "0"}``.
  A line is *bad* when it is not a JSON object, its ``groundTruthData.data`` or
  ``eventMetadata.eventId`` is not a (non-empty for the id) string, or its encoding is not CSV or
  JSON (any case; written upper-case). Bad lines are skipped within ``max_bad_fraction`` of the
  non-blank lines; past it the job fails naming the first.

Join: the capture's ``eventMetadata.inferenceId`` when it has one, else its ``eventId``, equals
the ground truth's ``eventMetadata.eventId``. Of several labels with one eventId, the last read
wins (files in path order, lines in file order); the others are duplicates. Each capture record
with a label gives one merged record; records on one side only are dropped (counted and logged).

Output, as the real endpoint records (``tests/fixtures/reference/mq_merged``): one compact JSON
object a line, keys ``eventVersion``, ``groundTruthData`` (``data``, ``encoding``),
``captureData`` (the capture's indexes and their fields sorted by name), ``eventMetadata`` (the
capture's, sorted by name). One file per capture hour folder, at the folder's path relative to
``capture_source``: ``<endpoint>/<variant>/yyyy/mm/dd/hh/part-00000-<uuid>.c000.jsonl`` (the
real job's naming), records in capture file and line order. The uuid is derived from the folder
and the file's bytes, so the same inputs give the same files, byte for byte and by name.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from analyzer.errors import InputError

from .capture import CaptureRules, CaptureSummary, Example, Origin, check_bad_lines, files_in_window, iso, read_lines, screen
from .dataset import data_file_sizes, log_streaming

log = logging.getLogger(__name__)

GROUND_TRUTH_ENCODINGS = ("CSV", "JSON")
PART_NAME = "part-00000-{id}.c000.jsonl"  # one file a folder, named as Spark names a job's parts
_NAMESPACE = uuid.UUID("6f1c2b8e-3d1a-5b7c-9e4f-0a2d8c6b4e1f")  # of the merged files' uuids
_PARTIAL = ".part-00000.jsonl.tmp"  # hidden: no reader takes it for data
_SURROGATE = re.compile("[\ud800-\udfff]")
_SNIPPET = 80


@dataclass(frozen=True)
class MergeResult:
    """Counts of a merge and the files it wrote (paths relative to the output folder)."""

    merged: int
    captures_without_ground_truth: int
    ground_truth_without_capture: int
    duplicate_ground_truth: int
    files: tuple[str, ...]


# ------------------------------------------------------------------ ground truth
class _BadLine(Exception):
    """A ground-truth line that is not a label; the message says why."""


def ground_truth_label(text: str) -> tuple[str, dict[str, str]]:
    """(eventId, ``groundTruthData`` as written into merged records) of a ground-truth line.

    Examples
    --------
    >>> ground_truth_label('{"groundTruthData": {"data": "1", "encoding": "csv"}, "eventMetadata": {"eventId": "7"}}')
    ('7', {'data': '1', 'encoding': 'CSV'})
    """
    try:
        event = json.loads(text.lstrip("\ufeff"))
    except (ValueError, RecursionError):
        raise _BadLine("not JSON") from None
    if not isinstance(event, dict):
        raise _BadLine("not a JSON object")
    truth, meta = event.get("groundTruthData"), event.get("eventMetadata")
    if not isinstance(truth, dict):
        raise _BadLine("no groundTruthData object")
    data, encoding = truth.get("data"), truth.get("encoding")
    if not isinstance(data, str):
        raise _BadLine("no groundTruthData.data" if data is None else "groundTruthData.data is not a string")
    if not isinstance(encoding, str) or encoding.upper() not in GROUND_TRUTH_ENCODINGS:
        raise _BadLine(f"groundTruthData.encoding {encoding!r} is not CSV or JSON")
    event_id = meta.get("eventId") if isinstance(meta, dict) else None
    if not isinstance(event_id, str) or not event_id:
        raise _BadLine("no eventMetadata.eventId" if event_id is None else "eventMetadata.eventId is not a non-empty string")
    return event_id, {"data": data, "encoding": encoding.upper()}


@dataclass
class GroundTruth:
    """The labels by eventId (the last read wins) and what reading them counted."""

    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    files: int = 0
    lines: int = 0
    bad_lines: int = 0
    duplicates: int = 0
    first_bad: tuple[str, int, str] | None = None  # file, line, reason


def read_ground_truth(source: str, max_bad_fraction: float) -> GroundTruth:
    """Every ground-truth file under ``source`` (recursively, in path order; compressed by
    suffix as datasets are); fails past the bad-line budget, naming the first bad line."""
    try:
        sizes = data_file_sizes(source)
    except InputError as exc:  # the listing's errors name dataset_source
        if exc.code not in ("DATASET_SOURCE_MISSING", "DATASET_NO_FILES"):
            raise
        reason = "does not exist" if exc.code == "DATASET_SOURCE_MISSING" else "holds no files"
        raise InputError("GROUND_TRUTH_EMPTY", source=source, reason=reason) from None
    log_streaming(source, sizes.values())
    truth = GroundTruth(files=len(sizes))
    for path in sizes:
        for chunk in read_lines(path, what="ground-truth file"):
            for offset, text in enumerate(chunk.lines.to_pylist()):
                if not text.strip(" \t\r\n"):
                    continue
                truth.lines += 1
                try:
                    event_id, label = ground_truth_label(text)
                except _BadLine as exc:
                    truth.bad_lines += 1
                    if truth.first_bad is None:
                        truth.first_bad = (path, chunk.first_line + offset, f"{exc} ({_clip(text)!r})")
                    continue
                if event_id in truth.labels:
                    truth.duplicates += 1
                truth.labels[event_id] = label
    log.info(
        "Ground truth: %d files, %d lines under %s; skipped %d malformed; %d labels, %d duplicate eventIds (the last read used)",
        truth.files, truth.lines, source, truth.bad_lines, len(truth.labels), truth.duplicates,
    )
    if truth.first_bad is not None:
        file, line, reason = truth.first_bad
        log.warning("First malformed ground-truth line: line %d of %s: %s", line, file, reason)
        if truth.bad_lines / truth.lines > max_bad_fraction:
            raise InputError(
                "GROUND_TRUTH_INVALID", file=file, line=line,
                reason=f"{reason}; {truth.bad_lines} of {truth.lines} ground-truth lines are not valid "
                       f"(more than the allowed {max_bad_fraction * 100}%)",
            )
    return truth


# ------------------------------------------------------------------ merged records
def join_key(event: dict) -> str | None:
    """The capture's ``inferenceId`` when it has one, else its ``eventId`` (None: neither).

    Examples
    --------
    >>> join_key({"eventMetadata": {"eventId": "e1", "inferenceId": "95"}}), join_key({"eventMetadata": {"eventId": "e1"}})
    ('95', 'e1')
    """
    meta = event.get("eventMetadata")
    if not isinstance(meta, dict):
        return None
    for name in ("inferenceId", "eventId"):
        value = meta.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def merged_line(event: dict, label: dict[str, str]) -> str:
    """A capture event and its label as one merged line (with its line break)."""
    capture = event.get("captureData") or {}
    meta = event.get("eventMetadata") or {}
    record = {
        "eventVersion": event.get("eventVersion", "0"),
        "groundTruthData": label,
        "captureData": {name: _sorted(side) for name, side in sorted(capture.items())},
        "eventMetadata": _sorted(meta),
    }
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (read from a \ud800 escape) cannot be UTF-8: it stays an escape, as it was read.
    return (_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) if _SURROGATE.search(text) else text) + "\n"


def _sorted(value):
    return dict(sorted(value.items())) if isinstance(value, dict) else value


class _Part:
    """One folder's merged file: written under a hidden name while its bytes are hashed, then
    renamed to ``part-00000-<uuid>.c000.jsonl`` (no file when no record was written)."""

    def __init__(self, out_dir: Path, folder: str, created: list[Path]) -> None:
        self.out_dir, self.folder, self.created = out_dir, folder, created
        self.records = 0
        self._file = None
        self._hash = hashlib.sha256(folder.encode("utf-8") + b"\n")

    def write(self, line: str) -> None:
        data = line.encode("utf-8")
        if self._file is None:
            target = self.out_dir / self.folder
            self.created += _new_folders(self.out_dir, target)
            target.mkdir(parents=True, exist_ok=True)
            self.created.append(target / _PARTIAL)
            self._file = open(target / _PARTIAL, "wb")
        self._file.write(data)
        self._hash.update(data)
        self.records += 1

    def close(self) -> str | None:
        """The file's path relative to the output folder (None when nothing was written)."""
        if self._file is None:
            return None
        self._file.close()
        name = PART_NAME.format(id=uuid.uuid5(_NAMESPACE, self._hash.hexdigest()))
        target = self.out_dir / self.folder / name
        self.created.append(target)
        os.replace(self.out_dir / self.folder / _PARTIAL, target)
        return posixpath.join(self.folder, name) if self.folder else name

    def abandon(self) -> None:
        if self._file is not None:
            self._file.close()


def _new_folders(root: Path, folder: Path) -> list[Path]:
    """The folders from ``root`` down to ``folder`` that do not exist yet, deepest last."""
    missing = []
    while folder != root and not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing[::-1]


def relative_folder(file: str, source: str) -> str:
    """The folder of a listed capture file relative to the source (``""``: the source is the file).

    Examples
    --------
    >>> relative_folder("s3://b/capture/ep/AllTraffic/2024/01/02/03/x.jsonl", "s3://b/capture/")
    'ep/AllTraffic/2024/01/02/03'
    """
    root = source.rstrip("/") if "://" in source else str(Path(source))
    rel = file[len(root) + 1:] if file.startswith(root + "/") else posixpath.basename(file.replace("\\", "/"))
    return posixpath.dirname(rel.replace("\\", "/"))


def _by_folder(files: list[str], source: str) -> dict[str, list[tuple[int, str]]]:
    """{relative folder: [(rank, file)]}, the folders in the order they first occur (a folder's
    files need not be consecutive in path order: ``hh/a``, ``hh/b/c``, ``hh/d``)."""
    folders: dict[str, list[tuple[int, str]]] = {}
    for rank, path in enumerate(files):
        folders.setdefault(relative_folder(path, source), []).append((rank, path))
    return folders


# ------------------------------------------------------------------ the job
def merge_ground_truth(capture_source: str, ground_truth_source: str, out_dir: Path, start: datetime | None,
                       end: datetime | None, max_bad_fraction: float = 0.01) -> MergeResult:
    """Join the capture in the window with every ground-truth label; write the merged records
    under ``out_dir`` (one file a capture hour folder, at its relative path).

    Raises InputError: the capture's (``DATASET_SOURCE_MISSING``, ``DATASET_NO_FILES``,
    ``NO_CAPTURE_IN_WINDOW``, ``CAPTURE_TOO_MANY_BAD_LINES``), the same listing errors for the
    ground truth, ``GROUND_TRUTH_INVALID``, and ``NO_MERGED_RECORDS``. On an error the files
    written so far are removed again.
    """
    sizes = data_file_sizes(capture_source)
    all_files = list(sizes)
    files = files_in_window(all_files, start, end)
    log.info("Capture files: %d under %s, %d in the hours of the window", len(all_files), capture_source, len(files))
    if not files:
        raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=capture_source)
    truth = read_ground_truth(ground_truth_source, max_bad_fraction)
    log_streaming(capture_source, (sizes[f] for f in files))

    rules = CaptureRules(start=start, end=end)
    tally = _Tally()
    written: list[str] = []
    created: list[Path] = []
    try:
        for folder, ranked in _by_folder(files, capture_source).items():
            name = _merge_folder(ranked, rules, truth.labels, _Part(out_dir, folder, created), tally)
            if name is not None:
                written.append(name)
        summary = tally.summary
        log.info(
            "Capture lines: %d; skipped %d malformed, %d shadow, %d outside the window; %d records",
            summary.lines, summary.bad_lines, summary.shadow, summary.outside_window, summary.usable,
        )
        if summary.bad_example is not None:
            log.warning("First malformed capture line: %s", summary.bad_example.text)
        check_bad_lines(summary.bad_lines, summary.lines, max_bad_fraction,
                        summary.bad_example.text if summary.bad_example else "?")
        if summary.usable == 0:
            raise InputError("NO_CAPTURE_IN_WINDOW", start=iso(start), end=iso(end), source=capture_source)
        window = " in the window" if rules.windowed else ""
        unused = len(truth.labels) - len(tally.matched)
        log.info(
            "Merged %d records into %d files; dropped %d capture records without ground truth and %d ground-truth "
            "labels without a capture record%s; %d duplicate ground-truth eventIds",
            tally.merged, len(written), tally.without_truth, unused, window, truth.duplicates,
        )
        if tally.merged == 0:
            common = ", no eventId in common" if summary.usable and truth.labels else ""
            raise InputError(
                "NO_MERGED_RECORDS", start=iso(start), end=iso(end), source=capture_source,
                detail=f" ({summary.usable} capture records{window}, {len(truth.labels)} ground-truth records{common})",
            )
    except BaseException:
        _remove(created)
        raise
    return MergeResult(tally.merged, tally.without_truth, unused, truth.duplicates, tuple(written))


@dataclass
class _Tally:
    """Counts over the capture folders merged so far."""

    summary: CaptureSummary = CaptureSummary()
    merged: int = 0
    without_truth: int = 0
    matched: set[str] = field(default_factory=set)  # the labels' eventIds used


def _merge_folder(ranked: list[tuple[int, str]], rules: CaptureRules, labels: dict[str, dict[str, str]],
                  part: _Part, tally: _Tally) -> str | None:
    """Merge one folder's capture files (the lines the capture rules keep, in file and line
    order) into ``part``; its relative path, None when no record had a label."""
    try:
        for rank, path in ranked:
            for chunk in read_lines(path):
                screened = screen(chunk.lines, rules, Origin(path, rank, chunk.first_line))
                tally.summary = tally.summary.merge(screened.summary)
                if not len(screened.kept):
                    continue
                for line, text in zip(screened.kept.tolist(), chunk.lines.take(screened.kept).to_pylist()):
                    try:
                        event = json.loads(text.lstrip("\ufeff"))
                        key = join_key(event)
                        label = labels.get(key) if key is not None else None
                        merged = merged_line(event, label) if label is not None else None
                    except RecursionError:  # pyarrow's parser (the line rules') goes deeper than Python's json
                        tally.summary = tally.summary.merge(_too_deep(path, rank, chunk.first_line + line))
                        continue
                    if merged is None:
                        tally.without_truth += 1
                        continue
                    tally.matched.add(key)
                    part.write(merged)
    except BaseException:
        part.abandon()
        raise
    tally.merged += part.records
    return part.close()


def _too_deep(path: str, rank: int, line: int) -> CaptureSummary:
    """A kept capture line that Python's JSON parser cannot read: one more bad line."""
    return CaptureSummary(bad_lines=1, bad_example=Example((rank, line), f"line {line} of {path}",
                                                           "JSON nested deeper than the merge job reads"))


def _remove(created: list[Path]) -> None:
    """Files and folders this merge made, deepest last in ``created``: removed (folders when empty)."""
    for path in reversed(created):
        try:
            path.rmdir() if path.is_dir() else path.unlink(missing_ok=True)
        except OSError:  # a folder that holds other files
            pass


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."
