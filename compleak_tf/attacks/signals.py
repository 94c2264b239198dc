"""Per-example signals computed from softmax outputs in float64, precise near confidence 1.

A float32 softmax rounds confidences above 1 - 6e-8 to exactly 1.0, although the other classes'
probabilities still differ. Wherever the true-class probability exceeds 0.5, its logarithm is
therefore taken as log1p(-(sum of the other probabilities)), which keeps such examples ordered.
"""
from __future__ import annotations

import numpy as np

# Probabilities come from float32 (or coarser) models: nothing below float32's smallest normal
# number is a real distinction, and clipping there keeps logarithms finite.
MIN_PROBABILITY = float(np.finfo(np.float32).tiny)


def _rows(probs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    return probs, labels


def true_class_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """p_y: the probability each row gives its true label, shape (n,)."""
    probs, labels = _rows(probs, labels)
    return probs[np.arange(len(labels)), labels]


def other_classes_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1 - p_y computed as the sum of the other classes' probabilities, shape (n,)."""
    probs, labels = _rows(probs, labels)
    others = probs.copy()
    others[np.arange(len(labels)), labels] = 0.0
    return others.sum(axis=1)


def log_true_class_probability(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log p_y, from log1p(-others) where p_y > 0.5 and clipped at MIN_PROBABILITY."""
    p_true = true_class_probability(probs, labels)
    others = other_classes_probability(probs, labels)
    near_one = p_true > 0.5
    logs = np.empty_like(p_true)
    logs[near_one] = np.log1p(-np.minimum(others[near_one], 0.5))
    logs[~near_one] = np.log(np.maximum(p_true[~near_one], MIN_PROBABILITY))
    return logs


def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example cross-entropy loss -log p_y in float64, shape (n,)."""
    return -log_true_class_probability(probs, labels)


def logit_confidence(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """log(p_y / (1 - p_y)), the scaled confidence LiRA models as Gaussian, shape (n,).

    Both probabilities are clipped at MIN_PROBABILITY, so the value stays within about +-87.
    """
    others = other_classes_probability(probs, labels)
    return (log_true_class_probability(probs, labels)
            - np.log(np.maximum(others, MIN_PROBABILITY)))


def _log_probs(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    probs, labels = _rows(probs, labels)
    logs = np.log(np.maximum(probs, MIN_PROBABILITY))
    logs[np.arange(len(labels)), labels] = log_true_class_probability(probs, labels)
    return logs


def entropy(probs: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
    """Shannon entropy of each row (natural log; 0 log 0 = 0), shape (n,).

    With `labels`, the true class's log-probability uses the precise form near 1.
    """
    probs = np.asarray(probs, dtype=np.float64)
    if labels is None:
        logs = np.log(np.maximum(probs, MIN_PROBABILITY))
    else:
        logs = _log_probs(probs, labels)
    return -(probs * logs).sum(axis=1)


def modified_entropy(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Song & Mittal's modified entropy, shape (n,).

    Mentr = -(1 - p_y) log p_y - sum over j != y of p_j log(1 - p_j); it is low when the model
    is confident and right, high when it is confident and wrong.
    """
    probs, labels = _rows(probs, labels)
    rows = np.arange(len(labels))
    others = other_classes_probability(probs, labels)
    log_one_minus = np.where(probs < 0.5, np.log1p(-np.minimum(probs, 0.5)),
                             np.log(np.maximum(1.0 - probs, MIN_PROBABILITY)))
    wrong_terms = probs * log_one_minus
    wrong_terms[rows, labels] = 0.0
    return -others * log_true_class_probability(probs, labels) - wrong_terms.sum(axis=1)


def correctness(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1.0 where the top-1 prediction equals the label, else 0.0, shape (n,)."""
    probs, labels = _rows(probs, labels)
    return (probs.argmax(axis=1) == labels).astype(np.float64)
