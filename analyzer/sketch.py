"""KLL quantile sketches in SageMaker's wire shape, and the bridge from Spark's sketches.

SageMaker stores a sketch as ``{"parameters": {"c": c, "k": k}, "data": [[level 0], [level 1], ...]}``
where every item kept at level ``h`` stands for ``2**h`` values. Both SageMaker's own sketches
(Deequ ``QuantileNonSample``) and ours (Apache DataSketches KLL, built by Spark's
``kll_sketch_agg_double``) reduce to that form: a multiset of items with power-of-two weights.
Everything this project computes from a sketch (bucket counts, CDFs, drift) uses only those
weighted items, so baselines from either analyzer are read the same way.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# DataSketches KLL keeps level capacities k * (2/3)**depth: that is its shrink factor c.
DATASKETCHES_C = 2.0 / 3.0
DEFAULT_K = 2048


@dataclass(frozen=True)
class KllSketch:
    """Retained items by compactor level; items at level ``h`` weigh ``2**h``."""

    k: float
    c: float
    levels: tuple[tuple[float, ...], ...]

    @staticmethod
    def from_values(values: "np.ndarray | list[float]", k: int = DEFAULT_K) -> "KllSketch":
        """An exact sketch (one level) of a small set of values, for tests and tiny inputs."""
        return KllSketch(float(k), DATASKETCHES_C, (tuple(float(v) for v in values),))

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
        levels = tuple(tuple(float(x) for x in level) for level in data)
        return KllSketch(float(params.get("k", DEFAULT_K)), float(params.get("c", 0.64)), levels)


@dataclass(frozen=True)
class SparkKll:
    """A DataSketches KLL sketch with the exact count, minimum and maximum it carries."""

    sketch: KllSketch
    n: int
    min: float | None
    max: float | None


def read_spark_kll(data: bytes | bytearray | None, k: int = DEFAULT_K) -> SparkKll:
    """Parse Spark's ``kll_sketch_agg_double`` bytes (DataSketches' compact serialisation, read
    directly: the item levels are what SageMaker's file stores); ``None`` (no values) is an
    empty sketch."""
    if data is None:
        return SparkKll(KllSketch(float(k), DATASKETCHES_C, ()), 0, None, None)
    k_read, c, levels, n, lo, hi = _parse_datasketches_kll(bytes(data))
    return SparkKll(KllSketch(k_read, c, levels), n, lo, hi)


def normalized_rank_error(k: int = DEFAULT_K) -> float:
    """DataSketches' single-sided normalised rank error bound (99% confidence) for size k."""
    from datasketches import kll_doubles_sketch

    return float(kll_doubles_sketch.get_normalized_rank_error(int(k), False))


_FLAG_EMPTY = 1
_FLAG_SINGLE_ITEM = 4


def _parse_datasketches_kll(buf: bytes) -> tuple[float, float, tuple[tuple[float, ...], ...], int, float | None, float | None]:
    """k, c, levels, n, min and max of a DataSketches KLL doubles sketch in its compact serial form.

    Layout (little-endian): byte 0 preamble ints, 1 serial version, 2 family (15 = KLL),
    3 flags, 4-5 k, 6 m; a full sketch (5 preamble ints) continues with n (uint64, bytes 8-15),
    min k (16-17), the number of levels L (18), L int32 level offsets from byte 20 (the end
    offset is implied), min and max (two doubles), then the retained items, level 0 first.
    An empty sketch has flag 1; a one-item sketch (flag 4) holds its item at byte 8.
    """
    if len(buf) < 8 or buf[2] != 15:
        raise ValueError("not a DataSketches KLL sketch")
    flags, k = buf[3], struct.unpack_from("<H", buf, 4)[0]
    if flags & _FLAG_EMPTY:
        return float(k), DATASKETCHES_C, (), 0, None, None
    if flags & _FLAG_SINGLE_ITEM:
        item = struct.unpack_from("<d", buf, 8)[0]
        return float(k), DATASKETCHES_C, ((item,),), 1, item, item
    n = struct.unpack_from("<Q", buf, 8)[0]
    num_levels = buf[18]
    offsets = list(struct.unpack_from(f"<{num_levels}i", buf, 20))
    lo, hi = struct.unpack_from("<2d", buf, 20 + 4 * num_levels)
    items_at = 20 + 4 * num_levels + 16
    retained = (len(buf) - items_at) // 8
    items = struct.unpack_from(f"<{retained}d", buf, items_at)
    offsets.append(offsets[0] + retained)
    base = offsets[0]
    levels = tuple(tuple(items[offsets[h] - base : offsets[h + 1] - base]) for h in range(num_levels))
    weight = sum(len(level) << h for h, level in enumerate(levels))
    if weight != n:
        raise ValueError(f"KLL sketch levels weigh {weight}, header says n={n}")
    while levels and not levels[-1]:
        levels = levels[:-1]
    return float(k), DATASKETCHES_C, levels, n, lo, hi
