"""Metric-based attacks of Song & Mittal: one signal per example, thresholds fitted on a shadow.

Song and Mittal, "Systematic Evaluation of Privacy Risks of Machine Learning Models", USENIX
Security 2021. Each signal is oriented so that higher means "more like a member" (confidence
p_y; minus the entropy; minus the modified entropy; minus the loss; correctness). One threshold
per class is chosen on the shadow model's members and non-members of that class, as the one
with the best balanced accuracy there; the score of a target example of class y is the signed
distance of its oriented signal to the threshold of class y. The attack calls an example a
member when that score is >= 0, so its decision threshold is 0.

A class with fewer than `min_class_examples` shadow members or non-members, or whose best
threshold does not beat chance on the shadow, uses the threshold fitted on all shadow examples
instead.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Callable, ClassVar

import numpy as np

from compleak_tf import metrics
from compleak_tf.attacks import signals
from compleak_tf.attacks.base import Attack, AttackConfig, AttackInputs
from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)


class Signal(str, Enum):
    """The per-example quantity a metric-based attack thresholds."""

    CONFIDENCE = "confidence"
    ENTROPY = "entropy"
    MODIFIED_ENTROPY = "modified_entropy"
    LOSS = "loss"
    CORRECTNESS = "correctness"


# Each signal, oriented so that members score higher.
_ORIENTED: dict[Signal, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    Signal.CONFIDENCE: signals.true_class_probability,
    Signal.ENTROPY: lambda probs, labels: -signals.entropy(probs, labels),
    Signal.MODIFIED_ENTROPY: lambda probs, labels: -signals.modified_entropy(probs, labels),
    Signal.LOSS: lambda probs, labels: -signals.cross_entropy(probs, labels),
    Signal.CORRECTNESS: signals.correctness,
}


def oriented_signal(signal: Signal | str, outputs: ModelOutputs) -> np.ndarray:
    """The signal of every row of `outputs`, oriented so that higher = member, shape (n,)."""
    return _ORIENTED[Signal(signal)](outputs.probs, outputs.labels)


@dataclass(frozen=True)
class MetricAttackConfig(AttackConfig):
    """Config of the thresholded metric attacks.

    Attributes:
      class_wise: one threshold per class (Song & Mittal) rather than one for all classes.
      min_class_examples: shadow members and non-members a class needs for its own threshold.
    """

    class_wise: bool = True
    min_class_examples: int = 5

    def validate(self) -> None:
        if not isinstance(self.class_wise, bool):
            raise CompleakError(f"class_wise must be true or false, got {self.class_wise!r}")
        if int(self.min_class_examples) < 1:
            raise CompleakError(f"min_class_examples is {self.min_class_examples}; use >= 1")


def _best_threshold(values: np.ndarray, membership: np.ndarray) -> float | None:
    """The best-balanced-accuracy threshold, or None when no threshold beats chance."""
    if membership.all() or not membership.any():
        return None
    accuracy, threshold = metrics.best_balanced_accuracy(values, membership)
    return threshold if accuracy > 0.5 and np.isfinite(threshold) else None


def fit_class_thresholds(values: np.ndarray, labels: np.ndarray, membership: np.ndarray,
                         num_classes: int, *, class_wise: bool = True,
                         min_class_examples: int = 5) -> np.ndarray:
    """One threshold per class on shadow signals, falling back to the global threshold.

    Args:
      values: (n,) oriented shadow signals.
      labels: (n,) shadow labels.
      membership: (n,) bool shadow membership.
      num_classes: K.
      class_wise: one threshold per class; False gives every class the global one.
      min_class_examples: shadow members and non-members a class needs for its own threshold.

    Returns:
      (K,) thresholds; signals >= the threshold of their class are called members.
    """
    fallback = _best_threshold(values, membership)
    if fallback is None:
        # Nothing separates the shadow's members: call the upper half members.
        fallback = float(np.median(values))
        logger.warning("no threshold beats chance on the shadow; using the median signal")
    thresholds = np.full(num_classes, fallback, dtype=np.float64)
    if not class_wise:
        return thresholds
    for label in range(num_classes):
        in_class = labels == label
        members = int(membership[in_class].sum())
        if min(members, int(in_class.sum()) - members) < min_class_examples:
            continue
        threshold = _best_threshold(values[in_class], membership[in_class])
        if threshold is not None:
            thresholds[label] = threshold
    return thresholds


class _ThresholdAttack(Attack):
    """A signal minus the shadow-fitted threshold of the example's class."""

    signal: ClassVar[Signal]
    config_class = MetricAttackConfig
    needs_shadow = True

    def __init__(self, config: MetricAttackConfig | None = None) -> None:
        super().__init__(config)
        self.thresholds: np.ndarray | None = None

    def score(self, inputs: AttackInputs) -> np.ndarray:
        shadow = inputs.shadow
        self.thresholds = fit_class_thresholds(
            oriented_signal(self.signal, shadow), shadow.labels,
            shadow.membership.astype(bool), int(inputs.num_classes),
            class_wise=self.config.class_wise,
            min_class_examples=int(self.config.min_class_examples))
        target = inputs.target
        return oriented_signal(self.signal, target) - self.thresholds[target.labels]

    @property
    def decision_threshold(self) -> float | None:
        return 0.0


_SONG_MITTAL = "Song & Mittal, Systematic Evaluation of Privacy Risks of ML Models, 2021"


class ConfidenceAttack(_ThresholdAttack):
    """Threshold on the true-class confidence p_y (Song & Mittal, USENIX Security 2021)."""

    name = "confidence"
    paper = _SONG_MITTAL
    signal = Signal.CONFIDENCE


class EntropyAttack(_ThresholdAttack):
    """Threshold on the prediction entropy (Song & Mittal, USENIX Security 2021)."""

    name = "entropy"
    paper = _SONG_MITTAL
    signal = Signal.ENTROPY


class ModifiedEntropyAttack(_ThresholdAttack):
    """Threshold on the label-aware modified entropy (Song & Mittal, USENIX Security 2021)."""

    name = "modified_entropy"
    paper = _SONG_MITTAL
    signal = Signal.MODIFIED_ENTROPY


class LossAttack(_ThresholdAttack):
    """Threshold on the cross-entropy loss (Yeom et al. 2018; class-wise as in Song & Mittal)."""

    name = "loss"
    paper = "Yeom et al., Privacy Risk in Machine Learning, CSF 2018; Song & Mittal 2021"
    signal = Signal.LOSS


@dataclass(frozen=True)
class CorrectnessConfig(AttackConfig):
    """The correctness attack has no options."""


class CorrectnessAttack(Attack):
    """Member when the model classifies the example correctly (Yeom et al. 2018; Song & Mittal
    2021's baseline). The score is 1.0 or 0.0; it needs no shadow."""

    name = "correctness"
    paper = "Yeom et al., Privacy Risk in Machine Learning, CSF 2018"
    config_class = CorrectnessConfig

    def score(self, inputs: AttackInputs) -> np.ndarray:
        return oriented_signal(Signal.CORRECTNESS, inputs.target)

    @property
    def decision_threshold(self) -> float | None:
        return 0.5
