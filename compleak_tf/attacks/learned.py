"""Learned attacks: a classifier fitted on a shadow model's outputs predicts membership.

Shokri et al., "Membership Inference Attacks Against Machine Learning Models", IEEE S&P 2017,
feeds the posterior vector to an attack model; as in the CompLeak reference, one attack model
serves all classes and the posterior is sorted in decreasing order. Nasr et al., "Machine
Learning with Membership Privacy using Adversarial Regularization", CCS 2018, adds the one-hot
true label; its attack model is a network that combines the two nonlinearly. A linear model
cannot: on [posterior, one-hot] alone it has no way to read the true class's probability and
scored below chance on a small overfit model. The Nasr features therefore add, by default, the
label-aligned product posterior * one-hot (the true class's probability in its class's slot);
`label_product=False` gives the plain concatenation the CompLeak reference uses. Each feature
set is fitted with logistic regression (lbfgs on standardised features) and with a random
forest (500 trees, min_samples_leaf 30). The score is the classifier's P(member).

All target rows are scored in ONE predict_proba call: scoring members and non-members
separately leaves identical rows differing in the last bit, which can flip their ranks.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

import numpy as np

from compleak_tf.attacks.base import Attack, AttackConfig, AttackInputs
from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)


class Features(str, Enum):
    """What the attack classifier sees of each example."""

    SORTED_POSTERIOR = "sorted_posterior"
    POSTERIOR_AND_LABEL = "posterior_and_label"


def attack_features(kind: Features | str, outputs: ModelOutputs,
                    label_product: bool = False) -> np.ndarray:
    """The attack classifier's input for every row of `outputs`.

    Args:
      kind: sorted posterior (n, K), or posterior followed by the one-hot label (n, 2K).
      outputs: model outputs.
      label_product: for POSTERIOR_AND_LABEL, append posterior * one-hot (n, 3K in all).
    """
    kind = Features(kind)
    probs = np.asarray(outputs.probs, dtype=np.float64)
    if kind is Features.SORTED_POSTERIOR:
        return -np.sort(-probs, axis=1)
    one_hot = np.zeros_like(probs)
    one_hot[np.arange(len(outputs)), outputs.labels] = 1.0
    parts = [probs, one_hot] + ([probs * one_hot] if label_product else [])
    return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class LogisticConfig(AttackConfig):
    """Logistic regression on standardised features.

    Attributes:
      c: inverse regularisation strength.
      max_iter: lbfgs iterations.
      balanced: weight the classes so unequal shadow member / non-member counts do not bias it.
      label_product: Nasr features only: add posterior * one-hot (see the module docstring).
    """

    c: float = 1.0
    max_iter: int = 1000
    balanced: bool = True
    label_product: bool = True

    def validate(self) -> None:
        if not float(self.c) > 0:
            raise CompleakError(f"logistic regression c is {self.c}; it must be > 0")
        if int(self.max_iter) < 1:
            raise CompleakError(f"max_iter is {self.max_iter}; it must be >= 1")


@dataclass(frozen=True)
class ForestConfig(AttackConfig):
    """Random forest.

    Attributes:
      n_estimators: trees (the reference uses 500; tests may use fewer).
      min_samples_leaf: smallest leaf (reference: 30).
      seed: random_state of the forest.
      n_jobs: worker processes for fitting and scoring (None: one).
      balanced: weight the classes as in LogisticConfig.
      label_product: Nasr features only: add posterior * one-hot (see the module docstring).
    """

    n_estimators: int = 500
    min_samples_leaf: int = 30
    seed: int = 0
    n_jobs: int | None = None
    balanced: bool = True
    label_product: bool = True

    def validate(self) -> None:
        if int(self.n_estimators) < 1:
            raise CompleakError(f"n_estimators is {self.n_estimators}; it must be >= 1")
        if int(self.min_samples_leaf) < 1:
            raise CompleakError(f"min_samples_leaf is {self.min_samples_leaf}; it must be >= 1")


class _LearnedAttack(Attack):
    """Fits a classifier on shadow features, then scores all target rows at once."""

    features: ClassVar[Features]
    needs_shadow = True

    def __init__(self, config: AttackConfig | None = None) -> None:
        super().__init__(config)
        self.model = None

    def _classifier(self):
        raise NotImplementedError

    def score(self, inputs: AttackInputs) -> np.ndarray:
        shadow = inputs.shadow
        membership = shadow.membership.astype(bool)
        if membership.all() or not membership.any():
            raise CompleakError(f"{shadow.name or 'shadow'} outputs hold only "
                                f"{'members' if membership.all() else 'non-members'}; a learned "
                                "attack needs both to fit")
        product = bool(self.config.label_product)
        self.model = self._classifier()
        self.model.fit(attack_features(self.features, shadow, product),
                       membership.astype(np.int64))
        member_column = list(self.model.classes_).index(1)
        return self.model.predict_proba(
            attack_features(self.features, inputs.target, product))[:, member_column]

    @property
    def decision_threshold(self) -> float | None:
        return 0.5


class _Logistic(_LearnedAttack):
    config_class = LogisticConfig

    def _classifier(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            StandardScaler(),
            LogisticRegression(C=float(self.config.c), solver="lbfgs",
                               max_iter=int(self.config.max_iter),
                               class_weight="balanced" if self.config.balanced else None))


class _Forest(_LearnedAttack):
    config_class = ForestConfig

    def _classifier(self):
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=int(self.config.n_estimators),
            min_samples_leaf=int(self.config.min_samples_leaf),
            random_state=int(self.config.seed), n_jobs=self.config.n_jobs,
            class_weight="balanced" if self.config.balanced else None)


_SHOKRI = "Shokri et al., Membership Inference Attacks Against ML Models, IEEE S&P 2017"
_NASR = "Nasr et al., ML with Membership Privacy using Adversarial Regularization, CCS 2018"


class ShokriLogistic(_Logistic):
    """Logistic regression on the sorted posterior (Shokri et al., IEEE S&P 2017)."""

    name = "shokri_lr"
    paper = _SHOKRI
    features = Features.SORTED_POSTERIOR


class ShokriForest(_Forest):
    """Random forest on the sorted posterior (Shokri et al., IEEE S&P 2017)."""

    name = "shokri_rf"
    paper = _SHOKRI
    features = Features.SORTED_POSTERIOR


class NasrLogistic(_Logistic):
    """Logistic regression on posterior + one-hot label (Nasr et al., CCS 2018)."""

    name = "nasr_lr"
    paper = _NASR
    features = Features.POSTERIOR_AND_LABEL


class NasrForest(_Forest):
    """Random forest on posterior + one-hot label (Nasr et al., CCS 2018)."""

    name = "nasr_rf"
    paper = _NASR
    features = Features.POSTERIOR_AND_LABEL
