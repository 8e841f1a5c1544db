"""The deterministic KLL accumulator and the distinct counter, checked against exact answers."""
from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import hll
from analyzer.hll import DistinctCounter, hash_float64, hash_strings
from analyzer.sketch import KllAccumulator, KllSketch, normalized_rank_error

K = 2048
EPS = normalized_rank_error(K)


# --- KLL -------------------------------------------------------------------------------------


def _data(kind: str, n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "lognormal":
        return rng.lognormal(sigma=2.0, size=n)
    if kind == "uniform":
        return rng.uniform(-5.0, 5.0, size=n)
    if kind == "poisson":
        return rng.poisson(4.0, size=n).astype(np.float64)
    if kind == "sorted":
        return np.sort(rng.normal(size=n))
    if kind == "reverse":
        return np.sort(rng.lognormal(size=n))[::-1].copy()
    raise AssertionError(kind)


def _feed(values: np.ndarray, batch: int = 100_000, k: int = K) -> KllAccumulator:
    acc = KllAccumulator(k)
    for start in range(0, values.size, batch):
        acc.update(values[start : start + batch])
    return acc


def _queries(values: np.ndarray) -> np.ndarray:
    """Points where ranks are compared: data quantiles, sampled items, midpoints, both ends."""
    xs = np.sort(values)
    sampled = xs[:: max(1, xs.size // 3000)]
    mids = (sampled[1:] + sampled[:-1]) / 2
    ends = [xs[0] - 1.0, xs[0], xs[-1], xs[-1] + 1.0]
    return np.unique(np.concatenate([np.quantile(xs, np.linspace(0, 1, 501)), sampled, mids, ends]))


def _max_rank_error(sketch: KllSketch, values: np.ndarray) -> float:
    """Largest |sketch rank - exact rank| / n, inclusive and exclusive ranks alike."""
    xs = np.sort(values)
    q = _queries(values)
    inclusive = np.abs(sketch.rank(q) - np.searchsorted(xs, q, side="right")).max()
    exclusive = np.abs(sketch.rank_exclusive(q) - np.searchsorted(xs, q, side="left")).max()
    return float(max(inclusive, exclusive)) / values.size


def _check_sketch(acc: KllAccumulator, values: np.ndarray) -> None:
    n = values.size
    sketch = acc.to_sketch()
    assert acc.n == n
    assert sketch.n == n  # the levels weigh exactly n
    assert (sketch.k, sketch.c) == (float(K), 0.64)
    assert not sketch.levels or sketch.levels[-1], "no empty trailing level"
    if n == 0:
        assert acc.min is None and acc.max is None and sketch.levels == ()
        return
    assert acc.min == values.min() and acc.max == values.max()
    assert isinstance(acc.min, float) and isinstance(acc.max, float)
    assert all(type(x) is float for level in sketch.levels for x in level)
    assert all(list(level) == sorted(level) for level in sketch.levels)
    assert acc.num_retained == sum(len(level) for level in sketch.levels) < 4 * K
    if n <= K:
        assert sketch.levels == (tuple(np.sort(values).tolist()),)  # nothing compacted: exact
    if n >= 60_000:
        assert len(sketch.levels) > 1
    assert _max_rank_error(sketch, values) <= 2 * EPS


@pytest.mark.parametrize("n", [0, 1, 5, 2048, 60_000, 1_000_000])
@pytest.mark.parametrize("kind", ["normal", "lognormal", "uniform", "poisson", "sorted", "reverse"])
def test_kll_exact_counts_and_rank_error(kind, n):
    values = _data(kind, n)
    _check_sketch(_feed(values), values)


@pytest.mark.parametrize("batch", [1_000, 33_333])
def test_kll_rank_error_with_other_batch_sizes(batch):
    values = _data("normal", 300_000, seed=3)
    _check_sketch(_feed(values, batch), values)


def test_kll_empty_and_read_only_batches():
    values = _data("uniform", 10_000)
    values.setflags(write=False)
    acc = KllAccumulator()
    acc.update(np.empty(0))
    acc.update(values)
    acc.update(np.empty(0))
    _check_sketch(acc, values)
    assert acc.to_sketch() == _feed(values).to_sketch()


def test_kll_sketch_does_not_alias_the_callers_array():
    values = np.arange(100, dtype=np.float64)
    acc = KllAccumulator()
    acc.update(values)
    values[:] = -1.0
    assert acc.to_sketch().levels == (tuple(float(i) for i in range(100)),)


@pytest.mark.parametrize("parts", [1, 3, 17])
@pytest.mark.parametrize("kind, n", [("normal", 1_000_000), ("lognormal", 60_000), ("poisson", 200_000)])
def test_kll_merge_of_parts(kind, n, parts):
    values = _data(kind, n, seed=11)
    accs = [_feed(part, batch=25_000) for part in np.array_split(values, parts)]
    merged = accs[0]
    for acc in accs[1:]:
        merged.merge(acc)
    _check_sketch(merged, values)


def test_kll_merge_with_empty_is_a_no_op():
    values = _data("normal", 100_000)
    acc = _feed(values)
    before = acc.to_sketch()
    acc.merge(KllAccumulator())
    assert acc.to_sketch() == before and acc.n == values.size
    empty = KllAccumulator()
    empty.merge(acc)
    assert empty.to_sketch() == before
    assert (empty.n, empty.min, empty.max) == (acc.n, acc.min, acc.max)


def test_kll_merge_into_itself_doubles_every_weight():
    values = _data("uniform", 50_000)
    acc = _feed(values)
    acc.merge(acc)
    doubled = np.concatenate([values, values])
    _check_sketch(acc, doubled)


def test_kll_signed_zeros_are_retained_as_zero():
    acc = KllAccumulator(k=8)
    acc.update(np.array([-0.0, 0.0, 1.0] * 40))
    sketch = acc.to_sketch()
    assert sketch.n == 120 and len(sketch.levels) > 1
    assert all(str(x) != "-0.0" for level in sketch.levels for x in level)
    acc = KllAccumulator()
    acc.update(np.array([-0.0, 0.0, -0.0]))
    assert (str(acc.min), str(acc.max)) == ("0.0", "0.0")


def test_kll_merge_needs_the_same_parameters():
    with pytest.raises(ValueError):
        KllAccumulator(2048).merge(KllAccumulator(1024))


def test_kll_is_deterministic():
    values = _data("lognormal", 500_000, seed=5)
    a, b = _feed(values, 30_000), _feed(values, 30_000)
    assert a.to_sketch() == b.to_sketch()
    parts_a = [_feed(p, 10_000) for p in np.array_split(values, 5)]
    parts_b = [_feed(p, 10_000) for p in np.array_split(values, 5)]
    for acc in parts_a[1:]:
        parts_a[0].merge(acc)
    for acc in parts_b[1:]:
        parts_b[0].merge(acc)
    assert parts_a[0].to_sketch() == parts_b[0].to_sketch()


def test_kll_pickles():
    values = _data("normal", 200_000)
    acc = _feed(values)
    copy = pickle.loads(pickle.dumps(acc))
    assert copy.to_sketch() == acc.to_sketch()
    assert (copy.n, copy.min, copy.max, copy.k, copy.c) == (acc.n, acc.min, acc.max, acc.k, acc.c)
    more = _data("uniform", 70_000, seed=2)
    acc.update(more)
    copy.update(more)
    assert copy.to_sketch() == acc.to_sketch()


def test_kll_to_sketch_round_trips_through_sagemakers_dict():
    acc = _feed(_data("normal", 100_000))
    d = acc.to_sketch().to_dict()
    assert d["parameters"] == {"c": 0.64, "k": 2048.0}
    assert KllSketch.from_dict(d) == acc.to_sketch()


def test_kll_capacities():
    acc = KllAccumulator(2048, 0.64)
    assert acc.capacities(1) == [2048]
    assert acc.capacities(3) == [839, 1311, 2048]
    assert acc.capacities(30)[:3] == [8, 8, 8]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=400),
    cuts=st.lists(st.integers(0, 400), max_size=6),
)
def test_kll_small_k_keeps_exact_weight_and_extremes(values, cuts):
    """Any batching, with a small k so that compaction happens: n, min, max stay exact and the
    levels weigh n."""
    values = np.array(values, dtype=np.float64)
    bounds = sorted({0, values.size, *(c for c in cuts if c <= values.size)})
    acc = KllAccumulator(k=16)
    for lo, hi in zip(bounds, bounds[1:]):
        acc.update(values[lo:hi])
    sketch = acc.to_sketch()
    assert acc.n == sketch.n == values.size
    if values.size:
        assert acc.min == values.min() and acc.max == values.max()
        items = [x for level in sketch.levels for x in level]
        assert min(items) >= values.min() and max(items) <= values.max()


# --- hashing ---------------------------------------------------------------------------------


def test_hash_float64_normalises_zero_and_nan():
    h = hash_float64(np.array([0.0, -0.0, np.nan, -np.nan, 1.0]))
    assert h.dtype == np.uint64
    assert h[0] == h[1]
    assert h[2] == h[3]
    assert len(set(h.tolist())) == 3
    assert np.array_equal(hash_float64(np.arange(1000.0)), hash_float64(np.arange(1000.0)[::-1])[::-1])


def test_hash_float64_has_no_collisions():
    rng = np.random.default_rng(1)
    values = np.unique(np.concatenate([rng.normal(size=500_000), np.arange(500_000.0)]))
    assert np.unique(hash_float64(values)).size == values.size


_ALPHABET = list("abcdefghijklmnopqrstuvwxyz0123456789 ") + ["é", "ß", "中", "文", "😀", "\x00"]


def _random_strings(n: int, max_len: int, seed: int) -> pa.Array:
    """n random strings (lengths 0..max_len, ASCII and multi-byte characters), built with NumPy."""
    rng = np.random.default_rng(seed)
    encoded = [c.encode() for c in _ALPHABET]
    table = np.zeros((len(encoded), 4), dtype=np.uint8)
    widths = np.array([len(e) for e in encoded])
    for i, e in enumerate(encoded):
        table[i, : len(e)] = np.frombuffer(e, dtype=np.uint8)
    lengths = rng.integers(0, max_len + 1, size=n)
    chars = rng.integers(0, len(encoded), size=int(lengths.sum()))
    data = table[chars][np.arange(4) < widths[chars][:, None]]
    char_ends = np.concatenate([[0], np.cumsum(widths[chars])])
    offsets = char_ends[np.concatenate([[0], np.cumsum(lengths)])].astype(np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data.tobytes()))


def test_hash_strings_has_no_collisions():
    strings = _random_strings(1_300_000, 16, seed=3)
    strings.validate(full=True)
    distinct = strings.unique()
    assert len(distinct) > 1_000_000
    assert pc.index(distinct, "").as_py() >= 0  # the empty string is among them
    hashes = hash_strings(distinct)
    assert hashes.dtype == np.uint64 and hashes.size == len(distinct)
    assert np.unique(hashes).size == len(distinct)


def test_hash_strings_does_not_depend_on_position():
    strings = _random_strings(20_000, 30, seed=4)
    whole = hash_strings(strings)
    one_by_one = {s: hash_strings(pa.array([s]))[0] for s in strings.to_pylist()[:300]}
    for i, s in enumerate(strings.to_pylist()[:300]):
        assert whole[i] == one_by_one[s]
    for start, length in [(1, 5), (17, 1000), (9_999, 10_001), (20_000, 0)]:
        assert np.array_equal(hash_strings(strings.slice(start, length)), whole[start : start + length])
    # the same strings in another array, at other offsets, and in a chunked array
    shuffled = np.random.default_rng(0).permutation(len(strings))
    assert np.array_equal(hash_strings(strings.take(pa.array(shuffled))), whole[shuffled])
    chunked = pa.chunked_array([strings.slice(0, 7), strings.slice(7, 12_000), strings.slice(12_007)])
    assert np.array_equal(hash_strings(chunked), whole)
    assert np.array_equal(hash_strings(strings.cast(pa.large_string())), whole)
    assert hash_strings(pa.chunked_array([], type=pa.string())).size == 0
    assert hash_strings(pa.array([], type=pa.string())).size == 0


def test_hash_strings_across_block_boundaries():
    """A string hashes the same wherever it falls relative to the blocks the data is cut into."""
    target = "the same string, é中😀" * 5
    long_string = "x" * (hll._BLOCK + 12_345)
    expected = hash_strings(pa.array([target, long_string]))
    for pad in [0, 1, hll._BLOCK - 40, hll._BLOCK - 1, hll._BLOCK, 2 * hll._BLOCK + 3]:
        arr = pa.array(["p" * pad, target, long_string, target])
        h = hash_strings(arr)
        assert h[1] == h[3] == expected[0]
        assert h[2] == expected[1]
        assert np.array_equal(hash_strings(arr.slice(1)), h[1:])


def test_hash_strings_lengths_and_bytes_matter():
    values = ["", "\x00", "\x00\x00", "a", "a\x00", "\x00a", "ab", "ba", "aa", "é", "e"]
    assert np.unique(hash_strings(pa.array(values))).size == len(values)


def test_hash_strings_nulls_hash_as_empty_and_binary_is_accepted():
    h = hash_strings(pa.array(["x", None, "", "y"]))
    assert h[1] == h[2]
    assert np.array_equal(hash_strings(pa.array([b"x", b"", b"y"], type=pa.binary())), h[[0, 2, 3]])
    assert np.array_equal(hash_strings(pa.array(["x", "", "y"], type=pa.string_view())), h[[0, 2, 3]])
    with pytest.raises(TypeError):
        hash_strings(pa.array([1, 2]))


# --- distinct counter ------------------------------------------------------------------------


def test_distinct_counter_is_exact_below_the_limit():
    c = DistinctCounter()
    assert c.estimate() == 0.0
    c.update(hash_float64(np.tile([1.0, 2.0, 3.0, 4.0], 10_000)))
    assert c.estimate() == 4.0 and c.is_exact
    c = DistinctCounter()
    for batch in np.array_split(np.arange(4096.0), 7):
        c.update(hash_float64(np.concatenate([batch, batch])))
    assert c.estimate() == 4096.0 and c.is_exact
    c.update(hash_float64(np.array([5000.0])))
    assert not c.is_exact


@pytest.mark.parametrize("cardinality", [5_000, 50_000, 1_000_000])
def test_distinct_counter_estimate_within_5_percent(cardinality):
    rng = np.random.default_rng(cardinality)
    values = rng.permutation(np.arange(cardinality, dtype=np.float64) * 0.5 + 3.0)
    values = np.concatenate([values, values[: cardinality // 3]])  # with repeats
    c = DistinctCounter()
    for batch in np.array_split(values, 10):
        c.update(hash_float64(batch))
    assert not c.is_exact
    assert abs(c.estimate() / cardinality - 1) < 0.05


def test_distinct_counter_on_strings():
    strings = _random_strings(300_000, 10, seed=9)
    truth = len(strings.unique())
    c = DistinctCounter()
    c.update(hash_strings(strings))
    assert abs(c.estimate() / truth - 1) < 0.05


def test_distinct_counter_empty_registers_estimate_zero():
    c = DistinctCounter(exact_limit=0)
    c.update(np.empty(0, dtype=np.uint64))
    assert c.estimate() == 0.0
    c.update(hash_float64(np.array([1.0])))
    assert not c.is_exact and 0.9 < c.estimate() < 1.1


@pytest.mark.parametrize("cardinality", [3_000, 6_000, 200_000])
def test_distinct_counter_merge_equals_the_whole(cardinality):
    hashes = hash_float64(np.arange(cardinality, dtype=np.float64))
    whole = DistinctCounter()
    whole.update(hashes)
    a, b = DistinctCounter(), DistinctCounter()
    a.update(hashes[: cardinality // 2])
    b.update(hashes[cardinality // 3 :])
    ab, ba = pickle.loads(pickle.dumps(a)), pickle.loads(pickle.dumps(b))
    ab.merge(b)
    ba.merge(a)
    for merged in (ab, ba):
        assert merged.is_exact == whole.is_exact
        assert np.array_equal(merged.registers(), whole.registers())
        assert merged.estimate() == whole.estimate()
    # other groupings and orders of the same hashes
    pieces = np.array_split(np.random.default_rng(0).permutation(hashes), 9)
    counters = []
    for piece in pieces:
        c = DistinctCounter()
        c.update(piece)
        counters.append(c)
    total = DistinctCounter()
    for c in counters[::-1]:
        total.merge(c)
    assert np.array_equal(total.registers(), whole.registers())
    assert total.estimate() == whole.estimate()


def test_distinct_counter_pickles_and_checks_lg_k():
    c = DistinctCounter()
    c.update(hash_float64(np.arange(10_000.0)))
    copy = pickle.loads(pickle.dumps(c))
    assert copy.estimate() == c.estimate()
    assert np.array_equal(copy.registers(), c.registers())
    with pytest.raises(ValueError):
        c.merge(DistinctCounter(lg_k=10))


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(st.lists(st.integers(0, 300), max_size=200), max_size=6),
    exact_limit=st.sampled_from([0, 1, 50, 4096]),
)
def test_distinct_counter_exact_set_is_the_distinct_hashes(batches, exact_limit):
    """Small values (uneven as hashes go) in any batching: the exact set, or the registers once
    it overflows, are those of all the hashes at once."""
    whole = np.array([v for batch in batches for v in batch], dtype=np.uint64)
    c = DistinctCounter(lg_k=6, exact_limit=exact_limit)
    for batch in batches:
        c.update(np.array(batch, dtype=np.uint64))
    distinct = np.unique(whole)
    if distinct.size <= exact_limit:
        assert c.is_exact and c.estimate() == distinct.size
    else:
        reference = DistinctCounter(lg_k=6, exact_limit=0)
        reference.update(whole)
        assert not c.is_exact and np.array_equal(c.registers(), reference.registers())
