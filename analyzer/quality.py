"""SageMaker model-quality metrics: parse the labelled columns, compute, suggest, check.

Pure NumPy, no I/O. The numbers follow what SageMaker's analyzer (Scala on Spark) computes,
down to the last bit where a real file shows the bits:

- Labels are compared by a canonical text: an integral number (``1``, ``"1.0"``, ``True``,
  ``"true"``) is ``"1"`` (integers written as such are kept exactly, however large), another
  number Python's repr of the double, other text stripped. A missing value
  (null, empty, ``nan``) or an unparsable number fails the job naming its first record.
- Regression is Spark's ``RegressionMetrics``: sums, norms and the truth's variance accumulated
  record by record as Spark's summariser does (Welford over the non-zero values), so
  ``mq_sdk_regression``'s four values come out bit for bit. ``r2 = 1 - SSerr / SStot``; when
  the truth is constant (``SStot = 0``) this is ``-Infinity`` (or ``NaN`` when the predictions
  are exact too), as the JVM's double division gives, written as the strings SageMaker's
  writer uses for non-finite doubles (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
- Binary: ``true_negative_rate = 1 - false_positive_rate`` and ``false_negative_rate =
  1 - true_positive_rate`` (the real files' last bits show this); any other ratio with a zero
  denominator is 0.0. F-beta is ``(1 + b^2) * (p * r) / (b^2 * p + r)``, 0.0 when p + r = 0.
  AUC and the curves are Spark MLlib's ``BinaryClassificationMetrics`` with ``numBins = 1000``:
  distinct scores in descending order, merged in groups of ``distinct // 1000`` consecutive
  scores when that is at least 2, ROC ``(0, 0)`` + one point per bin + ``(1, 1)``, AUC by the
  trapezoid rule summed in curve order, PR curve ``(0, first precision)`` + one point per bin.
  Spark bins within each partition; we bin as one partition, so on large data spread over many
  partitions SageMaker's bins (and AUC's last digits) may differ. Up to 1999 distinct scores
  there is no binning and the AUC is the exact one.
- The predicted label, when only a probability is given, is the positive class when
  ``probability >= threshold`` (default 0.5): the reading of "threshold for the class
  probability to be evaluated as a positive result" (no source shows SageMaker's comparison).
- The best constant classifier predicts the truth's majority class for every record; on a tie,
  the positive class (binary) or the first label in label order (multiclass).
- Multiclass metrics are Spark ``MulticlassMetrics``' weighted ones (scikit-learn's
  ``average="weighted", zero_division=0``). Labels sort numerically when all are numbers.
- ``standard_deviation``: with at least 200 records, the sample standard deviation (ddof=1) of
  the metric over 5 Bernoulli samples keeping each record with probability 0.8, drawn from a
  seeded PCG64 so the same input gives the same file; below 200 records the string ``"NaN"``.
- ``f0_5`` of a binary problem is validated in the constraints but never flagged, as in
  SageMaker's analyzer (see ``UNCHECKED``).
- Violations are listed in the iteration order of a Scala 2.12 immutable ``HashMap`` keyed by
  the violation's metric name (see :func:`_scala_hash_order`); this reproduces the real
  churn run's order of ten violations exactly.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .checks import java_double
from .errors import InputError

PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")
SECTIONS = {
    "BinaryClassification": "binary_classification",
    "MulticlassClassification": "multiclass_classification",
    "Regression": "regression",
}
NUM_BINS = 1000
STD_MIN_RECORDS = 200
STD_SAMPLES = 5
STD_FRACTION = 0.8
DEFAULT_THRESHOLD = 0.5

LESS = "LessThanThreshold"
GREATER = "GreaterThanThreshold"
_BETAS = {"f0_5": 0.5, "f1": 1.0, "f2": 2.0}

# The constrained metrics of each problem type, in SageMaker's order, with the comparison that
# flags a worse value: error rates must not grow, the rest must not shrink.
CONSTRAINTS: Mapping[str, Mapping[str, str]] = {
    "BinaryClassification": {
        "recall": LESS, "precision": LESS, "accuracy": LESS, "true_positive_rate": LESS,
        "true_negative_rate": LESS, "false_positive_rate": GREATER, "false_negative_rate": GREATER,
        "auc": LESS, "f0_5": LESS, "f1": LESS, "f2": LESS,
    },
    "MulticlassClassification": {
        "accuracy": LESS, "weighted_recall": LESS, "weighted_precision": LESS,
        "weighted_f0_5": LESS, "weighted_f1": LESS, "weighted_f2": LESS,
    },
    "Regression": {"mae": GREATER, "mse": GREATER, "rmse": GREATER, "r2": LESS},
}
# Constraints SageMaker's analyzer never checks: in the real churn run f0_5 fell to 0.34 against
# a baseline of 0.87 (precision 0.69, recall 0.11) and no violation was reported.
UNCHECKED: Mapping[str, frozenset[str]] = {"BinaryClassification": frozenset({"f0_5"})}
# The violations file names these four in camelCase (real constraint_violations.json).
_VIOLATION_NAMES = {
    "true_positive_rate": "truePositiveRate", "true_negative_rate": "trueNegativeRate",
    "false_positive_rate": "falsePositiveRate", "false_negative_rate": "falseNegativeRate",
}

# A number as text (Spark's cast from string accepts these after trimming).
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_BOOLEAN_TEXT = {"true": "1", "false": "0"}  # booleans as text (a JSON payload's, a CSV field's), as True / False
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

Where = Callable[[int], str]


@dataclass(frozen=True, eq=False)
class Labelled:
    """The parsed columns of one dataset.

    ``truth`` and ``predicted`` hold float64 for Regression, else the labels' canonical text
    (object arrays). ``score`` (Binary only) is the probability of the positive class, or the
    predicted label as 0/1 when no probability was given; ``positive`` and ``negative`` are
    the two classes (``negative`` None when the data shows only the positive one).
    """

    problem_type: str
    truth: np.ndarray
    predicted: np.ndarray
    score: np.ndarray | None = None
    positive: str | None = None
    negative: str | None = None


@dataclass(frozen=True)
class MetricViolation:
    metric_name: str
    constraint_check_type: str
    description: str


# ---------------------------------------------------------------------------------------------
# Parsing


def _record(i: int) -> str:
    return f"record {i + 1}"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, pa.Scalar):
        return _show(value.as_py())
    text = repr(str(value)) if isinstance(value, str) else str(value)
    return text if len(text) <= 100 else text[:97] + "..."


def _factorize(values: Any) -> tuple[list, np.ndarray]:
    """Distinct values and each record's index into them (nulls become ``None``)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        encoded = pc.dictionary_encode(values)
        uniques = encoded.dictionary.to_pylist() + [None]
        codes = pc.fill_null(encoded.indices, len(uniques) - 1)
        return uniques, codes.to_numpy(zero_copy_only=False).astype(np.intp)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        uniques, codes = np.unique(values, return_inverse=True)
        return uniques.tolist(), codes.reshape(-1)
    index: dict = {}
    # A JSON Lines value may be an array or an object: kept as its JSON text (never a number).
    codes = np.fromiter((index.setdefault(json.dumps(v) if isinstance(v, (list, dict)) else v, len(index))
                         for v in values), dtype=np.intp)
    return list(index), codes


def _number_text(x: float) -> str:
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)


def _label(value: Any) -> str | None:
    """A label's canonical text (``1``, ``1.0``, ``True`` are all ``"1"``); None if missing."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else _number_text(float(value))
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return None
    if text.lower() in _BOOLEAN_TEXT:  # "true" as a JSON payload or a CSV field holds it, as True
        return _BOOLEAN_TEXT[text.lower()]
    if _INTEGER.fullmatch(text):  # exactly: past 2**53 distinct integers share a double
        try:
            return str(int(text))
        except ValueError:  # more digits than Python converts
            return text
    return _number_text(float(text)) if _NUMBER.fullmatch(text) else text


def _number(value: Any) -> float | None:
    """A value as a float, NaN if missing, None if it is not a number."""
    if value is None:
        return math.nan
    if isinstance(value, (bool, np.bool_, int, np.integer, float, np.floating)):
        return float(value)
    text = str(value).strip()
    if not text or text.lower() == "nan":
        return math.nan
    return float(text) if _NUMBER.fullmatch(text) else None


def _fail(names: tuple[str, str], reason: str, where: Where, values: Any, i: int) -> InputError:
    attribute, column = names
    return InputError("MODEL_QUALITY_VALUE_INVALID", attribute=attribute, column=column,
                      reason=reason, where=where(i), value=_show(values[i]) if i < len(values) else "none")


def _labels(values: Any, names: tuple[str, str], where: Where) -> tuple[np.ndarray, dict[str, int]]:
    """Canonical label texts, and each distinct label's first record (in record order)."""
    uniques, codes = _factorize(values)
    texts = np.array([_label(v) for v in uniques] + [None], dtype=object)
    missing = np.flatnonzero(np.array([t is None for t in texts])[codes])
    if missing.size:
        raise _fail(names, "missing value", where, values, int(missing[0]))
    present, first = np.unique(codes, return_index=True)
    seen: dict[str, int] = {}
    for i, code in sorted(zip(first.tolist(), present.tolist())):
        seen.setdefault(texts[code], i)
    return texts[codes], seen


def _encode(labels: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct labels and each record's index into them (hashing, not sorting, the strings)."""
    encoded = pc.dictionary_encode(pa.array(labels, type=pa.string()))
    return encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False).astype(np.intp)


def _numbers(values: Any, names: tuple[str, str], where: Where, reason: str,
             low: float = -math.inf, high: float = math.inf) -> np.ndarray:
    """Finite numbers in [low, high], or the first offending record fails."""
    numbers, text_ok = None, None
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
    else:
        try:  # numbers, or texts that all parse: vectorised
            column = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
                column = pc.utf8_trim_whitespace(column)
                column = pc.if_else(pc.equal(column, ""), None, column)
            numbers = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            uniques, codes = _factorize(values)
            parsed = [_number(v) for v in uniques] + [math.nan]
            numbers = np.array([math.nan if x is None else x for x in parsed], dtype=np.float64)[codes]
            text_ok = np.array([x is not None for x in parsed])[codes]
    bad = ~np.isfinite(numbers) | (numbers < low) | (numbers > high)
    if text_ok is not None:
        bad |= ~text_ok
    if bad.any():
        i = int(np.argmax(bad))
        missing = math.isnan(numbers[i]) and (text_ok is None or text_ok[i])
        raise _fail(names, "missing value" if missing else reason, where, values, i)
    return numbers


def sort_labels(labels: Any) -> list[str]:
    """Labels in SageMaker's order: numerically when all are numbers, else as text.

    Examples
    --------
    >>> sort_labels(["10", "9", "1.5"]), sort_labels(["b", "a", "10"])
    (['1.5', '9', '10'], ['10', 'a', 'b'])
    """
    labels = set(labels)
    numeric = all(_NUMBER.fullmatch(label) for label in labels)
    return sorted(labels, key=float) if numeric else sorted(labels)


def _quoted(classes: list[str]) -> str:
    return ", ".join(repr(c) for c in classes)


def parse_columns(
    problem_type: str,
    truth: Any,
    predicted: Any = None,
    probability: Any = None,
    *,
    threshold: float | None = None,
    positive_label: Any = None,
    names: Mapping[str, tuple[str, str]],
    where: Where | None = None,
    baseline: bool,
) -> Labelled:
    """Parse the raw columns of a dataset into :class:`Labelled`, or raise ``InputError``.

    ``names`` maps ``"truth"``, ``"predicted"``, ``"probability"`` to (attribute, column) for
    the messages; ``where(i)`` names record ``i`` (0-based). A baseline needs both classes of a
    binary problem in its ground truth; a monitoring window may hold one.
    """
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type {problem_type!r} is not one of {', '.join(PROBLEM_TYPES)}")
    where = where or _record
    name = {key: names.get(key, (f"{key}_attribute", key)) for key in ("truth", "predicted", "probability")}
    lengths = {len(v) for v in (truth, predicted, probability) if v is not None}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")

    if problem_type == "Regression":
        if predicted is None:
            raise ValueError("Regression needs the predicted values (inference_attribute)")
        reason = "a regression value must be a finite number"
        return Labelled(problem_type, _numbers(truth, name["truth"], where, reason),
                        _numbers(predicted, name["predicted"], where, reason))

    actual, truth_seen = _labels(truth, name["truth"], where)
    if problem_type == "MulticlassClassification":
        if predicted is None:
            raise ValueError("MulticlassClassification needs the predicted labels (inference_attribute)")
        return Labelled(problem_type, actual, _labels(predicted, name["predicted"], where)[0])

    if predicted is None and probability is None:
        raise ValueError("BinaryClassification needs predicted labels or probabilities")
    labels, predicted_seen = _labels(predicted, name["predicted"], where) if predicted is not None else (None, {})
    score = None
    if probability is not None:
        score = _numbers(probability, name["probability"], where,
                         "a probability must be a number in [0, 1]", 0.0, 1.0)

    # At most two classes across the truth and the predicted labels, in order of appearance.
    seen = [(name["truth"], truth, i, label) for label, i in truth_seen.items()]
    seen += [(name["predicted"], predicted, i, label) for label, i in predicted_seen.items()]
    classes = list(dict.fromkeys(label for *_, label in seen))
    if len(classes) > 2:
        source, raw, i, _ = [s for s in seen if s[3] == classes[2]][0]
        raise _fail(source, f"binary classification takes two classes; found {_quoted(sort_labels(classes))}",
                    where, raw, i)
    if positive_label is None:
        for source, raw, i, label in seen:
            if label not in ("0", "1"):
                raise _fail(source, f"the classes {_quoted(sort_labels(classes))} are not 0 and 1: "
                            "name the positive one (positive_label)", where, raw, i)
        positive = "1"
    else:
        positive = _label(positive_label)
        if positive is None:
            raise ValueError(f"positive_label {positive_label!r} is empty")
        if len(classes) == 2 and positive not in classes:
            raise _fail(name["truth"], f"positive_label {positive!r} is neither of the classes "
                        f"{_quoted(sort_labels(classes))}", where, truth, 0)
    others = [c for c in classes if c != positive]
    negative = others[0] if others else {"1": "0", "0": "1"}.get(positive)
    if baseline and len(truth_seen) < 2:
        raise _fail(name["truth"], "a baseline needs both classes in the ground truth; found only "
                    f"{_quoted(list(truth_seen))}", where, truth, 0)
    if labels is None:
        if negative is None:
            raise _fail(name["truth"], f"the ground truth holds only the positive class {positive!r}: "
                        "the negative class is unknown", where, truth, 0)
        cut = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        if not 0.0 <= cut <= 1.0:
            raise ValueError(f"probability threshold {threshold!r} is not in [0, 1]")
        labels = np.where(score >= cut, positive, negative).astype(object)
    if score is None:
        score = (labels == positive).astype(np.float64)
    return Labelled(problem_type, actual, labels, score, positive, negative)


# ---------------------------------------------------------------------------------------------
# Metrics


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _f_beta(precision: float, recall: float, beta: float) -> float:
    b2 = beta * beta
    return (1.0 + b2) * (precision * recall) / (b2 * precision + recall) if precision + recall else 0.0


def _seq_sum(x: np.ndarray) -> float:
    """Left-to-right sum, as a JVM loop adds (NumPy's ``sum`` adds pairwise)."""
    return float(np.add.accumulate(x)[-1]) if x.size else 0.0


def binned_counts(positive: np.ndarray, score: np.ndarray, num_bins: int = NUM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative (true positives, false positives) per bin of Spark's ``BinaryClassificationMetrics``.

    Distinct scores in descending order; with ``distinct // num_bins >= 2`` consecutive groups of
    that many distinct scores form one bin (the last one may be smaller).

    Examples
    --------
    >>> binned_counts(np.array([True, False, True]), np.array([0.9, 0.9, 0.2]))
    (array([1, 2]), array([1, 1]))
    """
    distinct, inverse = np.unique(score, return_inverse=True)
    k = distinct.size
    pos = np.cumsum(np.bincount(inverse[positive], minlength=k)[::-1])
    neg = np.cumsum(np.bincount(inverse[~positive], minlength=k)[::-1])
    grouping = k // num_bins if num_bins else 0
    if grouping >= 2:
        ends = np.arange(grouping - 1, k, grouping)
        ends = ends if ends[-1] == k - 1 else np.append(ends, k - 1)
        pos, neg = pos[ends], neg[ends]
    return pos, neg


def _curves(positive: np.ndarray, score: np.ndarray) -> tuple[float, dict, dict]:
    """AUC, ROC curve and PR curve as Spark computes them (one partition)."""
    tp, fp = binned_counts(positive, score)
    tpr = tp / tp[-1] if tp[-1] else np.zeros(tp.size)
    fpr = fp / fp[-1] if fp[-1] else np.zeros(fp.size)
    x = np.concatenate(([0.0], fpr, [1.0]))
    y = np.concatenate(([0.0], tpr, [1.0]))
    auc = _seq_sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0)
    precision = tp / (tp + fp)
    roc = {"false_positive_rates": x.tolist(), "true_positive_rates": y.tolist()}
    pr = {"precisions": [float(precision[0])] + precision.tolist(), "recalls": [0.0] + tpr.tolist()}
    return auc, roc, pr


def _scores(tp: int, fp: int, pos: int, neg: int) -> dict[str, float]:
    recall, precision = _ratio(tp, pos), _ratio(tp, tp + fp)
    return {"recall": recall, "precision": precision, "accuracy": _ratio(tp + neg - fp, pos + neg),
            **{f: _f_beta(precision, recall, beta) for f, beta in _BETAS.items()}}


def _binary(truth: np.ndarray, predicted: np.ndarray, score: np.ndarray) -> dict[str, float]:
    pos = int(truth.sum())
    neg = truth.size - pos
    tp, fp = int((truth & predicted).sum()), int((~truth & predicted).sum())
    # The best constant classifier predicts the majority class for all (the positive one on a tie).
    model, best = _scores(tp, fp, pos, neg), _scores(*((pos, neg) if pos >= neg else (0, 0)), pos, neg)
    fpr = _ratio(fp, neg)
    bcc = "_best_constant_classifier"
    return {
        "recall": model["recall"], "precision": model["precision"], "accuracy": model["accuracy"],
        **{f"{key}{bcc}": best[key] for key in ("recall", "precision", "accuracy")},
        "true_positive_rate": model["recall"], "true_negative_rate": 1.0 - fpr,
        "false_positive_rate": fpr, "false_negative_rate": 1.0 - model["recall"],
        "auc": _curves(truth, score)[0],
        **{f: model[f] for f in _BETAS}, **{f"{f}{bcc}": best[f] for f in _BETAS},
    }


def _weighted(truth: np.ndarray, predicted: np.ndarray, k: int) -> dict[str, float]:
    n = truth.size
    matrix = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    tp, actual, said = np.diag(matrix), matrix.sum(axis=1), matrix.sum(axis=0)
    weight = actual / n
    precision = np.divide(tp, said, out=np.zeros(k), where=said > 0)
    recall = np.divide(tp, actual, out=np.zeros(k), where=actual > 0)
    values = {"accuracy": tp.sum() / n, "weighted_recall": _seq_sum(recall * weight),
              "weighted_precision": _seq_sum(precision * weight)}
    for f, beta in _BETAS.items():
        b2 = beta * beta
        top, bottom = (1.0 + b2) * precision * recall, b2 * precision + recall
        f_class = np.divide(top, bottom, out=np.zeros(k), where=precision + recall > 0)
        values[f"weighted_{f}"] = _seq_sum(f_class * weight)
    return {key: float(v) for key, v in values.items()}


def _multiclass(truth: np.ndarray, predicted: np.ndarray, k: int) -> dict[str, float]:
    values = _weighted(truth, predicted, k)
    # The best constant classifier: the most frequent true label (the first in label order on a tie).
    majority = int(np.argmax(np.bincount(truth, minlength=k)))
    best = _weighted(truth, np.full(truth.size, majority), k)
    return values | {f"{key}_best_constant_classifier": v for key, v in best.items()}


def _regression(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Spark ``RegressionMetrics`` (summariser over observation - prediction), bit for bit."""
    n = float(truth.size)
    error = truth - predicted
    l2 = math.sqrt(_seq_sum(error * error))
    ss_err = l2 * l2
    mse = ss_err / n
    # Spark's summariser: Welford over the non-zero values, then a correction for the zeros.
    mean = m2n = count = 0.0
    for value in truth[truth != 0.0].tolist():
        diff = value - mean
        count += 1.0
        mean += diff / count
        m2n += (value - mean) * diff
    denominator = n - 1.0
    variance = max((m2n + mean * mean * count * (n - count) / n) / denominator, 0.0) if denominator > 0 else 0.0
    ss_tot = variance * (n - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = float(1.0 - np.float64(ss_err) / np.float64(ss_tot))
    return {"mae": _seq_sum(np.abs(error)) / n, "mse": mse, "rmse": math.sqrt(mse), "r2": r2}


def _json_number(x: float) -> float | str:
    """A double as SageMaker's writer writes it: non-finite values as strings."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def _with_std(metric: Callable[..., dict[str, float]], columns: tuple, seed: int) -> dict[str, dict]:
    values = metric(*columns)
    n = columns[0].size
    if n < STD_MIN_RECORDS:
        stds = {key: math.nan for key in values}
    else:
        rng = np.random.default_rng(seed)
        runs = []
        for _ in range(STD_SAMPLES):
            keep = rng.random(n) < STD_FRACTION
            runs.append(metric(*(column[keep] for column in columns)))
        with np.errstate(invalid="ignore"):
            stds = {key: float(np.std([run[key] for run in runs], ddof=1)) for key in values}
    return {key: {"value": _json_number(v), "standard_deviation": _json_number(stds[key])} for key, v in values.items()}


def _confusion(truth: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict[str, dict[str, int]]:
    """actual -> predicted -> count over all labels, zeros included (codes index ``labels``)."""
    k = len(labels)
    matrix = np.bincount(truth * k + predicted, minlength=k * k).reshape(k, k)
    return {a: {b: int(matrix[i, j]) for j, b in enumerate(labels)} for i, a in enumerate(labels)}


def _label_codes(data: Labelled, extra: set) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The labels in order, and truth and predicted as indices into them."""
    (truth_labels, truth), (predicted_labels, predicted) = _encode(data.truth), _encode(data.predicted)
    labels = sort_labels((set(truth_labels) | set(predicted_labels) | extra) - {None})
    index = {label: i for i, label in enumerate(labels)}

    def codes(found: list[str], indices: np.ndarray) -> np.ndarray:
        return np.array([index[label] for label in found] + [0], dtype=np.intp)[indices]

    return labels, codes(truth_labels, truth), codes(predicted_labels, predicted)


def compute_metrics(data: Labelled, *, seed: int = 0) -> dict:
    """The model-quality ``statistics.json`` document (without ``dataset.evaluation_time``)."""
    n = len(data.truth)
    if n == 0:
        raise ValueError("no records to compute model-quality metrics from")
    section = SECTIONS[data.problem_type]
    if data.problem_type == "Regression":
        metrics: dict[str, Any] = _with_std(_regression, (data.truth, data.predicted), seed)
    elif data.problem_type == "MulticlassClassification":
        labels, truth, predicted = _label_codes(data, set())
        metrics = {"confusion_matrix": _confusion(truth, predicted, labels)}
        metrics |= _with_std(lambda t, p: _multiclass(t, p, len(labels)), (truth, predicted), seed)
    else:
        labels, truth, predicted = _label_codes(data, {data.positive, data.negative})
        confusion = _confusion(truth, predicted, labels)
        positive = labels.index(data.positive)
        truth, predicted = truth == positive, predicted == positive
        scalars = _with_std(_binary, (truth, predicted, data.score), seed)
        _, roc, pr = _curves(truth, data.score)
        metrics = {"confusion_matrix": confusion}
        for key, value in scalars.items():
            if key == "auc":
                metrics["receiver_operating_characteristic_curve"] = roc
                metrics["precision_recall_curve"] = pr
            metrics[key] = value
    return {"version": 0.0, "dataset": {"item_count": n}, f"{section}_metrics": metrics}


def problem_type_of(statistics: Mapping[str, Any]) -> str:
    """The problem type whose ``*_metrics`` section a statistics document holds."""
    for problem_type, section in SECTIONS.items():
        if isinstance(statistics.get(f"{section}_metrics"), Mapping):
            return problem_type
    raise ValueError("the statistics hold no binary_classification_metrics, "
                     "multiclass_classification_metrics or regression_metrics section")


def suggest_constraints(statistics: Mapping[str, Any]) -> dict:
    """The ``constraints.json`` document: each constrained metric's baseline value as threshold."""
    problem_type = problem_type_of(statistics)
    section = SECTIONS[problem_type]
    metrics = statistics[f"{section}_metrics"]
    return {"version": 0.0, f"{section}_constraints": {
        name: {"threshold": metrics[name]["value"], "comparison_operator": operator}
        for name, operator in CONSTRAINTS[problem_type].items()
    }}


# ---------------------------------------------------------------------------------------------
# Checking


def _double(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return _NON_FINITE.get(value) if isinstance(value, str) else None


def _java_hash(text: str) -> int:
    """Java's ``String.hashCode`` (over UTF-16 code units), as an unsigned 32-bit int."""
    units = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return h


def _scala_hash_order(name: str) -> tuple[int, ...]:
    """Sort key giving a Scala 2.12 immutable ``HashMap``'s iteration order over string keys.

    The map is a hash trie: each level indexes 5 bits of the key's ``improve``-d hash, lowest
    bits first, and iterates its slots in ascending order. Sorting by those 5-bit chunks gives
    the real churn run's order of its ten violations (auc, precision, truePositiveRate, ...).
    (Scala keeps maps of at most 4 entries in insertion order; for the 4 regression metrics that
    order and the hash order agree.)

    Examples
    --------
    >>> sorted(["mae", "r2", "rmse", "mse"], key=_scala_hash_order)
    ['mae', 'mse', 'rmse', 'r2']
    """
    mask = 0xFFFFFFFF
    h = _java_hash(name)
    h = (h + (~(h << 9) & mask)) & mask
    h ^= h >> 14
    h = (h + (h << 4)) & mask
    h ^= h >> 10
    return tuple((h >> shift) & 0x1F for shift in range(0, 32, 5))


def check(statistics: Mapping[str, Any], constraints: Mapping[str, Any]) -> list[MetricViolation]:
    """Current statistics against baseline constraints; ``ValueError`` if the constraints are malformed."""
    problem_type = problem_type_of(statistics)
    section = SECTIONS[problem_type]
    metrics = statistics[f"{section}_metrics"]
    if not isinstance(constraints, Mapping):
        raise ValueError("the constraints are not a JSON object")
    wanted = constraints.get(f"{section}_constraints")
    if not isinstance(wanted, Mapping):
        found = [key for key in constraints if str(key).endswith("_constraints")]
        raise ValueError(f"no {section}_constraints section for this {problem_type} job"
                         + (f" (found {', '.join(found)})" if found else ""))
    violations = []
    for name, constraint in wanted.items():
        if name not in CONSTRAINTS[problem_type] or not isinstance(metrics.get(name), Mapping):
            raise ValueError(f"{section}_constraints names {name!r}, not a {problem_type} metric "
                             f"(known: {', '.join(CONSTRAINTS[problem_type])})")
        if not isinstance(constraint, Mapping):
            raise ValueError(f"constraint {name!r} is not an object")
        operator = constraint.get("comparison_operator")
        threshold = _double(constraint.get("threshold"))
        if operator not in (LESS, GREATER):
            raise ValueError(f"constraint {name!r} has comparison_operator {operator!r}; "
                             f"expected {LESS} or {GREATER}")
        if threshold is None:
            raise ValueError(f"constraint {name!r} has threshold {constraint.get('threshold')!r}, not a number")
        value = _double(metrics[name].get("value"))
        std = _double(metrics[name].get("standard_deviation"))
        value = math.nan if value is None else value
        std = math.nan if std is None else std
        violated = value < threshold if operator == LESS else value > threshold
        if violated and name not in UNCHECKED.get(problem_type, ()):
            shown = _VIOLATION_NAMES.get(name, name)
            violations.append(MetricViolation(shown, operator, (
                f"Metric {shown} with {java_double(value)} +/- {java_double(std)} was {operator} "
                f"'{java_double(threshold)}'")))
    return sorted(violations, key=lambda v: _scala_hash_order(v.metric_name))


def violations_document(violations: list[MetricViolation]) -> dict:
    """The ``constraint_violations.json`` document, keys in the real file's order."""
    return {"violations": [
        {"constraint_check_type": v.constraint_check_type, "description": v.description,
         "metric_name": v.metric_name}
        for v in violations
    ]}
