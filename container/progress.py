"""Progress of a long local job that people can see: a bar on a terminal, log lines elsewhere.

    with Progress(total_bytes=size, description="baseline") as progress:
        with CountingReader(open(path, "rb"), progress) as raw:
            reader = pyarrow.csv.open_csv(raw)
            for batch in reader:
                ...
                progress.advance(rows=batch.num_rows)

On a terminal (``stream.isatty()``) a tqdm bar shows the bytes read of the total, the rate, the
time left and the rows so far. Elsewhere (a container's log, CI) a line goes to the
``mmon.progress`` logger at most every ``interval`` seconds::

    baseline: Read 120.5 MB of 245.0 MB (49%), 1,000,000 rows, 40.1 MB/s, about 3 s left

and a summary line when the job ends, only if a line was logged before: a job shorter than
``interval`` logs nothing. ``MMON_PROGRESS=off`` turns both off when ``enabled`` is left to auto.
"""
from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from typing import Callable, TextIO

log = logging.getLogger("mmon.progress")

POSTFIX_INTERVAL_S = 0.5  # the bar's rows figure changes at most this often
BAR_TICK_S = 0.1  # bytes are handed to the bar at most this often (tqdm redraws at its own pace)


def progress_enabled(env: dict | None = None) -> bool:
    """Auto: on, unless MMON_PROGRESS is off/0/false/no."""
    value = (os.environ if env is None else env).get("MMON_PROGRESS", "auto").strip().lower()
    return value not in ("off", "0", "false", "no")


def format_bytes(n: float) -> str:
    """SI units, one decimal: 512 B, 12.3 kB, 120.5 MB, 1.2 GB."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB", "TB"):
        n /= 1000.0
        if n < 999.95 or unit == "TB":
            return f"{n:.1f} {unit}"
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """3 s, 2 min 5 s, 1 h 4 min."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 else f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"


class Progress:
    """Bytes read (and rows) of a job, shown as a bar on a terminal or as periodic log lines.

    ``advance`` may be called from several threads, as often as per batch: it takes a lock, adds
    to two counters and reads the clock; the bar or the log is touched only when it is due.
    ``clock`` is for tests (a fake ``time.monotonic``).
    """

    def __init__(self, total_bytes: int | None, description: str = "", stream: TextIO | None = None,
                 interval: float = 5.0, enabled: bool | None = None, *,
                 clock: Callable[[], float] = time.monotonic):
        self.total_bytes = total_bytes if total_bytes and total_bytes > 0 else None
        self.description = description
        self.stream = stream if stream is not None else sys.stderr
        self.interval = float(interval)
        self.enabled = progress_enabled() if enabled is None else bool(enabled)
        self._clock = clock
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.rows = 0
        self.lines_logged = 0
        self._closed = False
        self._started = clock()
        self._next_log = self._started + self.interval
        self._bar = None
        if self.enabled and _isatty(self.stream):
            self._bar = _make_bar(self.total_bytes, description, self.stream)
        self._bar_bytes = 0  # bytes handed to the bar so far
        self._next_tick = self._started
        self._next_postfix = self._started

    @property
    def uses_bar(self) -> bool:
        return self._bar is not None

    def advance(self, nbytes: int = 0, rows: int = 0) -> None:
        message = None
        with self._lock:
            self.bytes_read += nbytes
            self.rows += rows
            if not self.enabled or self._closed:
                return
            now = self._clock()
            if self._bar is not None:
                if now >= self._next_tick:
                    self._next_tick = now + BAR_TICK_S
                    self._update_bar(now)
            elif now >= self._next_log:
                self._next_log = now + self.interval
                self.lines_logged += 1
                message = self._line(now)
        if message is not None:
            log.info("%s", message)

    def close(self) -> None:
        message = None
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self.enabled:
                return
            now = self._clock()
            if self._bar is not None:
                self._update_bar(now, force_postfix=True)
                self._bar.close()
            elif self.lines_logged:
                message = self._summary(now)
        if message is not None:
            log.info("%s", message)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- rendering (under the lock) --

    def _update_bar(self, now: float, force_postfix: bool = False) -> None:
        pending = self.bytes_read - self._bar_bytes
        if self.rows and (force_postfix or now >= self._next_postfix):
            self._next_postfix = now + POSTFIX_INTERVAL_S
            self._bar.set_postfix_str(f"{self.rows:,} rows", refresh=False)
        if pending:
            self._bar_bytes = self.bytes_read
            self._bar.update(pending)
        elif force_postfix:
            self._bar.refresh()

    def _prefix(self) -> str:
        return f"{self.description}: " if self.description else ""

    def _line(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rate = self.bytes_read / elapsed
        parts = [f"{self._prefix()}Read {format_bytes(self.bytes_read)}"]
        if self.total_bytes:
            percent = min(100, int(100 * self.bytes_read / self.total_bytes))
            parts[0] += f" of {format_bytes(self.total_bytes)} ({percent}%)"
        if self.rows:
            parts.append(f"{self.rows:,} rows")
        parts.append(f"{format_bytes(rate)}/s")
        if self.total_bytes and rate > 0:
            parts.append(f"about {format_duration(max(0, self.total_bytes - self.bytes_read) / rate)} left")
        return ", ".join(parts)

    def _summary(self, now: float) -> str:
        elapsed = max(now - self._started, 1e-9)
        rows = f", {self.rows:,} rows" if self.rows else ""
        return (f"{self._prefix()}Read {format_bytes(self.bytes_read)}{rows} in {format_duration(elapsed)}"
                f" ({format_bytes(self.bytes_read / elapsed)}/s)")


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _make_bar(total: int | None, description: str, stream):
    try:
        from tqdm import tqdm
    except ImportError:  # no tqdm: log lines instead
        return None
    return tqdm(total=total, desc=description or None, file=stream, unit="B", unit_scale=True,
                unit_divisor=1000, mininterval=0.2, leave=True, dynamic_ncols=True, smoothing=0.1)


class CountingReader(io.RawIOBase):
    """A binary file object that reports the bytes read through it to a ``Progress``.

    Hand it to ``pyarrow.csv.open_csv`` or ``pyarrow.CompressedInputStream`` in place of the file
    (compressed input: the bytes counted are those of the file, as its size is the total).
    Closing it closes the wrapped file.
    """

    def __init__(self, raw, progress: Progress):
        super().__init__()
        self._raw = raw
        self._progress = progress

    @property
    def raw(self):
        return self._raw

    @property
    def name(self):
        return getattr(self._raw, "name", None)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int | None:
        readinto = getattr(self._raw, "readinto", None)
        if readinto is not None:
            n = readinto(buffer)
        else:  # e.g. a stream with read() only
            data = self._raw.read(len(buffer))
            if data is None:
                return None
            n = len(data)
            memoryview(buffer).cast("B")[:n] = data
        if n:
            self._progress.advance(nbytes=n)
        return n

    def read(self, size: int = -1) -> bytes | None:
        data = self._raw.read() if size is None or size < 0 else self._raw.read(size)
        if data:
            self._progress.advance(nbytes=len(data))
        return data

    def readall(self) -> bytes:
        return self.read(-1) or b""

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()
