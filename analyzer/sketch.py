"""KLL quantile sketches in SageMaker's wire shape, and the engine's own KLL accumulator.

SageMaker stores a sketch as ``{"parameters": {"c": c, "k": k}, "data": [[level 0], [level 1], ...]}``
where every item kept at level ``h`` stands for ``2**h`` values. Both SageMaker's own sketches
(Deequ ``QuantileNonSample``) and ours (:class:`KllAccumulator`, with Deequ's k = 2048 and
c = 0.64) have that form: a multiset of items with power-of-two weights. Everything this
project computes from a sketch (bucket counts, CDFs, drift) uses only those weighted items, so
baselines from either analyzer are read the same way.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# Deequ's (and SageMaker's) KLL parameters.
DEFAULT_K = 2048
DEFAULT_C = 0.64
MAX_LEVELS = 64  # a KLL sketch of fewer than 2**64 values has at most 64 levels (level i weighs 2**i)


@dataclass(frozen=True)
class KllSketch:
    """Retained items by compactor level; items at level ``h`` weigh ``2**h``."""

    k: float
    c: float
    levels: tuple[tuple[float, ...], ...]

    @staticmethod
    def from_values(values: "np.ndarray | list[float]", k: int = DEFAULT_K) -> "KllSketch":
        """An exact sketch (one level) of a small set of values, for tests and tiny inputs."""
        return KllSketch(float(k), DEFAULT_C, (tuple(float(v) for v in values),))

    @property
    def n(self) -> int:
        """Total weight: the number of values the sketch summarises."""
        return sum(len(level) << h for h, level in enumerate(self.levels))

    @cached_property
    def _sorted(self) -> tuple[np.ndarray, np.ndarray]:
        items = np.fromiter((x for level in self.levels for x in level), dtype=float)
        weights = np.fromiter(
            (1 << h for h, level in enumerate(self.levels) for _ in level), dtype=float
        )
        order = np.argsort(items, kind="stable")
        return items[order], weights[order]

    @cached_property
    def _cumulative(self) -> np.ndarray:
        return np.concatenate(([0.0], np.cumsum(self._sorted[1])))

    @property
    def items(self) -> np.ndarray:
        """Retained items, sorted."""
        return self._sorted[0]

    def rank(self, x: "float | np.ndarray") -> "float | np.ndarray":
        """Weighted number of summarised values <= x."""
        return self._cumulative[np.searchsorted(self._sorted[0], x, side="right")]

    def rank_exclusive(self, x: "float | np.ndarray") -> "float | np.ndarray":
        """Weighted number of summarised values < x."""
        return self._cumulative[np.searchsorted(self._sorted[0], x, side="left")]

    def quantile(self, q: float) -> float:
        """Smallest retained item whose inclusive normalised rank reaches q."""
        n = self.n
        if n == 0:
            return math.nan
        idx = int(np.searchsorted(self._cumulative[1:], q * n, side="left"))
        return float(self._sorted[0][min(idx, len(self._sorted[0]) - 1)])

    def to_dict(self) -> dict:
        return {
            "parameters": {"c": float(self.c), "k": float(self.k)},
            "data": [list(level) for level in self.levels],
        }

    @staticmethod
    def from_dict(d: dict) -> "KllSketch":
        params = d.get("parameters") or {}
        data = d.get("data") or []
        if not isinstance(data, list) or not all(isinstance(level, list) for level in data):
            raise ValueError("sketch.data must be a list of lists of numbers")
        if len(data) > MAX_LEVELS:  # level i weighs 2**i: a deeper sketch would hold more values than exist
            raise ValueError(f"sketch.data has {len(data)} levels, more than the {MAX_LEVELS} of any KLL sketch")
        levels = tuple(tuple(float(x) for x in level) for level in data)
        return KllSketch(float(params.get("k", DEFAULT_K)), float(params.get("c", 0.64)), levels)


def normalized_rank_error(k: int = DEFAULT_K) -> float:
    """DataSketches' single-sided normalised rank error bound (99% confidence) for size k: the
    bound the tests hold our sketches to (needs the ``datasketches`` package, a test dependency)."""
    from datasketches import kll_doubles_sketch

    return float(kll_doubles_sketch.get_normalized_rank_error(int(k), False))




# --- Deterministic KLL accumulator ---------------------------------------------------------

# Levels never shrink below this many items (DataSketches' minimum level width; Deequ uses 2).
KLL_MIN_WIDTH = 8
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """The splitmix64 output function of a 64-bit integer (a bijective, well-mixed hash)."""
    z = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def _merge_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted union (with repeats) of two sorted float64 arrays, as a new array."""
    if a.size == 0:
        return b.copy()
    if b.size == 0:
        return a.copy()
    # Timsort finds the two runs and merges them in linear time.
    return np.sort(np.concatenate((a, b)), kind="stable")


class KllAccumulator:
    """A mergeable, deterministic KLL quantile sketch of float64 values, fed in batches.

    Items at level ``h`` weigh ``2**h``. With ``H`` levels, level ``h`` may hold
    ``max(KLL_MIN_WIDTH, ceil(k * c**(H-1-h)))`` items (Karnin, Lang and Liberty's capacities, as
    in Deequ's ``QuantileNonSample``, with DataSketches' minimum width of 8). Whenever a level
    exceeds its capacity, the lowest such level is compacted: it is sorted, one item stays behind
    if the count is odd, and every second item of the rest (offset 0 or 1) moves up a level, until
    every level fits. A compaction of a sorted buffer, whatever its size, moves any rank by at most
    the weight of its items, so a whole batch can be compacted at once.

    The offset of each compaction is pseudo-random but deterministic: a splitmix64 hash of the
    level, the number of compactions done at that level so far (a counter kept in the state;
    merging adds the counters) and a checksum of the items compacted. The same sequence of
    :meth:`update` and :meth:`merge` calls thus always gives the same sketch, which keeps reports
    byte-identical between runs. DataSketches' own KLL cannot do this: its compactions draw an
    unseeded random bit. ``-0.0`` is taken as ``0.0`` (they rank alike), in the retained items
    and in the minimum and maximum, so that no output depends on which zero a sort or a
    reduction happens to put first.

    Parameters
    ----------
    k : int
        Capacity of the top level: the larger, the smaller the rank error (for k = 2048,
        about the 0.0014 of :func:`normalized_rank_error`, DataSketches' 99% bound).
    c : float
        Shrink factor of the capacities from one level to the one below, in (0, 1].
        2048 and 0.64 are Deequ's and SageMaker's values.

    Examples
    --------
    >>> acc = KllAccumulator(k=256)
    >>> acc.update(np.arange(10_000, dtype=float))
    >>> acc.n, acc.min, acc.max
    (10000, 0.0, 9999.0)
    >>> sketch = acc.to_sketch()
    >>> sketch.n
    10000
    >>> bool(abs(sketch.rank(4999.0) - 5000) < 0.02 * 10_000)
    True
    """

    def __init__(self, k: int = DEFAULT_K, c: float = 0.64) -> None:
        if int(k) != k or k < 2:
            raise ValueError(f"k must be an integer >= 2, got {k!r}")
        if not 0.0 < c <= 1.0:
            raise ValueError(f"c must be in (0, 1], got {c!r}")
        self.k: int = int(k)
        self.c: float = float(c)
        # Level 0 is kept unsorted (it is sorted when compacted); every higher level is sorted.
        self._levels: list[np.ndarray] = []
        # Number of compactions done so far at each level: the seed of the next offset bit.
        self._compactions: list[int] = []
        self._n: int = 0
        self._min: float | None = None
        self._max: float | None = None

    @property
    def n(self) -> int:
        """Exact number of values summarised."""
        return self._n

    @property
    def min(self) -> float | None:
        """Exact smallest value, or ``None`` when empty."""
        return self._min

    @property
    def max(self) -> float | None:
        """Exact largest value, or ``None`` when empty."""
        return self._max

    @property
    def num_retained(self) -> int:
        """Number of items the sketch keeps, over all levels."""
        return sum(level.size for level in self._levels)

    @property
    def num_levels(self) -> int:
        """Number of levels up to the highest non-empty one."""
        h = len(self._levels)
        while h and self._levels[h - 1].size == 0:
            h -= 1
        return h

    def capacities(self, num_levels: int) -> list[int]:
        """Capacity of each level when the sketch has ``num_levels`` levels, level 0 first."""
        return [
            max(KLL_MIN_WIDTH, math.ceil(self.k * self.c ** (num_levels - 1 - h)))
            for h in range(num_levels)
        ]

    def update(self, values: np.ndarray) -> None:
        """Add a batch of values (float64, without NaN; the array is only read).

        Parameters
        ----------
        values : numpy.ndarray
            The values; any shape (flattened), possibly empty or read-only.
        """
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            return
        # +0.0 turns -0.0 into 0.0, whichever of the two zeros NumPy's reduction returns
        lo, hi = float(values.min()) + 0.0, float(values.max()) + 0.0
        self._min = lo if self._min is None or lo < self._min else self._min
        self._max = hi if self._max is None or hi > self._max else self._max
        self._n += int(values.size)
        if not self._levels:
            self._levels.append(np.empty(0, dtype=np.float64))
            self._compactions.append(0)
        # A copy, so the sketch never shares memory with the caller's array. Adding +0.0 turns
        # -0.0 into 0.0: equal items are then bit-identical, so the retained items do not depend
        # on how a sort orders ties.
        old = self._levels[0]
        level = np.empty(old.size + values.size, dtype=np.float64)
        level[: old.size] = old
        np.add(values, 0.0, out=level[old.size :])
        self._levels[0] = level
        self._compress()

    def merge(self, other: "KllAccumulator") -> None:
        """Add everything ``other`` summarises to this sketch, in place (``other`` is unchanged).

        The result depends only on the two states: level ``h`` of both is pooled, the compaction
        counters are added, then levels over capacity are compacted as in :meth:`update`.

        Parameters
        ----------
        other : KllAccumulator
            A sketch with the same ``k`` and ``c``.
        """
        if (other.k, other.c) != (self.k, self.c):
            raise ValueError(
                f"cannot merge KLL sketches with k, c = {other.k}, {other.c} into {self.k}, {self.c}"
            )
        if other._n == 0:
            return
        # snapshots, so that merging a sketch into itself reads a consistent state
        their_levels, their_counts = list(other._levels), list(other._compactions)
        if self._n == 0:
            self._min, self._max = other._min, other._max
        else:
            self._min = min(self._min, other._min)  # type: ignore[type-var]
            self._max = max(self._max, other._max)  # type: ignore[type-var]
        self._n += other._n
        while len(self._levels) < len(their_levels):
            self._levels.append(np.empty(0, dtype=np.float64))
            self._compactions.append(0)
        for h, (items, count) in enumerate(zip(their_levels, their_counts)):
            if h == 0:
                self._levels[0] = np.concatenate((self._levels[0], items))
            else:
                self._levels[h] = _merge_sorted(self._levels[h], items)
            self._compactions[h] += count
        self._compress()

    def to_sketch(self) -> KllSketch:
        """The retained items as an immutable :class:`KllSketch` (each level sorted, level 0
        first, no trailing empty levels)."""
        levels = [np.sort(level) if h == 0 else level for h, level in enumerate(self._levels)]
        while levels and levels[-1].size == 0:
            levels.pop()
        return KllSketch(float(self.k), self.c, tuple(tuple(level.tolist()) for level in levels))

    def _compress(self) -> None:
        """Compact the lowest level over capacity until every level fits."""
        while True:
            capacities = self.capacities(len(self._levels))
            for h, (level, capacity) in enumerate(zip(self._levels, capacities)):
                if level.size > capacity:
                    self._compact(h)
                    break
            else:
                return

    def _compact(self, h: int) -> None:
        """Halve level ``h``: every second item of it (sorted) moves to level ``h + 1``."""
        items = self._levels[h]
        if h == 0:
            items = np.sort(items)
        # The seed mixes the level, the counter and a checksum of the items: accumulators that
        # profile different parts of a column then draw different bits, so the bias of one
        # compaction (offset 0 raises ranks, offset 1 lowers them) does not repeat in every part.
        checksum = int(items.view(np.uint64).sum(dtype=np.uint64))
        seed = (h + 1) * 0xD1B54A32D192ED03 + self._compactions[h] * 0x9E3779B97F4A7C15
        bits = _splitmix64((seed ^ checksum) & _MASK64)
        self._compactions[h] += 1
        if items.size % 2:
            # the odd item out stays behind: the smallest or the largest, by another hash bit
            if bits & 2:
                kept, items = items[:1].copy(), items[1:]
            else:
                kept, items = items[-1:].copy(), items[:-1]
        else:
            kept = items[:0].copy()
        promoted = items[bits & 1 :: 2]
        self._levels[h] = kept
        if h + 1 == len(self._levels):
            self._levels.append(promoted.copy())
            self._compactions.append(0)
        else:
            self._levels[h + 1] = _merge_sorted(self._levels[h + 1], promoted)
