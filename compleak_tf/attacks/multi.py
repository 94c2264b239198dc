"""CompLeakSR and CompLeakMR: attacks that query several versions of the same model.

SR (one original + one compressed model) feeds a classifier with both softmax vectors, sorted
by the original's ascending order, optionally with the one-hot label in the same order. MR
stacks per-model attacks over several compressed models: every base attack's member
probability for a shadow row comes from a base classifier that was not fitted on that row
(out-of-fold), and each model's cross-entropy loss is computed from that model's own output.
The meta-classifier is picked by cross-validation on shadow data only.
"""
from __future__ import annotations

import enum
import logging
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from compleak_tf.attacks import signals
from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.errors import CompleakError
from compleak_tf.metrics import roc_auc

logger = logging.getLogger(__name__)


class SRFeatureSet(str, enum.Enum):
    """What an SR attack sees of an example, given original and compressed outputs."""

    SR1 = "sr1"  # [p_o[s], p_c[s]]
    SR2 = "sr2"  # [p_o[s], p_c[s], onehot(y)[s]]
    LOSS_PAIR = "loss-pair"  # [loss_o, loss_c]
    DIFFERENCE = "difference"  # p_o[s] - p_c[s]


class Classifier(str, enum.Enum):
    """The scikit-learn classifiers an SR or MR attack can use."""

    LOGREG = "logreg"
    FOREST = "forest"
    MLP = "mlp"
    BOOSTING = "boosting"


def make_classifier(kind: Classifier | str, seed: int = 0, n_estimators: int = 500,
                    n_jobs: int | None = None) -> ClassifierMixin:
    """A fresh classifier: logistic regression on standardised features (lbfgs), a random
    forest (min_samples_leaf 30, as the reference), a small MLP, or gradient boosting."""
    kind = Classifier(kind)
    if kind is Classifier.LOGREG:
        return make_pipeline(StandardScaler(), LogisticRegression(solver="lbfgs", max_iter=2000))
    if kind is Classifier.FOREST:
        return RandomForestClassifier(n_estimators=n_estimators, min_samples_leaf=30,
                                      random_state=seed, n_jobs=n_jobs)
    if kind is Classifier.MLP:
        return make_pipeline(StandardScaler(), MLPClassifier(
            hidden_layer_sizes=(64, 32), alpha=1e-3, max_iter=500, early_stopping=True,
            random_state=seed))
    return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=seed)


def cross_entropy(outputs: ModelOutputs) -> np.ndarray:
    """Per-example float64 loss of one model's outputs (see signals.cross_entropy)."""
    return signals.cross_entropy(outputs.probs, outputs.labels)


def sr_features(original: ModelOutputs, compressed: ModelOutputs,
                feature_set: SRFeatureSet | str = SRFeatureSet.SR2) -> np.ndarray:
    """Features of one example from original and compressed softmax outputs.

    s is the permutation that sorts the original's probabilities ascending (ties keep class
    order); the compressed vector and the one-hot label are put in that same order.
    """
    feature_set = SRFeatureSet(feature_set)
    original.aligned_with(compressed)
    if original.num_classes != compressed.num_classes:
        raise CompleakError(
            f"{original.name} has {original.num_classes} outputs but {compressed.name} has "
            f"{compressed.num_classes}; compare models of the same dataset"
        )
    if feature_set is SRFeatureSet.LOSS_PAIR:
        return np.column_stack([cross_entropy(original), cross_entropy(compressed)])
    order = np.argsort(original.probs, axis=1, kind="stable")
    p_o = np.take_along_axis(original.probs, order, axis=1)
    p_c = np.take_along_axis(compressed.probs, order, axis=1)
    if feature_set is SRFeatureSet.DIFFERENCE:
        return p_o - p_c
    if feature_set is SRFeatureSet.SR1:
        return np.hstack([p_o, p_c])
    onehot = np.zeros_like(original.probs)
    onehot[np.arange(len(onehot)), original.labels] = 1.0
    return np.hstack([p_o, p_c, np.take_along_axis(onehot, order, axis=1)])


def nr_stack_features(outputs: ModelOutputs) -> np.ndarray:
    """One model's NR signals: posteriors sorted descending, loss, entropy, modified entropy."""
    probs, labels = outputs.probs, outputs.labels
    return np.column_stack([-np.sort(-probs, axis=1), signals.cross_entropy(probs, labels),
                            signals.entropy(probs), signals.modified_entropy(probs, labels)])


def _concat(parts: Sequence[ModelOutputs]) -> ModelOutputs:
    return ModelOutputs(np.concatenate([p.probs for p in parts]),
                        np.concatenate([p.labels for p in parts]),
                        np.concatenate([p.membership for p in parts]),
                        np.concatenate([p.indices for p in parts]),
                        parts[0].name)


def _member_probability(model: ClassifierMixin, features: np.ndarray) -> np.ndarray:
    """P(member) for every row from ONE predict_proba call, so tied rows score identically."""
    column = list(model.classes_).index(True)
    return model.predict_proba(features)[:, column]


def out_of_fold_probabilities(features: np.ndarray, membership: np.ndarray,
                              make: Callable[[], ClassifierMixin], folds: int = 5,
                              seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Member probabilities where each row is scored by a classifier not fitted on it.

    Returns:
      (probabilities, fold_of_row): fold_of_row[i] is the fold whose held-out part row i was;
      the classifier that scored it was fitted on every other fold.
    """
    membership = np.asarray(membership, dtype=bool)
    probs = np.empty(len(membership))
    fold_of_row = np.empty(len(membership), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, held) in enumerate(splitter.split(features, membership)):
        model = make().fit(features[train], membership[train])
        probs[held] = _member_probability(model, features[held])
        fold_of_row[held] = fold
    return probs, fold_of_row


@dataclass
class SRAttack:
    """CompLeakSR: a classifier on (original, compressed) outputs, fitted on shadow pairs.

    Args:
      feature_set: SR1, SR2, the loss pair, or the sorted difference.
      classifier: logreg, forest or mlp.
      seed: seeds the classifier.
      n_estimators: trees of the forest (500 in the reference).
    """

    feature_set: SRFeatureSet = SRFeatureSet.SR2
    classifier: Classifier = Classifier.FOREST
    seed: int = 0
    n_estimators: int = 500
    model_: ClassifierMixin | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.feature_set = SRFeatureSet(self.feature_set)
        self.classifier = Classifier(self.classifier)

    def fit(self, shadow_pairs: Sequence[tuple[ModelOutputs, ModelOutputs]]) -> "SRAttack":
        """Fits on (shadow original, shadow compressed) pairs of known membership."""
        if not shadow_pairs:
            raise CompleakError("SR needs at least one shadow (original, compressed) pair")
        features = np.vstack([sr_features(o, c, self.feature_set) for o, c in shadow_pairs])
        membership = np.concatenate([o.membership for o, _ in shadow_pairs])
        if membership.all() or not membership.any():
            raise CompleakError("shadow outputs hold only one membership class; harvest the "
                                "shadow on its members and non-members")
        self.model_ = make_classifier(self.classifier, self.seed, self.n_estimators)
        self.model_.fit(features, membership)
        return self

    def score(self, original: ModelOutputs, compressed: ModelOutputs) -> np.ndarray:
        """Member probability of every target example (one predict_proba call)."""
        if self.model_ is None:
            raise RuntimeError("fit the SR attack before scoring")
        return _member_probability(self.model_, sr_features(original, compressed,
                                                            self.feature_set))


@dataclass
class MRResult:
    """Scores of an MR attack on the victim's examples, and how the stack was chosen."""

    scores: np.ndarray
    models: list[str]
    with_original: bool
    meta_classifier: str
    cv_auc: dict[str, float]
    base: str

    def summary(self) -> dict[str, Any]:
        return {"models": self.models, "with_original": self.with_original,
                "meta_classifier": self.meta_classifier, "shadow_cv_auc": self.cv_auc,
                "base_attack": self.base}


@dataclass
class MRAttack:
    """CompLeakMR: stacks per-model attacks over several compressed models.

    With the original, the base attack for compressed model i is SR2 on (original, model i);
    without it, a classifier on model i's NR signals. The meta-classifier's inputs for every
    shadow row are out-of-fold base probabilities plus each model's own loss; the
    meta-classifier (logistic regression, MLP or gradient boosting) with the best
    cross-validated AUC on shadow rows is refitted on all of them.
    """

    with_original: bool = True
    base_classifier: Classifier = Classifier.FOREST
    meta_candidates: tuple[Classifier, ...] = (Classifier.LOGREG, Classifier.MLP,
                                               Classifier.BOOSTING)
    folds: int = 5
    seed: int = 0
    n_estimators: int = 500

    def _base_features(self, original: ModelOutputs | None, compressed: ModelOutputs):
        if self.with_original:
            return sr_features(original, compressed, SRFeatureSet.SR2)
        return nr_stack_features(compressed)

    def run(self, shadow_original: Sequence[ModelOutputs] | None,
            shadow_compressed: Sequence[Sequence[ModelOutputs]],
            victim_original: ModelOutputs | None,
            victim_compressed: Sequence[ModelOutputs]) -> MRResult:
        """Fits on shadows and scores the victim.

        Args:
          shadow_original: per shadow model, its original outputs on its own examples (None
            without the original).
          shadow_compressed: per compressed scheme, per shadow model, outputs aligned with
            `shadow_original`.
          victim_original: the victim original on the evaluation examples (None without it).
          victim_compressed: per compressed scheme, the victim's outputs, aligned.
        """
        if len(victim_compressed) < 2 or len(shadow_compressed) != len(victim_compressed):
            raise CompleakError("MR needs at least two compressed models, each with shadows; "
                                "name them with --schemes")
        make_base = partial(make_classifier, self.base_classifier, self.seed, self.n_estimators)
        shadow_o = _concat(list(shadow_original)) if self.with_original else None
        shadow_meta, victim_meta = [], []
        membership = None
        for per_shadow, victim_c in zip(shadow_compressed, victim_compressed):
            shadow_c = _concat(list(per_shadow))
            if shadow_o is not None:
                shadow_o.aligned_with(shadow_c)
            features = self._base_features(shadow_o, shadow_c)
            membership = shadow_c.membership
            oof, _ = out_of_fold_probabilities(features, membership, make_base, self.folds,
                                               self.seed)
            base = make_base().fit(features, membership)
            victim_features = self._base_features(victim_original, victim_c)
            shadow_meta += [oof, cross_entropy(shadow_c)]
            victim_meta += [_member_probability(base, victim_features), cross_entropy(victim_c)]
        shadow_x, victim_x = np.column_stack(shadow_meta), np.column_stack(victim_meta)

        cv_auc = {}
        for candidate in self.meta_candidates:
            oof, _ = out_of_fold_probabilities(
                shadow_x, membership, partial(make_classifier, candidate, self.seed),
                self.folds, self.seed + 1)
            cv_auc[Classifier(candidate).value] = roc_auc(oof, membership)
        best = max(cv_auc, key=cv_auc.get)
        meta = make_classifier(best, self.seed).fit(shadow_x, membership)
        names = [v.name for v in victim_compressed]
        logger.info("MR over %s: meta-classifier %s (shadow CV AUC %.3f)", names, best,
                    cv_auc[best])
        return MRResult(_member_probability(meta, victim_x), names, self.with_original, best,
                        cv_auc, "sr2" if self.with_original else "nr-signals")
