"""The six SageMaker data-quality checks, as pure functions returning violations.

Each check is keyed by its stable ``constraint_check_type`` and has one description template.
``validate`` runs them feature by feature, honouring ``monitoring_config`` and each feature's
overrides, and also returns the drift distances (published as CloudWatch metrics).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import maths
from .dtypes import InferredType, TypeCounts, ValueClass, infer_type
from .maths import java_double  # descriptions print numbers as SageMaker does
from .model import Constraints, FeatureConstraints, FeatureStatistics, Statistics, Violation

DATA_TYPE_CHECK = "data_type_check"
COMPLETENESS_CHECK = "completeness_check"
BASELINE_DRIFT_CHECK = "baseline_drift_check"
MISSING_COLUMN_CHECK = "missing_column_check"
EXTRA_COLUMN_CHECK = "extra_column_check"
CATEGORICAL_VALUES_CHECK = "categorical_values_check"


def _percent(fraction: float) -> str:
    return java_double(fraction * 100)


# ---------------------------------------------------------------- what a person needs to act
# Each description starts with SageMaker's own sentence, unchanged; what we add follows on a line
# of its own. Readers of SageMaker's reports parse that sentence with patterns such as AWS's
# `distance: (.+) exceeds threshold: (.+)`, whose `.` stops at a line break: on the same line,
# anything after the threshold would become part of it.
DESCRIPTION_MAX_CHARS = 999  # descriptions stay under 1,000 characters
QUOTED_MAX_CHARS = 40  # a value or category name longer than this is clipped where shown


def _described(sentence: str, details: str) -> str:
    if not details:
        return sentence
    text = f"{sentence}\n{details}"
    return text if len(text) <= DESCRIPTION_MAX_CHARS else text[: DESCRIPTION_MAX_CHARS - 1] + "\u2026"


def _num(x: float) -> str:
    """A number in 4 significant digits (Java's doubles are for SageMaker's sentences).

    Examples
    --------
    >>> [_num(v) for v in (0.30791265775509713, 1234567.0, -0.00012345, 3.0, -0.0)]
    ['0.3079', '1.235e+06', '-0.0001234', '3', '0']
    """
    if not math.isfinite(x):
        return java_double(x)
    text = f"{x:.4g}"
    return "0" if text == "-0" else text


def _share(fraction: float) -> str:
    return f"{_num(fraction * 100)}%"


def _quoted(value: str) -> str:
    """A value as shown in a description: quoted and escaped (spaces, line breaks and other
    invisible characters show), clipped to QUOTED_MAX_CHARS characters."""
    if len(value) > QUOTED_MAX_CHARS:
        value = value[:QUOTED_MAX_CHARS] + "\u2026"
    text = repr(value)
    return text if len(text) <= QUOTED_MAX_CHARS + 8 else text[: QUOTED_MAX_CHARS + 7] + "\u2026"


# SageMaker's two methods, and ours (see :func:`drift`).
COMPARISON_METHODS = ("Simple", "Robust", "Calibrated")


@dataclass(frozen=True)
class CurrentFeature:
    """What the checks need of one current column."""

    statistics: FeatureStatistics
    type_counts: TypeCounts
    item_count: int
    outside_domain: int | None = None  # values not in the baseline domain, when one exists
    # value class name -> the first few distinct values of that class (states.Examples)
    examples: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureConfig:
    """monitoring_config with a feature's overrides applied."""

    evaluate_constraints: str
    datatype_check_threshold: float
    domain_content_threshold: float
    perform_comparison: str
    comparison_threshold: float
    comparison_method: str
    categorical_comparison_threshold: float
    categorical_drift_method: str

    @staticmethod
    def of(constraints: Constraints, feature: FeatureConstraints | None) -> "FeatureConfig":
        mc = constraints.monitoring_config
        dc = mc.distribution_constraints
        values: dict[str, Any] = {
            "evaluate_constraints": mc.evaluate_constraints,
            "datatype_check_threshold": mc.datatype_check_threshold,
            "domain_content_threshold": mc.domain_content_threshold,
            "perform_comparison": dc.perform_comparison,
            "comparison_threshold": dc.comparison_threshold,
            "comparison_method": dc.comparison_method,
            "categorical_comparison_threshold": dc.categorical_comparison_threshold,
            "categorical_drift_method": dc.categorical_drift_method,
        }
        overrides = dict(feature.overrides) if feature else {}
        nested = overrides.pop("distribution_constraints", None)
        if isinstance(nested, dict):
            overrides.update(nested)
        for key, value in overrides.items():
            if key in values and value is not None:
                try:  # the file readers check overrides; constraints built in code may not be
                    values[key] = type(values[key])(value)
                except (TypeError, ValueError):
                    raise ValueError(f"override {key} of feature {feature.name if feature else '?'}: {value!r}") from None
        if values["comparison_method"] not in COMPARISON_METHODS:
            raise ValueError(
                f"comparison_method must be 'Simple', 'Robust' or 'Calibrated', got {values['comparison_method']!r}"
            )
        return FeatureConfig(**values)


# ---------------------------------------------------------------- the checks
def data_type_check(name: str, expected: InferredType, current: CurrentFeature, threshold: float) -> Violation | None:
    """Share of non-null values of the baseline type, against ``datatype_check_threshold``.

    Integral values do not count for a Fractional feature (as in SageMaker's reports). A String
    feature accepts any value unless every current value is numeric: then its type has changed
    and the share of String values (0%) is reported, as SageMaker does. The description adds how
    many values are not of the type, and up to five of them.
    """
    counts = current.type_counts
    if counts.non_null == 0 or expected is InferredType.UNKNOWN:
        return None
    if expected is InferredType.STRING:
        matching = 0 if infer_type(counts).is_numeric else counts.non_null
    else:
        matching = counts.count_of(expected)
    share = matching / counts.non_null
    if share >= threshold:
        return None
    sentence = (
        f"Data type match requirement is not met. Expected data type: {expected.value}, "
        f"Expected match: {_percent(threshold)}%. Observed: Only {_percent(share)}% of data is {expected.value}."
    )
    details = f"{counts.non_null - matching} of {counts.non_null} non-null values are not {expected.value}"
    examples = _offending_examples(expected, counts, current.examples)
    if examples:
        details += ", e.g. " + ", ".join(
            f"{', '.join(_quoted(v) for v in values)} ({cls})" for cls, values in examples
        )
    return Violation(name, DATA_TYPE_CHECK, _described(sentence, details + "."))


# Value classes by what the data type check counts them as (dtypes.TypeCounts.count_of).
_COUNTED_AS = {
    ValueClass.FRACTIONAL: InferredType.FRACTIONAL, ValueClass.INTEGRAL: InferredType.INTEGRAL,
    ValueClass.BOOLEAN: InferredType.STRING, ValueClass.STRING: InferredType.STRING,
}


def _offending_examples(expected: InferredType, counts: TypeCounts,
                        examples: Mapping[str, tuple[str, ...]], limit: int = 5) -> list[tuple[str, list[str]]]:
    """Up to ``limit`` example values not of the ``expected`` type, by class: the classes with
    the most values first, taking one example of each in turn (so a rare class shows too)."""
    size = {ValueClass.FRACTIONAL: counts.fractional, ValueClass.INTEGRAL: counts.integral,
            ValueClass.BOOLEAN: counts.boolean, ValueClass.STRING: counts.string}
    classes = [c for c in _COUNTED_AS if _COUNTED_AS[c] is not expected and size[c] and examples.get(c.value)]
    classes.sort(key=lambda c: -size[c])  # stable: ties keep the declared order
    chosen: dict[str, list[str]] = {c.value: [] for c in classes}
    taken = 0
    for turn in range(limit):
        for c in classes:
            if taken < limit and turn < len(examples[c.value]):
                chosen[c.value].append(examples[c.value][turn])
                taken += 1
    return [(cls, values) for cls, values in chosen.items() if values]


def completeness_check(name: str, required: float | None, current: CurrentFeature) -> Violation | None:
    if required is None or current.item_count == 0:
        return None
    present = current.statistics.common.num_present
    observed = present / current.item_count
    if observed >= required:
        return None
    sentence = f"Data completeness requirement is not met. Expected: {_percent(required)}%. Observed: Only {_percent(observed)}%."
    return Violation(name, COMPLETENESS_CHECK, _described(
        sentence, f"{current.item_count - present} of {current.item_count} values are missing."))


def categorical_values_check(
    name: str, domains: tuple[str, ...] | None, current: CurrentFeature, threshold: float
) -> Violation | None:
    present = current.statistics.common.num_present
    if not domains or current.outside_domain is None or present == 0:
        return None
    inside = present - current.outside_domain
    share = inside / present
    if share >= threshold:
        return None
    unseen = ""
    buckets = current.statistics.string.buckets if current.statistics.string else None
    if buckets:
        allowed = set(domains)
        examples = [b.value for b in buckets if b.value not in allowed][:5]
        unseen = f"Values not in the baseline domain include: {', '.join(_quoted(v) for v in examples)}."
    sentence = (
        f"Data content requirement is not met. Expected: {_percent(threshold)}% of values in the baseline domain "
        f"of {len(domains)} values. Observed: Only {_percent(share)}% ({inside} of {present} values)."
    )
    return Violation(name, CATEGORICAL_VALUES_CHECK, _described(sentence, unseen))


@dataclass(frozen=True)
class Drift:
    distance: float
    threshold: float
    method: str
    margin: float = 0.0  # Calibrated: the gap sampling and the sketches' rank error can explain
    n: float = 0.0  # Calibrated: the baseline and current sizes behind the margin
    m: float = 0.0

    @property
    def exceeded(self) -> bool:
        if self.method == "ChiSquared":  # a p-value: drift when it is small
            return not math.isnan(self.distance) and self.distance < self.threshold
        if self.method == "Calibrated":
            return self.distance > max(self.threshold, self.margin)
        return self.distance > self.threshold


def _calibrated(distance: float, n: float, m: float, threshold: float, allowance: float = 0.0) -> Drift:
    margin = maths.calibrated_margin(n, m, allowance) if n > 0 and m > 0 else math.inf
    return Drift(distance, threshold, "Calibrated", margin, n, m)


def drift(baseline: FeatureStatistics, current: FeatureStatistics, cfg: FeatureConfig) -> Drift | None:
    """Distance between baseline and current distributions (Deequ ``Distance``), or None when
    it cannot be computed (types differ, or a side has no sketch / no categorical buckets)."""
    if cfg.perform_comparison != "Enabled" or baseline.inferred_type is not current.inferred_type:
        return None
    if baseline.inferred_type.is_numeric:
        b, c = baseline.numerical, current.numerical
        if b is None or c is None or b.sketch is None or c.sketch is None or not b.sketch.n or not c.sketch.n:
            return None
        if cfg.comparison_method == "Calibrated":
            d, n, m = maths.linf_numerical_exact(b.sketch, c.sketch)
            allowance = maths.sketch_rank_error(b.sketch) + maths.sketch_rank_error(c.sketch)
            return _calibrated(d, n, m, cfg.comparison_threshold, allowance)
        d, n, m = maths.linf_numerical(b.sketch, c.sketch)
        return Drift(maths.apply_method(d, n, m, cfg.comparison_method), cfg.comparison_threshold, cfg.comparison_method)
    if baseline.inferred_type is InferredType.STRING:
        b, c = baseline.string, current.string
        if b is None or c is None or not b.buckets or not c.buckets:
            return None
        if cfg.categorical_drift_method == "ChiSquared":
            p = maths.chi_square_p_value(b.frequencies(), c.frequencies())
            return Drift(p, cfg.categorical_comparison_threshold, "ChiSquared")
        d, n, m = maths.linf_categorical(b.frequencies(), c.frequencies())
        if cfg.comparison_method == "Calibrated":
            return _calibrated(d, n, m, cfg.categorical_comparison_threshold)
        return Drift(maths.apply_method(d, n, m, cfg.comparison_method), cfg.categorical_comparison_threshold, cfg.comparison_method)
    return None


def baseline_drift_check(name: str, result: Drift | None, baseline: FeatureStatistics | None = None,
                         current: FeatureStatistics | None = None) -> Violation | None:
    """A drift violation, SageMaker's sentence first; with the two features' statistics, the
    description adds where the distributions differ (:func:`_drift_details`)."""
    if result is None or not result.exceeded:
        return None
    if result.method == "ChiSquared":
        sentence = f"Baseline drift chi-squared p-value: {java_double(result.distance)} is below threshold: {java_double(result.threshold)}"
    else:
        sentence = f"Baseline drift distance: {java_double(result.distance)} exceeds threshold: {java_double(result.threshold)}"
    details = []
    if result.method == "Calibrated":
        details.append(
            f"Calibrated: also above {_num(result.margin)}, the largest gap that sampling and sketch error explain "
            f"in at least 99% of 20-feature runs (n={int(result.n)}, m={int(result.m)})."
        )
    if baseline is not None and current is not None:
        details.append(_drift_details(result, baseline, current))
    return Violation(name, BASELINE_DRIFT_CHECK, _described(sentence, " ".join(d for d in details if d)))


PERCENTILES = (0.1, 0.5, 0.9)


def _drift_details(result: Drift, baseline: FeatureStatistics, current: FeatureStatistics) -> str:
    """Numeric: the value where the CDF gap is largest (of the CDFs the method compares) with the
    share of each side at or below it, and both sides' 10th, 50th and 90th percentiles, all from
    the KLL sketches. Categorical: the three categories whose share moved most."""
    if baseline.inferred_type.is_numeric:
        b = baseline.numerical.sketch if baseline.numerical else None
        c = current.numerical.sketch if current.numerical else None
        if b is None or c is None or not b.n or not c.n:
            return ""
        at = maths.largest_gap_at(b, c, exact=result.method == "Calibrated")
        below = f"values <= {_num(at)}: baseline {_share(b.rank(at) / b.n)}, current {_share(c.rank(at) / c.n)}"
        quantiles = [" / ".join(_num(s.quantile(q)) for q in PERCENTILES) for s in (b, c)]
        return (f"Largest CDF gap at {_num(at)} ({below}). "
                f"10th / 50th / 90th percentiles: baseline {quantiles[0]}, current {quantiles[1]}.")
    if baseline.string is None or current.string is None:
        return ""
    moved = maths.share_changes(baseline.string.frequencies(), current.string.frequencies())
    if not moved:
        return ""
    listed = ", ".join(f"{_quoted(k)} {_share(p)} -> {_share(q)}" for k, p, q in moved)
    return f"Largest share changes, baseline -> current: {listed}."


MISSING_NAMES_SHOWN = 10


def missing_column_check(current_columns: int, baseline_columns: int, missing: Sequence[str] = ()) -> Violation:
    """One violation for all the missing columns, in the words of a real 2026 SageMaker report,
    then which ones (the first ten, in baseline order)."""
    shown = ", ".join(_quoted(name) for name in missing[:MISSING_NAMES_SHOWN])
    more = f" and {len(missing) - MISSING_NAMES_SHOWN} more" if len(missing) > MISSING_NAMES_SHOWN else ""
    return Violation(
        "Missing columns",
        MISSING_COLUMN_CHECK,
        _described(
            f"There are missing columns in current dataset. Number of columns in current dataset: {current_columns}, "
            f"Number of columns in baseline constraints: {baseline_columns}",
            f"Missing: {shown}{more}." if missing else "",
        ),
    )


def extra_column_check(name: str, current_columns: int, baseline_columns: int) -> Violation:
    return Violation(
        name,
        EXTRA_COLUMN_CHECK,
        f"Column {name} of the current dataset is not in the baseline constraints "
        f"(current dataset: {current_columns} columns, baseline: {baseline_columns} columns).",
    )


# ---------------------------------------------------------------- all together
@dataclass(frozen=True)
class ValidationResult:
    violations: tuple[Violation, ...]
    drift: Mapping[str, float] = field(default_factory=dict)


def validate(
    current: Mapping[str, CurrentFeature],
    current_columns: list[str],
    constraints: Constraints,
    baseline: Statistics | None,
) -> ValidationResult:
    """Check current columns against baseline constraints (and statistics, for drift).

    Violations come in baseline feature order, then one missing_column_check for all missing
    columns, then extra columns in current order.
    """
    violations: list[Violation] = []
    distances: dict[str, float] = {}
    if constraints.monitoring_config.evaluate_constraints != "Enabled":
        return ValidationResult(())
    baseline_names = [f.name for f in constraints.features]
    n_current, n_base = len(current_columns), len(baseline_names)
    missing: list[str] = []
    for feature in constraints.features:
        cfg = FeatureConfig.of(constraints, feature)
        if cfg.evaluate_constraints != "Enabled":
            continue
        name = feature.name
        if name not in current:
            missing.append(name)
            continue
        cur = current[name]
        found = [
            data_type_check(name, feature.inferred_type, cur, cfg.datatype_check_threshold),
            completeness_check(name, feature.completeness, cur),
            categorical_values_check(name, feature.domains, cur, cfg.domain_content_threshold),
        ]
        base_stats = baseline.feature(name) if baseline else None
        if base_stats is not None and found[0] is None:
            result = drift(base_stats, cur.statistics, cfg)
            if result is not None:
                distances[name] = result.distance
                found.append(baseline_drift_check(name, result, base_stats, cur.statistics))
        violations += [v for v in found if v is not None]
    if missing:
        violations.append(missing_column_check(n_current, n_base, missing))
    known = set(baseline_names)
    for name in current_columns:
        if name not in known:
            violations.append(extra_column_check(name, n_current, n_base))
    return ValidationResult(tuple(violations), distances)
