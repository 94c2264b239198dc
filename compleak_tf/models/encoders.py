"""How raw dataset inputs become model inputs, saved beside each trained model.

Images and tabular rows go to the model as they are. Text is tokenized outside the model (so
that the exported .tflite takes integer token ids); the tokenizer is fitted on the training
role's members only and saved with the model, so harvesting a compressed model later encodes
inputs exactly as training did.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from compleak_tf.errors import CompleakError
from compleak_tf.fileio import read_json, write_json


class InputEncoder:
    """Base class: `fit` on member inputs, `transform` any inputs, round-trip through JSON."""

    kind: ClassVar[str] = ""

    def fit(self, x: np.ndarray) -> "InputEncoder":
        """Learns whatever the encoding needs from training inputs; returns self."""
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Encodes raw inputs into the array the model takes."""
        raise NotImplementedError

    @property
    def model_input_shape(self) -> tuple[int, ...]:
        """Shape of one encoded example."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-ready state, enough for `from_config` to rebuild the encoder."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "InputEncoder":
        raise NotImplementedError

    def save(self, path: str | Path) -> Path:
        return write_json(path, {"kind": self.kind, "config": self.config()})


class IdentityEncoder(InputEncoder):
    """Passes float32 image or tabular inputs through unchanged, checking their shape."""

    kind = "identity"

    def __init__(self, input_shape: tuple[int, ...]) -> None:
        self._shape = tuple(int(d) for d in input_shape)

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self._shape:
            raise CompleakError(
                f"inputs have shape {tuple(x.shape[1:])} per example but the model expects "
                f"{self._shape}; use the dataset the model was trained on"
            )
        return x.astype(np.float32, copy=False)

    @property
    def model_input_shape(self) -> tuple[int, ...]:
        return self._shape

    def config(self) -> dict[str, Any]:
        return {"input_shape": list(self._shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "IdentityEncoder":
        return cls(tuple(config["input_shape"]))


_ENCODERS: dict[str, Callable[[dict[str, Any]], InputEncoder]] = {
    IdentityEncoder.kind: IdentityEncoder.from_config,
}


def register_encoder(kind: str, from_config: Callable[[dict[str, Any]], InputEncoder]) -> None:
    """Makes an encoder kind loadable by `load_encoder`."""
    _ENCODERS[kind] = from_config


def load_encoder(path: str | Path) -> InputEncoder:
    """Reads an encoder saved by `InputEncoder.save`."""
    raw = read_json(path)
    kind = raw.get("kind") if isinstance(raw, dict) else None
    if kind not in _ENCODERS:
        raise CompleakError(f"{path}: unknown encoder kind {kind!r}; retrain the model")
    return _ENCODERS[kind](raw["config"])
