"""Comparing two statistics.json documents of the same data computed in different ways (drivers,
partitionings): counts, types, min/max, distinct counts and categorical buckets exactly; mean,
sum and std_dev to 1e-9 relative; KLL bucket counts within 2 * eps * n, eps being the sketch's
normalised rank error (each count is a difference of two ranks)."""
from __future__ import annotations

import pytest

from analyzer.sketch import normalized_rank_error


def assert_same_statistics(ours: dict, theirs: dict, k: int = 2048) -> None:
    assert ours["dataset"] == theirs["dataset"]
    assert [(f["name"], f["inferred_type"]) for f in ours["features"]] == [
        (f["name"], f["inferred_type"]) for f in theirs["features"]
    ]
    eps = normalized_rank_error(k)
    for a, b in zip(ours["features"], theirs["features"]):
        if "numerical_statistics" in b:
            na, nb = a["numerical_statistics"], b["numerical_statistics"]
            assert na["common"] == nb["common"], a["name"]
            assert (na["min"], na["max"]) == (nb["min"], nb["max"]), a["name"]
            assert na["approximate_num_distinct_values"] == nb["approximate_num_distinct_values"], a["name"]
            for key in ("mean", "sum", "std_dev"):
                assert na[key] == pytest.approx(nb[key], rel=1e-9), (a["name"], key)
            ba, bb = na["distribution"]["kll"]["buckets"], nb["distribution"]["kll"]["buckets"]
            assert [(x["lower_bound"], x["upper_bound"]) for x in ba] == [(x["lower_bound"], x["upper_bound"]) for x in bb]
            n = na["common"]["num_present"]
            for x, y in zip(ba, bb):
                assert abs(x["count"] - y["count"]) <= 2 * eps * n, (a["name"], x, y)
        else:
            assert a["string_statistics"] == b["string_statistics"], a["name"]
