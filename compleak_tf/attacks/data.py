"""What an attack sees: one model's softmax outputs on labelled examples of known membership."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compleak_tf.errors import CompleakError


@dataclass(frozen=True)
class ModelOutputs:
    """Softmax outputs of one model on a set of examples.

    Attributes:
      probs: (n, num_classes) float64 probabilities, rows summing to 1.
      labels: (n,) true class labels.
      membership: (n,) bool, True where the example was in this model's training set.
      indices: (n,) dataset indices of the examples; two outputs are aligned by these, never by
        position alone.
      name: what produced them, e.g. "victim/prune80" (for messages and reports).
    """

    probs: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    indices: np.ndarray
    name: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(len(self.labels))

    @property
    def num_classes(self) -> int:
        return int(self.probs.shape[1])

    def validate(self) -> None:
        """Checks shapes, finiteness and label range; raises CompleakError naming the field."""
        n = len(self.labels)
        label = self.name or "model outputs"
        if self.probs.ndim != 2 or self.probs.shape[0] != n:
            raise CompleakError(f"{label}: probs has shape {self.probs.shape}, expected ({n}, K)")
        if len(self.membership) != n or len(self.indices) != n:
            raise CompleakError(f"{label}: labels, membership and indices differ in length")
        if not np.all(np.isfinite(self.probs)):
            raise CompleakError(f"{label}: outputs contain NaN or infinite values")
        if n and (self.labels.min() < 0 or self.labels.max() >= self.probs.shape[1]):
            raise CompleakError(
                f"{label}: labels reach {int(self.labels.max())} but the model has "
                f"{self.probs.shape[1]} outputs; the dataset and model do not match"
            )

    def aligned_with(self, other: "ModelOutputs") -> None:
        """Raises CompleakError unless `other` covers the same examples in the same order."""
        if len(self) != len(other) or not np.array_equal(self.indices, other.indices):
            raise CompleakError(
                f"{self.name or 'outputs'} and {other.name or 'outputs'} cover different "
                "examples or orders; harvest both models on the same split role"
            )

    def select(self, mask: np.ndarray) -> "ModelOutputs":
        """The subset of rows where `mask` is true (or at the given positions)."""
        return ModelOutputs(self.probs[mask], self.labels[mask], self.membership[mask],
                            self.indices[mask], self.name)
