"""CompLeakSR / CompLeakMR on constructed outputs, where the right answer is known."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.attacks.multi import (MRAttack, SRAttack, SRFeatureSet, cross_entropy,
                                       out_of_fold_probabilities, sr_features)
from compleak_tf.errors import CompleakError


def outputs(probs, labels, membership, indices=None, name="m") -> ModelOutputs:
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    return ModelOutputs(probs, np.asarray(labels), np.asarray(membership, dtype=bool),
                        np.arange(n) if indices is None else np.asarray(indices), name)


def test_sr_features_on_a_hand_made_three_class_example():
    original = outputs([[0.2, 0.7, 0.1], [0.5, 0.2, 0.3]], [1, 0], [True, False])
    compressed = outputs([[0.3, 0.6, 0.1], [0.4, 0.4, 0.2]], [1, 0], [True, False])
    # Row 0: ascending order of p_o is classes (2, 0, 1); row 1: (1, 2, 0).
    expected_sr1 = [[0.1, 0.2, 0.7, 0.1, 0.3, 0.6],
                    [0.2, 0.3, 0.5, 0.4, 0.2, 0.4]]
    expected_sr2 = [row + onehot for row, onehot in zip(expected_sr1, [[0, 0, 1], [0, 0, 1]])]
    np.testing.assert_allclose(sr_features(original, compressed, "sr1"), expected_sr1)
    np.testing.assert_allclose(sr_features(original, compressed, "sr2"), expected_sr2)
    np.testing.assert_allclose(sr_features(original, compressed, "difference"),
                               [[0.0, -0.1, 0.1], [-0.2, 0.1, 0.1]])
    np.testing.assert_allclose(sr_features(original, compressed, SRFeatureSet.LOSS_PAIR),
                               [[-np.log(0.7), -np.log(0.6)], [-np.log(0.5), -np.log(0.4)]])


def test_sr_features_refuse_misaligned_outputs():
    a = outputs([[0.5, 0.5]] * 3, [0, 1, 0], [True, False, True], indices=[4, 5, 6])
    b = outputs([[0.5, 0.5]] * 3, [0, 1, 0], [True, False, True], indices=[4, 6, 5])
    with pytest.raises(CompleakError, match="different examples or orders"):
        sr_features(a, b)


def test_cross_entropy_keeps_near_one_confidences_ordered():
    eps = np.array([1e-9, 1e-12, 1e-15])
    probs = np.column_stack([1.0 - eps, eps])
    loss = cross_entropy(outputs(probs, [0, 0, 0], [True] * 3))
    np.testing.assert_allclose(loss, eps, rtol=1e-3)
    assert loss[0] > loss[1] > loss[2] > 0


def test_out_of_fold_rows_are_scored_by_models_not_fitted_on_them():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 3))
    membership = rng.random(400) < 0.5  # random labels: nothing to learn
    make = lambda: KNeighborsClassifier(n_neighbors=1)  # noqa: E731  (memorises its rows)
    in_sample = make().fit(features, membership).predict_proba(features)[:, 1]
    assert roc_auc_score(membership, in_sample) == 1.0
    oof, fold_of_row = out_of_fold_probabilities(features, membership, make, folds=5, seed=0)
    assert abs(roc_auc_score(membership, oof) - 0.5) < 0.1
    assert sorted(np.unique(fold_of_row)) == [0, 1, 2, 3, 4]
    assert np.bincount(fold_of_row).min() >= 75


def _leaky_compression(n: int, seed: int, offset: int = 0):
    """Originals that leak nothing; a compressed model that drops non-members' confidence."""
    rng = np.random.default_rng(seed)
    membership = np.arange(n) < n // 2
    confidence = rng.uniform(0.55, 0.99, size=n)
    labels = rng.integers(0, 3, size=n)
    drop = np.where(membership, 0.0, 0.05)

    def vectors(conf):
        probs = np.empty((n, 3))
        probs[:] = ((1.0 - conf) / 2.0)[:, None]
        probs[np.arange(n), labels] = conf
        return probs

    index = np.arange(n) + offset
    original = outputs(vectors(confidence), labels, membership, index, "original")
    compressed = outputs(vectors(confidence - drop), labels, membership, index, "compressed")
    return original, compressed


def test_sr_beats_nr_when_the_compressed_change_reveals_membership():
    shadow = _leaky_compression(1200, seed=1)
    victim = _leaky_compression(1200, seed=2, offset=5000)
    attack = SRAttack("sr1", "forest", seed=0, n_estimators=100).fit([shadow])
    sr_auc = roc_auc_score(victim[1].membership, attack.score(*victim))
    nr_auc = roc_auc_score(victim[1].membership, -cross_entropy(victim[1]))
    original_auc = roc_auc_score(victim[0].membership, -cross_entropy(victim[0]))
    assert sr_auc > 0.95
    assert nr_auc < 0.65 and abs(original_auc - 0.5) < 0.06
    assert sr_auc > nr_auc + 0.3


def test_sr_and_mr_are_repeatable_for_a_fixed_seed():
    shadow = _leaky_compression(600, seed=3)
    victim = _leaky_compression(600, seed=4, offset=5000)
    first = SRAttack("sr2", "forest", seed=7, n_estimators=50).fit([shadow]).score(*victim)
    second = SRAttack("sr2", "forest", seed=7, n_estimators=50).fit([shadow]).score(*victim)
    np.testing.assert_array_equal(first, second)

    def mr():
        attack = MRAttack(with_original=True, seed=7, n_estimators=50, folds=3)
        return attack.run([shadow[0]], [[shadow[1]], [shadow[1]]], victim[0],
                          [victim[1], victim[1]])

    a, b = mr(), mr()
    np.testing.assert_array_equal(a.scores, b.scores)
    assert a.meta_classifier == b.meta_classifier and set(a.cv_auc) == {"logreg", "mlp",
                                                                         "boosting"}
    assert roc_auc_score(victim[1].membership, a.scores) > 0.9


def test_mr_without_the_original_and_its_checks():
    shadow = _leaky_compression(600, seed=5)
    victim = _leaky_compression(600, seed=6, offset=5000)
    attack = MRAttack(with_original=False, seed=0, n_estimators=50, folds=3)
    result = attack.run(None, [[shadow[1]], [shadow[0]]], None, [victim[1], victim[0]])
    assert result.summary()["base_attack"] == "nr-signals"
    assert result.scores.shape == (600,)
    with pytest.raises(CompleakError, match="at least two compressed models"):
        attack.run(None, [[shadow[1]]], None, [victim[1]])
