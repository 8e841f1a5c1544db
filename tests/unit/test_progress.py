"""container.progress: log lines off a terminal, a tqdm bar on one, and bytes counted under pyarrow."""
import gzip
import io
import logging
import re
import threading

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from container.progress import CountingReader, Progress, format_bytes, format_duration

LOGGER = "mmon.progress"


class FakeClock:
    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def test_log_lines_with_the_figures_when_not_a_terminal(caplog_info):
    clock = FakeClock()
    progress = Progress(245_000_000, "baseline", stream=io.StringIO(), interval=5, enabled=True, clock=clock)
    assert not progress.uses_bar
    clock.tick(1)
    progress.advance(nbytes=40_000_000, rows=300_000)  # before the first interval: nothing
    assert messages(caplog_info) == []
    clock.tick(2)
    progress.advance(nbytes=80_500_000, rows=700_000)  # 3 s in: still nothing
    assert messages(caplog_info) == []
    clock.tick(2)  # 5 s in: 120.5 MB read, 24.1 MB/s, 124.5 MB to go, about 5 s left
    progress.advance(rows=0)
    assert messages(caplog_info) == [
        "baseline: Read 120.5 MB of 245.0 MB (49%), 1,000,000 rows, 24.1 MB/s, about 5 s left"]
    clock.tick(1)
    progress.advance(nbytes=1_000_000, rows=10)  # within the next interval: nothing more
    assert len(messages(caplog_info)) == 1
    clock.tick(4)  # 10 s in
    progress.advance(nbytes=123_500_000, rows=999_990)
    assert messages(caplog_info)[-1] == "baseline: Read 245.0 MB of 245.0 MB (100%), 2,000,000 rows, 24.5 MB/s, about 0 s left"
    clock.tick(0.5)
    progress.close()
    assert messages(caplog_info)[-1] == "baseline: Read 245.0 MB, 2,000,000 rows in 10 s (23.3 MB/s)"
    assert len(messages(caplog_info)) == 3
    progress.close()  # once only
    assert len(messages(caplog_info)) == 3


def test_unknown_total_logs_no_share_or_time_left(caplog_info):
    clock = FakeClock()
    with Progress(None, "", stream=io.StringIO(), interval=2, enabled=True, clock=clock) as progress:
        clock.tick(2)
        progress.advance(nbytes=3_000_000)
    assert messages(caplog_info) == ["Read 3.0 MB, 1.5 MB/s", "Read 3.0 MB in 2 s (1.5 MB/s)"]


def test_nothing_logged_for_a_job_shorter_than_the_interval(caplog_info):
    clock = FakeClock()
    with Progress(10_000, "short", stream=io.StringIO(), interval=5, enabled=True, clock=clock) as progress:
        for _ in range(100):
            clock.tick(0.04)
            progress.advance(nbytes=100, rows=1)
    assert progress.bytes_read == 10_000 and progress.rows == 100
    assert messages(caplog_info) == []


def test_real_clock_small_interval(caplog_info):
    import time

    with Progress(1000, "tiny", stream=io.StringIO(), interval=0.05, enabled=True) as progress:
        progress.advance(nbytes=100)
        time.sleep(0.06)
        progress.advance(nbytes=100, rows=5)
    lines = messages(caplog_info)
    assert len(lines) == 2
    assert re.fullmatch(r"tiny: Read 200 B of 1.0 kB \(20%\), 5 rows, [\d.]+ kB/s, about 0 s left", lines[0]), lines
    assert lines[1].startswith("tiny: Read 200 B, 5 rows in 0 s")


def test_disabled_counts_but_shows_nothing(caplog_info, monkeypatch):
    clock = FakeClock()
    terminal = Terminal()
    monkeypatch.setenv("MMON_PROGRESS", "off")
    with Progress(100, "off", stream=terminal, interval=1, clock=clock) as progress:
        clock.tick(5)
        progress.advance(nbytes=100, rows=1)
    assert progress.bytes_read == 100 and not progress.uses_bar
    assert messages(caplog_info) == [] and terminal.getvalue() == ""


def test_advance_is_thread_safe():
    progress = Progress(None, "threads", stream=io.StringIO(), interval=3600, enabled=True)

    def work():
        for _ in range(10_000):
            progress.advance(nbytes=3, rows=1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    progress.close()
    assert progress.bytes_read == 120_000 and progress.rows == 40_000


def test_terminal_gets_a_tqdm_bar(caplog_info):
    pytest.importorskip("tqdm")
    terminal = Terminal()
    clock = FakeClock()
    with Progress(2_000_000, "housing", stream=terminal, interval=1, enabled=True, clock=clock) as progress:
        assert progress.uses_bar
        for _ in range(4):
            clock.tick(0.6)
            progress.advance(nbytes=500_000, rows=1234)
    out = terminal.getvalue()
    final = out.replace("\r", "\n").strip().splitlines()[-1]
    assert "housing" in final and "100%" in final
    assert "2.00M/2.00M" in final  # bytes read of the total, scaled (tqdm puts the unit on the rate)
    assert "B/s" in final  # the rate
    assert "4,936 rows" in final  # the rows, in the postfix
    assert messages(caplog_info) == []  # no log lines beside the bar


def test_formats():
    assert [format_bytes(n) for n in (0, 999, 1000, 120_500_000, 999_960_000, 1_200_000_000)] == [
        "0 B", "999 B", "1.0 kB", "120.5 MB", "1.0 GB", "1.2 GB"]
    assert [format_duration(s) for s in (0, 3.4, 59.6, 125, 120, 3725)] == ["0 s", "3 s", "1 min", "2 min 5 s", "2 min", "1 h 2 min"]


# -- CountingReader under pyarrow ---------------------------------------------------------------

@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "data.csv"
    lines = ["a,b,c"] + [f"{i},{i * 0.5},name{i % 7}" for i in range(50_000)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_counting_reader_counts_the_file_under_open_csv(csv_file):
    size = csv_file.stat().st_size
    progress = Progress(size, "csv", stream=io.StringIO(), enabled=True)
    with CountingReader(open(csv_file, "rb"), progress) as raw:
        reader = pcsv.open_csv(raw, read_options=pcsv.ReadOptions(block_size=64 * 1024))
        rows = 0
        for batch in reader:
            rows += batch.num_rows
            progress.advance(rows=batch.num_rows)
    assert rows == 50_000 and progress.rows == 50_000
    assert progress.bytes_read == size
    assert raw.closed and raw.raw.closed


def test_counting_reader_counts_the_compressed_file_under_gzip(csv_file, tmp_path):
    gz = tmp_path / "data.csv.gz"
    gz.write_bytes(gzip.compress(csv_file.read_bytes()))
    size = gz.stat().st_size
    progress = Progress(size, "gzip", stream=io.StringIO(), enabled=True)
    raw = CountingReader(open(gz, "rb"), progress)
    try:
        stream = pa.CompressedInputStream(raw, "gzip")
        table = pcsv.open_csv(stream, read_options=pcsv.ReadOptions(block_size=64 * 1024)).read_all()
    finally:
        raw.close()
    assert table.num_rows == 50_000
    assert progress.bytes_read == size
    assert raw.raw.closed


def test_counting_reader_pass_through(tmp_path):
    path = tmp_path / "bytes.bin"
    path.write_bytes(bytes(range(256)) * 10)
    progress = Progress(None, "", stream=io.StringIO(), enabled=False)
    with CountingReader(open(path, "rb"), progress) as raw:
        assert raw.readable() and not raw.writable()
        assert raw.read(10) == bytes(range(10))
        buf = bytearray(6)
        assert raw.readinto(buf) == 6 and bytes(buf) == bytes(range(10, 16))
        rest = raw.read()
        assert len(rest) == 2560 - 16
        assert raw.read(5) == b""
    assert progress.bytes_read == 2560


def test_counting_reader_over_a_read_only_stream():
    class ReadOnly:  # e.g. an HTTP body: read() and close() only
        def __init__(self, data):
            self._buf = io.BytesIO(data)
            self.closed = False

        def read(self, n=-1):
            return self._buf.read(n)

        def close(self):
            self.closed = True

    data = b"x,y\n" + b"1,2\n" * 1000
    progress = Progress(len(data), "", stream=io.StringIO(), enabled=False)
    source = ReadOnly(data)
    with CountingReader(source, progress) as raw:
        table = pcsv.read_csv(io.BufferedReader(raw))
    assert table.num_rows == 1000 and progress.bytes_read == len(data) and source.closed
