"""The in-memory dataset every stage works on: inputs, integer labels and what they are."""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

import numpy as np

from compleak_tf.errors import CompleakError


class Modality(str, enum.Enum):
    """What kind of input a dataset holds; it decides which architectures fit."""

    IMAGE = "image"
    TABULAR = "tabular"
    TEXT = "text"


@dataclass(frozen=True)
class Dataset:
    """A labelled dataset pooled from all of its source splits.

    Attributes:
      name: registry name or source ("mnist5k", "npz:/path/file.npz", ...).
      x: images as float32 (n, H, W, C) in [0, 1], tabular rows as float32 (n, d), or text as
        a NumPy unicode array (n,).
      y: integer class labels in [0, num_classes).
      num_classes: number of classes.
      modality: image, tabular or text.
      class_names: optional names of the classes, index-aligned.
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    num_classes: int
    modality: Modality
    class_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        self.validate()

    def __len__(self) -> int:
        return int(len(self.y))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one raw example (() for text)."""
        return tuple(int(d) for d in self.x.shape[1:])

    def validate(self) -> None:
        """Checks lengths, label range and values; raises CompleakError naming the field."""
        if self.x.shape[0] != self.y.shape[0]:
            raise CompleakError(
                f"dataset {self.name}: x has {self.x.shape[0]} rows but y has "
                f"{self.y.shape[0]}; give one label per example"
            )
        if self.y.ndim != 1 or not np.issubdtype(self.y.dtype, np.integer):
            raise CompleakError(
                f"dataset {self.name}: y must be a 1-D integer array, got {self.y.dtype} "
                f"with shape {self.y.shape}"
            )
        if len(self.y) and (self.y.min() < 0 or self.y.max() >= self.num_classes):
            raise CompleakError(
                f"dataset {self.name}: labels must lie in [0, {self.num_classes}), "
                f"found {self.y.min()}..{self.y.max()}"
            )
        if self.num_classes < 2:
            raise CompleakError(f"dataset {self.name}: needs at least 2 classes")
        if self.modality is Modality.TEXT:
            if self.x.ndim != 1 or self.x.dtype.kind != "U":
                raise CompleakError(f"dataset {self.name}: text must be a 1-D string array")
        elif not np.all(np.isfinite(self.x)):
            raise CompleakError(
                f"dataset {self.name}: x contains NaN or infinite values; clean the data first"
            )

    def fingerprint(self) -> str:
        """SHA-256 of the labels and inputs; a split manifest is tied to it."""
        digest = hashlib.sha256()
        digest.update(self.name.split(":")[0].encode())
        digest.update(str(self.num_classes).encode())
        digest.update(np.ascontiguousarray(self.y.astype(np.int64)).tobytes())
        if self.modality is Modality.TEXT:
            for text in self.x:
                digest.update(str(text).encode("utf-8"))
                digest.update(b"\x1f")
        else:
            digest.update(str(self.x.shape).encode())
            digest.update(np.ascontiguousarray(self.x.astype(np.float32)).tobytes())
        return digest.hexdigest()

    def subset(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs and labels at `indices`."""
        return self.x[indices], self.y[indices]
