"""compleak_tf.metrics against scikit-learn and against ROCs built by hand."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from compleak_tf import metrics
from compleak_tf.errors import CompleakError


def _scores(n: int, seed: int, shift: float = 1.0, step: float | None = None):
    rng = np.random.RandomState(seed)
    membership = rng.rand(n) < 0.5
    scores = rng.randn(n) + shift * membership
    if step is not None:
        scores = np.round(scores / step) * step
    return scores, membership


@pytest.mark.parametrize("step", [None, 0.25, 1 / 256])
def test_roc_and_auc_agree_with_sklearn(step):
    scores, membership = _scores(3000, 0, step=step)
    curve = metrics.roc_curve(scores, membership)
    fpr, tpr, thresholds = sk_roc_curve(membership, scores, drop_intermediate=False)
    np.testing.assert_allclose(curve.fpr, fpr, atol=1e-15)
    np.testing.assert_allclose(curve.tpr, tpr, atol=1e-15)
    np.testing.assert_array_equal(curve.thresholds[1:], thresholds[1:])
    assert curve.thresholds[0] == np.inf
    assert metrics.roc_auc(scores, membership) == pytest.approx(
        roc_auc_score(membership, scores), abs=1e-12)


def test_hand_built_roc_with_ties():
    # Members 0.9, 0.5, 0.5; non-members 0.5, 0.1. Thresholds: inf, 0.9, 0.5, 0.1.
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    membership = np.array([True, True, True, False, False])
    curve = metrics.roc_curve(scores, membership)
    np.testing.assert_allclose(curve.tpr, [0, 1 / 3, 1, 1])
    np.testing.assert_allclose(curve.fpr, [0, 0, 0.5, 1])
    np.testing.assert_array_equal(curve.thresholds, [np.inf, 0.9, 0.5, 0.1])
    # Pairs (member > non-member): 0.9 beats both, each 0.5 ties one and beats one.
    assert metrics.roc_auc(scores, membership) == pytest.approx((2 + 2 * 1.5) / 6)
    accuracy, threshold = metrics.best_balanced_accuracy(scores, membership)
    assert (accuracy, threshold) == (pytest.approx(0.75), 0.5)
    assert metrics.balanced_accuracy_at(scores, membership, 0.9) == pytest.approx(
        0.5 * (1 / 3 + 1))


def test_all_equal_scores_and_perfect_separation():
    membership = np.array([True] * 50 + [False] * 50)
    flat = np.full(100, 0.3)
    assert metrics.roc_auc(flat, membership) == 0.5
    assert metrics.best_balanced_accuracy(flat, membership) == (0.5, np.inf)
    assert metrics.tpr_at_fpr(flat, membership, 0.01).tpr.value == 0.0
    separated = membership.astype(float) + np.linspace(0, 0.5, 100)
    assert metrics.roc_auc(separated, membership) == 1.0
    assert metrics.best_balanced_accuracy(separated, membership)[0] == 1.0
    assert metrics.tpr_at_fpr(separated, membership, 0.01).tpr.value == 1.0
    assert metrics.roc_auc(-separated, membership) == 0.0


@pytest.mark.parametrize("target", [0.001, 0.01, 0.05])
def test_tpr_at_fpr_rule_against_sklearn_curve(target):
    scores, membership = _scores(4000, 1, step=0.05)
    entry = metrics.tpr_at_fpr(scores, membership, target)
    fpr, tpr, thresholds = sk_roc_curve(membership, scores, drop_intermediate=False)
    allowed = fpr <= target
    assert entry.realized_fpr <= target
    assert entry.tpr.value == pytest.approx(tpr[allowed].max())
    best = np.flatnonzero(allowed & (tpr == tpr[allowed].max()))[0]
    assert entry.realized_fpr == pytest.approx(fpr[best])
    if best > 0:
        assert entry.threshold == thresholds[best]
    called = scores >= entry.threshold
    assert called[~membership].mean() == pytest.approx(entry.realized_fpr)
    assert called[membership].mean() == pytest.approx(entry.tpr.value)


def test_tpr_at_fpr_too_few_non_members_warns_or_raises(caplog):
    scores, membership = _scores(400, 2)
    with caplog.at_level(logging.WARNING, logger="compleak_tf.metrics"):
        entry = metrics.tpr_at_fpr(scores, membership, 0.001)
    assert not entry.reliable
    assert "needs at least 1000 non-members" in caplog.text
    with pytest.raises(CompleakError, match="needs at least 1000 non-members"):
        metrics.tpr_at_fpr(scores, membership, 0.001, strict=True)
    with pytest.raises(CompleakError, match="needs at least 1000"):
        metrics.evaluate(scores, membership,
                         config=metrics.MetricsConfig(n_bootstrap=0, strict=True))


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(CompleakError, match="both members and non-members"):
        metrics.roc_auc(np.ones(5), np.ones(5, bool))
    with pytest.raises(CompleakError, match="NaN"):
        metrics.roc_auc(np.array([0.1, np.nan]), np.array([True, False]))
    with pytest.raises(CompleakError, match="same length"):
        metrics.roc_auc(np.ones(3), np.array([True, False]))
    with pytest.raises(CompleakError, match="outside"):
        metrics.MetricsConfig(target_fprs=(0.0,))
    with pytest.raises(CompleakError, match="unknown metric"):
        metrics.bootstrap_interval(np.ones(2), np.array([True, False]), "precision")


def test_bootstrap_interval_contains_estimate_and_shrinks_with_n():
    widths = []
    for n in (400, 6400):
        scores, membership = _scores(n, 3)
        result = metrics.evaluate(scores, membership, attack="x",
                                  config=metrics.MetricsConfig(n_bootstrap=300, seed=1,
                                                               target_fprs=(0.01,)))
        for estimate in (result.auc, result.balanced_accuracy, result.tpr(0.01).tpr):
            assert estimate.ci_low <= estimate.value <= estimate.ci_high
        widths.append(result.auc.ci_high - result.auc.ci_low)
    # The interval width goes as 1/sqrt(n): 16 times the data, about a quarter of the width.
    assert widths[1] < 0.4 * widths[0]


def test_bootstrap_replicates_match_a_loop_over_resamples():
    scores, membership = _scores(300, 4, step=0.1)
    reps = metrics._bootstrap_many([scores], membership,
                                   [(metrics.Metric.AUC, None),
                                    (metrics.Metric.TPR_AT_FPR, 0.05)], 20, seed=7)[0]
    rng = np.random.default_rng(7)
    counts = metrics._resample_counts(rng, membership, 20)
    for b in range(20):
        picked = np.repeat(np.arange(300), counts[b])
        assert reps[0, b] == pytest.approx(roc_auc_score(membership[picked], scores[picked]))
        expected = metrics.tpr_at_fpr(scores[picked], membership[picked], 0.05).tpr.value
        assert reps[1, b] == pytest.approx(expected)
        assert counts[b][membership].sum() == membership.sum()


def test_paired_bootstrap():
    scores, membership = _scores(1000, 5)
    same = metrics.paired_bootstrap(scores, scores.copy(), membership, n_bootstrap=200)
    assert same.difference.value == 0.0
    assert same.difference.ci_low == 0.0 and same.difference.ci_high == 0.0

    noisy = scores + np.random.RandomState(6).randn(1000) * 2.0
    diff = metrics.paired_bootstrap(scores, noisy, membership, "auc", n_bootstrap=300, seed=2)
    assert diff.difference.value == pytest.approx(
        roc_auc_score(membership, scores) - roc_auc_score(membership, noisy))
    assert diff.difference.ci_low > 0
    assert diff.fraction_not_positive == 0.0
    tpr = metrics.paired_bootstrap(scores, noisy, membership, metrics.Metric.TPR_AT_FPR,
                                   target_fpr=0.01, n_bootstrap=100)
    assert tpr.target_fpr == 0.01
    with pytest.raises(CompleakError, match="needs target_fpr"):
        metrics.paired_bootstrap(scores, noisy, membership, metrics.Metric.TPR_AT_FPR)


def test_evaluate_is_deterministic_and_json_serialisable():
    scores, membership = _scores(500, 8, step=0.5)
    config = metrics.MetricsConfig(n_bootstrap=100, seed=3)
    first = metrics.evaluate(scores, membership, attack="loss", config=config, threshold=0.0)
    second = metrics.evaluate(scores, membership, attack="loss", config=config, threshold=0.0)
    assert first == second
    data = json.loads(json.dumps(first.to_dict(), allow_nan=False))
    assert data["auc"]["value"] == pytest.approx(roc_auc_score(membership, scores))
    assert data["balanced_accuracy_at_threshold"]["value"] == pytest.approx(
        metrics.balanced_accuracy_at(scores, membership, 0.0))
    assert [t["target_fpr"] for t in data["tpr_at_fpr"]] == [0.001, 0.01]
    other = metrics.evaluate(scores, membership, config=metrics.MetricsConfig(n_bootstrap=100,
                                                                              seed=4))
    assert other.auc.ci_low != first.auc.ci_low
