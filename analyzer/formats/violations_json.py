"""``constraint_violations.json``."""
from __future__ import annotations

from typing import Any, Iterable

from ..model import Violation
from ._common import require


def to_dict(violations: Iterable[Violation]) -> dict:
    return {
        "violations": [
            {
                "feature_name": v.feature_name,
                "constraint_check_type": v.constraint_check_type,
                "description": v.description,
            }
            for v in violations
        ]
    }


def from_dict(d: Any) -> list[Violation]:
    items = require(d, "violations", list, "constraint_violations")
    return [
        Violation(str(v.get("feature_name", "")), str(v["constraint_check_type"]), str(v.get("description", "")))
        for v in items
    ]
