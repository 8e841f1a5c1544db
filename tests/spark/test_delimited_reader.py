"""The local CSV reader (pyarrow) against Spark's CSV reader, the one SageMaker's analyzer uses.

The same files are profiled by the local driver and by the Spark driver (Spark's reader, the
same profiler in its Python workers) and compared field by field: counts, types, malformed
rows, categorical buckets and distinct counts exactly; numbers exactly but for the sum and
standard deviation (1e-12 relative: the summation order may differ). The inputs are the edges
of what Spark's CSV reader does with a line: blank and whitespace-only lines, quoted fields
holding the delimiter, short and long rows, CRLF endings, several files each with its header,
a data line equal to the header.
"""
from __future__ import annotations

import dataclasses
import gzip
import math

import pytest

from analyzer import ProfileOptions
from container.config import CsvFormat
from container.dataset import read_dataset
from container.spark import profile_on_spark


def _comparable(result):
    features = []
    for f in result.statistics.features:
        if f.numerical is not None:
            f = dataclasses.replace(f, numerical=dataclasses.replace(f.numerical, sketch=None))
        features.append(f)
    return features


def _assert_same(fast, spark_result):
    assert fast.statistics.item_count == spark_result.statistics.item_count
    assert fast.malformed_rows == spark_result.malformed_rows
    assert fast.undecodable_values == spark_result.undecodable_values
    assert dict(fast.type_counts) == dict(spark_result.type_counts)
    for a, b in zip(_comparable(fast), _comparable(spark_result), strict=True):
        if a.numerical is not None:
            assert math.isclose(a.numerical.sum, b.numerical.sum, rel_tol=1e-12, abs_tol=1e-12)
            assert math.isclose(a.numerical.std_dev, b.numerical.std_dev, rel_tol=1e-12, abs_tol=1e-12)
            a = dataclasses.replace(a, numerical=dataclasses.replace(a.numerical, sum=0.0, std_dev=0.0, mean=0.0))
            b = dataclasses.replace(b, numerical=dataclasses.replace(b.numerical, sum=0.0, std_dev=0.0, mean=0.0))
        assert a == b


def _both(spark, source, fmt):
    dataset = read_dataset(str(source), fmt)
    return dataset, dataset.profile(), profile_on_spark(spark, dataset, ProfileOptions())


EDGES = (
    "\n"
    "a,b,c,d\n"
    "1,x,2.5,true\n"
    "  \t \n"  # whitespace only: skipped
    "\x0b\x01\n"  # control characters only: skipped too (Java's trim)
    '2,"y,z",3.5,false\n'  # a quoted field holding the delimiter
    '3,"said \'hi\'",,true\n'
    "4,,4.5\n"  # short row: malformed, d missing
    "5,w,5.5,true,extra\n"  # long row: malformed, extra field dropped
    "6,v, 6.5 ,false\r\n"  # CRLF ending; spaces kept
    "7,\\,7.5,true\n"  # a backslash outside quotes is a value
    ",,,\n"  # every field empty
    "8,\u00e9,8.5,true\n"
)


def test_edges_equal_spark_csv_reader(spark, tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text(EDGES, encoding="utf-8", newline="")
    dataset, fast, exact = _both(spark, path, CsvFormat(header=True))
    assert fast.malformed_rows == 2
    assert fast.statistics.item_count == 9
    _assert_same(fast, exact)


def test_headerless_pipe_delimited_and_gzip_files(spark, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.csv").write_text("1|a|x\n2|b|y\n\n3|c\n", encoding="utf-8")
    with gzip.open(folder / "b.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write('4|"d|e"|z\n5|f|w|v\n')
    dataset, fast, exact = _both(spark, folder, CsvFormat(header=False, field_delimiter="|"))
    assert fast.statistics.item_count == 5
    assert fast.malformed_rows == 2
    _assert_same(fast, exact)


def test_every_file_loses_its_own_first_line(spark, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "1.csv").write_text("p,q\n1,2\n3,4\n", encoding="utf-8")
    (folder / "2.csv").write_text("\n\nP,Q\n5,6\n", encoding="utf-8")  # the header in other case, after blank lines
    (folder / "3.csv").write_text("p,Q\n7,8\n9,10\n", encoding="utf-8")
    # (a file whose first line is another header, or data, fails: DATASET_HEADERS_DIFFER)
    dataset, fast, exact = _both(spark, folder, CsvFormat(header=True))
    assert fast.statistics.item_count == 5
    _assert_same(fast, exact)


def test_data_line_equal_to_a_header_is_data(spark, tmp_path):
    path = tmp_path / "repeat.csv"
    path.write_text("k,v\n1,2\nk,v\n3,4\n", encoding="utf-8")
    _, result, exact = _both(spark, path, CsvFormat(header=True))
    assert result.statistics.item_count == 3  # the repeated header line is data
    assert dict(result.type_counts)["k"].integral == 2
    _assert_same(result, exact)


@pytest.mark.parametrize("delimiter", ["\t", ";", "."])
def test_delimiters_that_are_regex_characters(spark, tmp_path, delimiter):
    path = tmp_path / "d.csv"
    rows = ["h1", "h2", "h3"], ["1", "a b", "2"], ["3", "c", ""], ["5", "d", "6"]
    path.write_text("".join(delimiter.join(r) + "\n" for r in rows), encoding="utf-8")
    fmt = CsvFormat(header=True, field_delimiter=delimiter)
    _, fast, exact = _both(spark, path, fmt)
    assert [f.name for f in fast.statistics.features] == ["h1", "h2", "h3"]
    assert fast.statistics.item_count == 3
    _assert_same(fast, exact)


def test_a_damaged_gzip_file_is_named(tmp_path):
    from analyzer.errors import InputError

    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text("p,q\n1,2\n", encoding="utf-8")
    (folder / "b.csv.gz").write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    with pytest.raises(InputError) as caught:
        read_dataset(str(folder), CsvFormat(header=True)).profile()
    assert caught.value.code == "DATASET_UNREADABLE" and "b.csv.gz" in str(caught.value)


def test_doubled_quotes_inside_quotes_are_one_quote(tmp_path):
    """RFC 4180, as CSV readers (pyarrow, Python, pandas) read it. Spark's reader, with its
    default escape character (a backslash), keeps such a field as written, quotes and all."""
    path = tmp_path / "q.csv"
    path.write_text('a,b\n3,"he said ""hi"""\n', encoding="utf-8")
    stats = read_dataset(str(path), CsvFormat(header=True)).profile().statistics
    assert [b.value for b in stats.feature("b").string.buckets] == ['he said "hi"']
