"""Model-quality metrics (analyzer.quality) against real SageMaker files and scikit-learn.

Tolerances: values SageMaker printed at full precision must come out bit for bit; values it
displayed rounded must round to the displayed digits; scikit-learn oracles agree to 1e-12
relative (counts and labels exactly). Standard deviations come from random samples and cannot
match SageMaker's draws: where the real one is 0 ours is 0, otherwise within a factor of 3.
"""
import json
import math
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from analyzer import quality
from analyzer.errors import InputError
from analyzer.quality import Labelled, check, compute_metrics, parse_columns, suggest_constraints, violations_document

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "reference"
NAMES = {"truth": ("ground_truth_attribute", "label"), "predicted": ("inference_attribute", "prediction"),
         "probability": ("probability_attribute", "probability")}
REL = 1e-12


def load(path, exact=False):
    if exact:
        return json.loads(Path(path).read_text(), parse_float=Decimal, parse_int=Decimal)
    return json.loads(Path(path).read_text())


def parse(problem_type, truth, predicted=None, probability=None, baseline=True, **kwargs):
    return parse_columns(problem_type, truth, predicted, probability, names=NAMES, baseline=baseline, **kwargs)


def assert_shown(ours, shown: Decimal, what):
    """``ours`` rounds to what a notebook displayed (6 significant digits, or the digits shown)."""
    if shown == 0:
        assert ours == 0, what
        return
    digits = min(shown.as_tuple().exponent, math.floor(math.log10(abs(shown))) - 5)
    assert abs(Decimal(repr(ours)) - shown) <= Decimal(5) * Decimal(10) ** (digits - 1), (what, ours, shown)


def assert_std_plausible(ours, real, what):
    if real == 0:
        assert ours == 0, what
    else:
        assert 1 / 3 < ours / float(real) < 3, (what, ours, real)


def churn_statistics():
    data = pd.read_csv(REFERENCE / "mq_churn_binary" / "validation_with_predictions.csv", dtype=str)
    return compute_metrics(parse("BinaryClassification", data.label.tolist(), data.prediction.tolist(),
                                 data.probability.tolist()))


def weather_statistics():
    data = pd.read_csv(REFERENCE / "mq_weather_regression" / "model-quality-baseline-data.csv", dtype=str)
    return compute_metrics(parse("Regression", data.label.tolist(), data.prediction.tolist()))


def assert_json_safe(document):
    json.dumps(document, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Real SageMaker files


def test_churn_binary_baseline_statistics_match_the_real_ones():
    ours = churn_statistics()
    real = load(REFERENCE / "mq_churn_binary" / "statistics.display-rounded.partial.json", exact=True)
    metrics, shown = ours["binary_classification_metrics"], real["binary_classification_metrics"]
    assert ours["version"] == 0.0 and ours["dataset"] == {"item_count": 201}
    curves = ["receiver_operating_characteristic_curve", "precision_recall_curve"]
    assert [k for k in metrics if k not in curves] == list(shown)  # the real file's key order
    assert list(metrics).index("precision_recall_curve") + 1 == list(metrics).index("auc")
    assert metrics["confusion_matrix"] == {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}}
    for name, real_metric in shown.items():
        if name != "confusion_matrix":
            assert_shown(metrics[name]["value"], real_metric["value"], name)
            assert_std_plausible(metrics[name]["standard_deviation"], real_metric["standard_deviation"], name)
    assert_json_safe(ours)


def test_churn_baseline_values_are_the_real_full_precision_thresholds():
    # The monitoring run's violations print the baseline's values (their thresholds) in full.
    metrics = churn_statistics()["binary_classification_metrics"]
    real = load(REFERENCE / "mq_churn_binary" / "constraint_violations.json")["violations"]
    thresholds = {v["metric_name"]: re.search(r"'(.*)'$", v["description"]).group(1) for v in real}
    names = {"truePositiveRate": "true_positive_rate", "trueNegativeRate": "true_negative_rate",
             "falsePositiveRate": "false_positive_rate", "falseNegativeRate": "false_negative_rate"}
    assert len(thresholds) == 10
    for name, text in thresholds.items():
        assert repr(metrics[names.get(name, name)]["value"]) == text, name  # 0.9395127993393898 for auc


def test_churn_curves_are_sparks():
    metrics = churn_statistics()["binary_classification_metrics"]
    roc, pr = metrics["receiver_operating_characteristic_curve"], metrics["precision_recall_curve"]
    data = pd.read_csv(REFERENCE / "mq_churn_binary" / "validation_with_predictions.csv")
    fpr, tpr, _ = skm.roc_curve(data.label, data.probability, drop_intermediate=False)
    # Spark: (0, 0), one point per distinct score (201 here), (1, 1).
    assert roc["false_positive_rates"] == fpr.tolist() + [1.0]
    assert roc["true_positive_rates"] == tpr.tolist() + [1.0]
    precision, recall, _ = skm.precision_recall_curve(data.label, data.probability, drop_intermediate=False)
    assert pr["precisions"][1:] == pytest.approx(precision[:-1][::-1].tolist(), rel=REL)
    assert pr["recalls"] == pytest.approx([0.0] + recall[:-1][::-1].tolist(), rel=REL)
    assert pr["precisions"][0] == pr["precisions"][1] == 1.0


def test_churn_constraints_match_the_real_ones():
    ours = suggest_constraints(churn_statistics())
    real = load(REFERENCE / "mq_churn_binary" / "constraints.display-rounded.json", exact=True)
    section, shown = ours["binary_classification_constraints"], real["binary_classification_constraints"]
    assert ours["version"] == 0.0
    assert list(section) == list(shown)
    for name, constraint in shown.items():
        assert section[name]["comparison_operator"] == constraint["comparison_operator"]
        assert_shown(section[name]["threshold"], constraint["threshold"], name)


def _from_violations(path):
    """Current statistics holding the values and standard deviations printed in a violations file."""
    found = {}
    for v in load(path)["violations"]:
        match = re.fullmatch(r"Metric (\w+) with (\S+) \+/- (\S+) was \w+ '.*'", v["description"])
        found[match.group(1)] = {"value": float(match.group(2)), "standard_deviation": float(match.group(3))}
    return found


def test_churn_violations_are_reproduced_byte_for_byte():
    path = REFERENCE / "mq_churn_binary" / "constraint_violations.json"
    printed = _from_violations(path)
    snake = {"truePositiveRate": "true_positive_rate", "trueNegativeRate": "true_negative_rate",
             "falsePositiveRate": "false_positive_rate", "falseNegativeRate": "false_negative_rate"}
    current = {snake.get(name, name): metric for name, metric in printed.items()}
    # f0_5 of that run, from its precision and recall: far below the baseline's 0.87, yet SageMaker
    # reported no violation for it.
    p, r = current["precision"]["value"], current["recall"]["value"]
    current["f0_5"] = {"value": 1.25 * (p * r) / (0.25 * p + r), "standard_deviation": 0.004}
    assert current["f0_5"]["value"] < 0.35
    statistics = {"version": 0.0, "dataset": {"item_count": 1892}, "binary_classification_metrics": current}
    constraints = suggest_constraints(churn_statistics())
    document = violations_document(check(statistics, constraints))
    assert json.dumps(document, indent=2) == path.read_text()
    assert list(document["violations"][0]) == ["constraint_check_type", "description", "metric_name"]


def test_violation_order_is_scala_hashmap_order():
    real = [v["metric_name"] for v in load(REFERENCE / "mq_churn_binary" / "constraint_violations.json")["violations"]]
    assert sorted(sorted(real), key=quality._scala_hash_order) == real
    assert quality._java_hash("auc") == 97 * 31**2 + 117 * 31 + 99  # Java: "auc".hashCode()


def test_weather_regression_matches_the_real_statistics_constraints_and_violation():
    ours = weather_statistics()
    folder = REFERENCE / "mq_weather_regression"
    shown = load(folder / "statistics.display-rounded.json", exact=True)["regression_metrics"]
    metrics = ours["regression_metrics"]
    assert ours["dataset"] == {"item_count": 299}
    assert list(metrics) == list(shown)
    for name, real_metric in shown.items():
        assert_shown(metrics[name]["value"], real_metric["value"], name)
        assert_std_plausible(metrics[name]["standard_deviation"], real_metric["standard_deviation"], name)
    constraints = suggest_constraints(ours)
    real_constraints = load(folder / "constraints.display-rounded.json", exact=True)["regression_constraints"]
    assert list(constraints["regression_constraints"]) == list(real_constraints)
    for name, constraint in real_constraints.items():
        assert constraints["regression_constraints"][name]["comparison_operator"] == constraint["comparison_operator"]
        assert_shown(constraints["regression_constraints"][name]["threshold"], constraint["threshold"], name)
    # The monitoring run's one violation prints the baseline r2 in full: ours is the same double.
    current = {name: {"value": metrics[name]["value"], "standard_deviation": 0.1} for name in metrics}
    current |= _from_violations(folder / "constraint_violations.json")
    document = violations_document(check({"regression_metrics": current}, constraints))
    assert json.dumps(document, indent=2) == (folder / "constraint_violations.json").read_text()


def test_sdk_regression_statistics_are_bit_identical():
    # The SDK's test names the ground truth "Prediction" and the inference "Label".
    folder = REFERENCE / "mq_sdk_regression"
    data = pd.read_csv(folder / "baseline_dataset.csv", dtype=str)
    ours = compute_metrics(parse("Regression", data.Prediction.tolist(), data.Label.tolist()))
    assert ours == load(folder / "statistics.json")  # exact, and "NaN" deviations below 200 records
    assert suggest_constraints(ours) == load(folder / "constraints.json")
    assert_json_safe(ours)


# ---------------------------------------------------------------------------------------------
# scikit-learn oracles on generated data


def _binary_oracle(y, yhat, score):
    tn, fp, fn, tp = skm.confusion_matrix(y, yhat, labels=[0, 1]).ravel()
    best = np.full(y.size, int(y.sum() * 2 >= y.size))
    values = {
        "recall": skm.recall_score(y, yhat, zero_division=0),
        "precision": skm.precision_score(y, yhat, zero_division=0),
        "accuracy": skm.accuracy_score(y, yhat),
        "recall_best_constant_classifier": skm.recall_score(y, best, zero_division=0),
        "precision_best_constant_classifier": skm.precision_score(y, best, zero_division=0),
        "accuracy_best_constant_classifier": skm.accuracy_score(y, best),
        "true_positive_rate": tp / (tp + fn), "true_negative_rate": tn / (tn + fp),
        "false_positive_rate": fp / (fp + tn), "false_negative_rate": fn / (fn + tp),
        "auc": skm.roc_auc_score(y, score),
    }
    for name, beta in (("f0_5", 0.5), ("f1", 1.0), ("f2", 2.0)):
        values[name] = skm.fbeta_score(y, yhat, beta=beta, zero_division=0)
        values[f"{name}_best_constant_classifier"] = skm.fbeta_score(y, best, beta=beta, zero_division=0)
    return values, {"0": {"0": int(tn), "1": int(fp)}, "1": {"0": int(fn), "1": int(tp)}}


@pytest.mark.parametrize("n,decimals,share", [(3000, 3, 0.3), (1500, 2, 0.7), (5000, None, 0.45)])
def test_binary_metrics_equal_sklearn(n, decimals, share):
    rng = np.random.default_rng(n)
    y = (rng.random(n) < share).astype(int)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1)
    if decimals is None:
        score = np.round(score * 1998) / 1998  # 1999 distinct scores at most: still no binning
    else:
        score = np.round(score, decimals)
    yhat = (score >= 0.5).astype(int)
    ours = compute_metrics(parse("BinaryClassification", y.tolist(), probability=score.tolist()))
    metrics = ours["binary_classification_metrics"]
    expected, confusion = _binary_oracle(y, yhat, score)
    assert metrics["confusion_matrix"] == confusion
    assert sorted(k for k in metrics if "curve" not in k and k != "confusion_matrix") == sorted(expected)
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value, rel=REL, abs=1e-15), name
    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    roc = metrics["receiver_operating_characteristic_curve"]
    assert roc["false_positive_rates"] == pytest.approx(fpr.tolist() + [1.0], rel=REL)
    assert roc["true_positive_rates"] == pytest.approx(tpr.tolist() + [1.0], rel=REL)
    assert_json_safe(ours)


def _spark_binned_auc(y, score, num_bins=1000):
    """Spark's binned ROC AUC written plainly: group by score, chunk, cumulate, trapezoids."""
    counts = pd.DataFrame({"score": score, "pos": y, "neg": 1 - y}).groupby("score").sum()
    counts = counts.sort_index(ascending=False)
    grouping = len(counts) // num_bins
    if grouping >= 2:
        counts = counts.groupby(np.arange(len(counts)) // grouping).sum()
    tp, fp = counts.pos.cumsum(), counts.neg.cumsum()
    x = [0.0] + (fp / fp.iloc[-1]).tolist() + [1.0]
    y_ = [0.0] + (tp / tp.iloc[-1]).tolist() + [1.0]
    area = 0.0
    for i in range(1, len(x)):
        area += (x[i] - x[i - 1]) * (y_[i] + y_[i - 1]) / 2.0
    return area, len(counts)


@pytest.mark.parametrize("distinct", [1999, 2000, 2999, 45000])
def test_auc_is_sparks_binned_value_beyond_1999_distinct_scores(distinct):
    rng = np.random.default_rng(distinct)
    n = max(distinct * 2, 8000)
    y = (rng.random(n) < 0.3).astype(int)
    grid = np.sort(rng.random(distinct))
    # every grid value used at least once, then the rest drawn with a signal
    idx = np.concatenate([np.arange(distinct), rng.integers(0, distinct, n - distinct)])
    rng.shuffle(idx)
    score = grid[np.clip(idx + (y * distinct * 0.2).astype(int), 0, distinct - 1)]
    metrics = compute_metrics(parse("BinaryClassification", y, probability=score))["binary_classification_metrics"]
    auc = metrics["auc"]["value"]
    binned, bins = _spark_binned_auc(y, score)
    exact = skm.roc_auc_score(y, score)
    assert auc == pytest.approx(binned, rel=REL)
    assert len(metrics["receiver_operating_characteristic_curve"]["false_positive_rates"]) == bins + 2
    assert len(metrics["precision_recall_curve"]["recalls"]) == bins + 1
    if np.unique(score).size < 2000:
        assert auc == pytest.approx(exact, rel=REL)
    else:
        assert bins == math.ceil(np.unique(score).size / (np.unique(score).size // 1000))
        assert auc != exact and abs(auc - exact) < 1e-3  # under one bin's resolution


def test_auc_with_many_scores_is_spark_one_partition_binning_exactly():
    rng = np.random.default_rng(7)
    y = (rng.random(20000) < 0.4).astype(int)
    score = rng.random(20000)
    ours = quality._curves(y.astype(bool), score)[0]
    assert ours == pytest.approx(_spark_binned_auc(y, score)[0], rel=REL)


@pytest.mark.parametrize("labels,order", [
    (["2", "10", "3", "7"], ["2", "3", "7", "10", "99"]),  # numbers sort numerically
    (["emu", "cat", "dog"], ["cat", "dog", "emu", "unseen"]),
])
def test_multiclass_metrics_equal_sklearn(labels, order):
    rng = np.random.default_rng(len(labels))
    n = 3000
    weights = np.linspace(1, 2, len(labels))
    truth = rng.choice(labels, n, p=weights / weights.sum())
    # some predictions name a label the truth never holds (its precision is 0/0)
    predicted = np.where(rng.random(n) < 0.6, truth, rng.choice(labels + [order[-1]], n))
    ours = compute_metrics(parse("MulticlassClassification", truth.tolist(), predicted.tolist()))
    metrics = ours["multiclass_classification_metrics"]
    assert list(metrics["confusion_matrix"]) == order
    matrix = skm.confusion_matrix(truth, predicted, labels=order)
    assert metrics["confusion_matrix"] == {
        a: {b: int(matrix[i, j]) for j, b in enumerate(order)} for i, a in enumerate(order)}
    majority = pd.Series(truth).value_counts().idxmax()
    for suffix, guess in (("", predicted), ("_best_constant_classifier", np.full(n, majority))):
        expected = {
            "accuracy": skm.accuracy_score(truth, guess),
            "weighted_recall": skm.recall_score(truth, guess, average="weighted", zero_division=0),
            "weighted_precision": skm.precision_score(truth, guess, average="weighted", zero_division=0),
            "weighted_f0_5": skm.fbeta_score(truth, guess, beta=0.5, average="weighted", zero_division=0),
            "weighted_f1": skm.f1_score(truth, guess, average="weighted", zero_division=0),
            "weighted_f2": skm.fbeta_score(truth, guess, beta=2.0, average="weighted", zero_division=0),
        }
        for name, value in expected.items():
            assert metrics[name + suffix]["value"] == pytest.approx(value, rel=REL), name + suffix
    assert list(metrics) == ["confusion_matrix", "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5",
                             "weighted_f1", "weighted_f2", "accuracy_best_constant_classifier",
                             "weighted_recall_best_constant_classifier", "weighted_precision_best_constant_classifier",
                             "weighted_f0_5_best_constant_classifier", "weighted_f1_best_constant_classifier",
                             "weighted_f2_best_constant_classifier"]
    assert_json_safe(ours)


def test_multiclass_numeric_labels_sort_numerically():
    data = parse("MulticlassClassification", [10, 2, 3.0, "7"], ["2", "10", "3", 7])
    matrix = compute_metrics(data)["multiclass_classification_metrics"]["confusion_matrix"]
    assert list(matrix) == ["2", "3", "7", "10"] and list(matrix["2"]) == ["2", "3", "7", "10"]


@pytest.mark.parametrize("zeros", [0.0, 0.3])
def test_regression_metrics_equal_sklearn(zeros):
    rng = np.random.default_rng(11)
    truth = rng.normal(5, 3, 4000)
    truth[rng.random(4000) < zeros] = 0.0  # Spark's summariser skips zeros: its correction must hold
    predicted = truth + rng.normal(0.5, 1.5, 4000)
    metrics = compute_metrics(parse("Regression", truth, predicted))["regression_metrics"]
    expected = {"mae": skm.mean_absolute_error(truth, predicted), "mse": skm.mean_squared_error(truth, predicted),
                "rmse": math.sqrt(skm.mean_squared_error(truth, predicted)), "r2": skm.r2_score(truth, predicted)}
    assert list(metrics) == list(expected)
    for name, value in expected.items():
        assert metrics[name]["value"] == pytest.approx(value, rel=REL), name


def test_r2_of_a_constant_truth_is_what_the_jvm_divides_to():
    metrics = compute_metrics(parse("Regression", [3.0] * 5, [3.0, 3.5, 3.0, 2.0, 3.0]))["regression_metrics"]
    assert metrics["r2"]["value"] == "-Infinity" and metrics["mae"]["value"] == 0.3
    exact = compute_metrics(parse("Regression", [3.0] * 5, [3.0] * 5))["regression_metrics"]
    assert exact["r2"]["value"] == "NaN" and exact["mse"]["value"] == 0.0
    assert_json_safe(metrics)


# ---------------------------------------------------------------------------------------------
# Standard deviations


def test_std_is_nan_below_200_records_and_seeded_above():
    rng = np.random.default_rng(3)
    truth = rng.normal(0, 1, 300)
    predicted = truth + rng.normal(0, 1, 300)
    small = compute_metrics(parse("Regression", truth[:199], predicted[:199]))["regression_metrics"]
    assert {m["standard_deviation"] for m in small.values()} == {"NaN"}
    first = compute_metrics(parse("Regression", truth[:200], predicted[:200]))
    assert all(isinstance(m["standard_deviation"], float) for m in first["regression_metrics"].values())
    assert json.dumps(first) == json.dumps(compute_metrics(parse("Regression", truth[:200], predicted[:200])))
    assert json.dumps(first) != json.dumps(compute_metrics(parse("Regression", truth[:200], predicted[:200]), seed=1))


def test_std_is_the_sample_std_over_five_bernoulli_samples():
    rng = np.random.default_rng(5)
    truth = rng.normal(0, 1, 1000)
    predicted = truth + rng.normal(0, 1, 1000)
    metrics = compute_metrics(parse("Regression", truth, predicted), seed=42)["regression_metrics"]
    draws = np.random.default_rng(42)
    maes = []
    for _ in range(5):
        keep = draws.random(1000) < 0.8
        maes.append(skm.mean_absolute_error(truth[keep], predicted[keep]))
    assert metrics["mae"]["standard_deviation"] == pytest.approx(np.std(maes, ddof=1), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Parsing


@pytest.mark.parametrize("raw,text", [
    (1, "1"), ("1.0", "1"), (True, "1"), (" 1 ", "1"), ("1e0", "1"), (1.0, "1"), (np.int64(0), "0"), (False, "0"),
    ("-0", "0"), (0.5, "0.5"), ("2.50", "2.5"), (" yes ", "yes"), ("Yes", "Yes"), (np.float64(3.0), "3"),
])
def test_label_canonical_text(raw, text):
    assert quality._label(raw) == text


@pytest.mark.parametrize("bad", [None, "", "  ", "nan", "NaN", math.nan])
def test_a_missing_label_fails_naming_the_record(bad):
    with pytest.raises(InputError) as error:
        parse("MulticlassClassification", ["a", "b", bad, "a"], ["a", "a", "a", "a"])
    assert error.value.code == "MODEL_QUALITY_VALUE_INVALID"
    assert error.value.params["where"] == "record 3" and error.value.params["reason"] == "missing value"
    assert str(error.value).startswith("[MODEL_QUALITY_VALUE_INVALID] ground_truth_attribute 'label': missing value;")


def test_a_bad_probability_fails_with_the_callers_record_label():
    probabilities = ["0.2"] * 16 + ["1.3", "7"]
    with pytest.raises(InputError) as error:
        parse("BinaryClassification", ["0", "1"] * 9, probability=probabilities,
              where=lambda i: f"file part-0.csv line {i + 2}")
    assert str(error.value) == ("[MODEL_QUALITY_VALUE_INVALID] probability_attribute 'probability': a probability "
                                "must be a number in [0, 1]; first at file part-0.csv line 18: '1.3'")


@pytest.mark.parametrize("bad", ["abc", "inf", "-Infinity", "1,5"])
def test_regression_values_must_be_finite_numbers(bad):
    with pytest.raises(InputError, match="a regression value must be a finite number; first at record 2"):
        parse("Regression", ["1", bad, "2"], ["1", "2", "3"])
    with pytest.raises(InputError, match="inference_attribute 'prediction': missing value; first at record 1"):
        parse("Regression", ["1", "2"], [None, "x"])


def test_binary_takes_two_classes():
    with pytest.raises(InputError) as error:
        parse("BinaryClassification", ["0", "1", "1", "2"], ["0", "1", "1", "1"])
    assert error.value.params["where"] == "record 4"
    assert "binary classification takes two classes; found '0', '1', '2'" in str(error.value)
    with pytest.raises(InputError) as error:
        parse("BinaryClassification", ["0", "1", "1"], ["0", "1", "5"])
    assert error.value.params["attribute"] == "inference_attribute" and error.value.params["where"] == "record 3"


def test_labels_other_than_0_and_1_need_a_positive_label():
    with pytest.raises(InputError, match=r"the classes 'no', 'yes' are not 0 and 1: name the positive one"):
        parse("BinaryClassification", ["no", "yes"], ["yes", "yes"])
    data = parse("BinaryClassification", ["no", "yes", "yes"], ["yes", "yes", "no"], positive_label=" yes")
    assert (data.positive, data.negative) == ("yes", "no")
    metrics = compute_metrics(data)["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"no": {"no": 0, "yes": 1}, "yes": {"no": 1, "yes": 1}}
    assert metrics["recall"]["value"] == 0.5 and metrics["precision"]["value"] == 0.5
    with pytest.raises(InputError, match="positive_label 'maybe' is neither of the classes 'no', 'yes'"):
        parse("BinaryClassification", ["no", "yes"], ["yes", "yes"], positive_label="maybe")


def test_a_baseline_needs_both_classes_monitoring_does_not():
    with pytest.raises(InputError, match="a baseline needs both classes in the ground truth; found only '0'"):
        parse("BinaryClassification", ["0", "0"], ["0", "1"])
    data = parse("BinaryClassification", ["0", "0", "0"], probability=[0.1, 0.7, 0.2], baseline=False)
    metrics = compute_metrics(data)["binary_classification_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 2, "1": 1}, "1": {"0": 0, "1": 0}}
    assert metrics["recall"]["value"] == 0.0 and metrics["false_negative_rate"]["value"] == 1.0
    assert metrics["auc"]["value"] == 0.0  # Spark: no positives, the ROC curve runs along the x axis


def test_threshold_is_inclusive_and_configurable():
    data = parse("BinaryClassification", [0, 1, 1, 0], probability=[0.5, 0.49, 0.8, 0.1])
    assert data.predicted.tolist() == ["1", "0", "1", "0"]
    data = parse("BinaryClassification", [0, 1, 1, 0], probability=[0.5, 0.49, 0.8, 0.1], threshold=0.8)
    assert data.predicted.tolist() == ["0", "0", "1", "0"]
    # a given predicted label wins over the threshold; the score stays the probability
    data = parse("BinaryClassification", [0, 1, 1, 0], ["1", "1", "1", "1"], [0.5, 0.49, 0.8, 0.1], threshold=0.8)
    assert data.predicted.tolist() == ["1"] * 4 and data.score.tolist() == [0.5, 0.49, 0.8, 0.1]


def test_without_probabilities_the_score_is_the_predicted_label():
    data = parse("BinaryClassification", ["1", "0", "1", "0"], ["1.0", "0", "0", "0"])
    assert data.score.tolist() == [1.0, 0.0, 0.0, 0.0]
    assert compute_metrics(data)["binary_classification_metrics"]["auc"]["value"] == pytest.approx(
        skm.roc_auc_score([1, 0, 1, 0], [1, 0, 0, 0]), rel=REL)


def test_best_constant_classifier_tie_goes_to_the_positive_class():
    data = parse("BinaryClassification", [0, 1, 0, 1], [0, 0, 0, 0])
    metrics = compute_metrics(data)["binary_classification_metrics"]
    assert metrics["recall_best_constant_classifier"]["value"] == 1.0
    assert metrics["precision_best_constant_classifier"]["value"] == 0.5
    assert metrics["precision"]["value"] == 0.0  # 0/0 is 0


@pytest.mark.parametrize("wrap", [
    lambda v: v, np.array, lambda v: np.array(v, dtype=object), pa.array,
    lambda v: pa.chunked_array([pa.array(v[:3]), pa.array(v[3:])]),
])
def test_inputs_may_be_lists_numpy_or_arrow(wrap):
    truth, predicted = ["0", "1", "1", "0", "1"], ["0", "1", "0", "0", "1"]
    probability = ["0.1", "0.9", "0.4", "0.2", "0.8"]
    reference = compute_metrics(parse("BinaryClassification", truth, predicted, probability))
    assert compute_metrics(parse("BinaryClassification", wrap(truth), wrap(predicted), wrap(probability))) == reference
    numbers = [0.1, 0.9, 0.4, 0.2, 0.8]
    assert compute_metrics(parse("BinaryClassification", truth, predicted, wrap(numbers))) == reference
    regression = compute_metrics(parse("Regression", wrap(numbers), wrap(probability)))
    assert regression == compute_metrics(parse("Regression", numbers, probability))


def test_arrow_nulls_are_missing_values():
    with pytest.raises(InputError, match="missing value; first at record 2: null"):
        parse("BinaryClassification", pa.array(["0", None, "1"]), ["0", "1", "1"])
    with pytest.raises(InputError, match="probability_attribute 'probability': missing value; first at record 3"):
        parse("BinaryClassification", ["0", "1", "1"], probability=pa.array([0.1, 0.2, None]))
    for blank in ("", " ", "nan"):
        with pytest.raises(InputError, match=f"missing value; first at record 2: '{blank}'"):
            parse("BinaryClassification", ["0", "1", "1"], probability=pa.array(["0.1", blank, "0.3"]))


# ---------------------------------------------------------------------------------------------
# Checking


def _statistics(**values):
    return {"regression_metrics": {k: {"value": v, "standard_deviation": "NaN"} for k, v in values.items()}}


def test_check_compares_strictly_and_prints_like_java():
    constraints = {"regression_constraints": {
        "mae": {"threshold": 1, "comparison_operator": "GreaterThanThreshold"},
        "r2": {"threshold": 0.5, "comparison_operator": "LessThanThreshold"},
        "mse": {"threshold": 2.0, "comparison_operator": "GreaterThanThreshold"}}}
    violations = check(_statistics(mae=1.0000001, mse=2.0, r2=7.450282750755987e-4), constraints)
    assert [(v.metric_name, v.constraint_check_type) for v in violations] == [
        ("mae", "GreaterThanThreshold"), ("r2", "LessThanThreshold")]
    assert violations[0].description == "Metric mae with 1.0000001 +/- NaN was GreaterThanThreshold '1.0'"
    assert violations[1].description == "Metric r2 with 7.450282750755987E-4 +/- NaN was LessThanThreshold '0.5'"
    assert check(_statistics(mae=0.5, mse=1.0, r2="NaN"), constraints) == []  # NaN compares false, as on the JVM


def test_binary_f0_5_is_never_flagged_but_multiclass_weighted_f0_5_is():
    binary = {"binary_classification_metrics": {"f0_5": {"value": 0.1, "standard_deviation": 0.0}}}
    assert check(binary, {"binary_classification_constraints": {
        "f0_5": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}}) == []
    multi = {"multiclass_classification_metrics": {"weighted_f0_5": {"value": 0.1, "standard_deviation": 0.0}}}
    [violation] = check(multi, {"multiclass_classification_constraints": {
        "weighted_f0_5": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"}}})
    assert violation.metric_name == "weighted_f0_5"


@pytest.mark.parametrize("constraints,message", [
    ({"binary_classification_constraints": {}},
     "no regression_constraints section .*found binary_classification_constraints"),
    ({}, "no regression_constraints section"),
    ({"regression_constraints": {"mae": {"threshold": 1.0, "comparison_operator": "LessThanOrEqualToThreshold"}}},
     "comparison_operator 'LessThanOrEqualToThreshold'"),
    ({"regression_constraints": {"mae": {"threshold": "one", "comparison_operator": "GreaterThanThreshold"}}},
     "threshold 'one', not a number"),
    ({"regression_constraints": {"mae": {"threshold": True, "comparison_operator": "GreaterThanThreshold"}}},
     "threshold True, not a number"),
    ({"regression_constraints": {"auc": {"threshold": 1.0, "comparison_operator": "LessThanThreshold"}}},
     "names 'auc', not a Regression metric"),
    ({"regression_constraints": {"mae": 3}}, "constraint 'mae' is not an object"),
])
def test_malformed_constraints_raise_value_error(constraints, message):
    with pytest.raises(ValueError, match=message):
        check(_statistics(mae=1.0, mse=1.0, rmse=1.0, r2=0.5), constraints)


def test_constraints_of_each_problem_type():
    assert quality.CONSTRAINTS["MulticlassClassification"] == dict.fromkeys(
        ["accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1", "weighted_f2"],
        "LessThanThreshold")
    labelled = Labelled("MulticlassClassification", np.array(["a", "b"] * 150, dtype=object),
                        np.array(["a"] * 300, dtype=object))
    constraints = suggest_constraints(compute_metrics(labelled))
    section = constraints["multiclass_classification_constraints"]
    assert list(section) == list(quality.CONSTRAINTS["MulticlassClassification"])
    assert section["accuracy"] == {"threshold": 0.5, "comparison_operator": "LessThanThreshold"}
    assert_json_safe(constraints)
