"""Architectures by name, each with its input encoder and default training recipe."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError
from compleak_tf.models.encoders import IdentityEncoder, InputEncoder, load_encoder

__all__ = ["Architecture", "architecture", "architecture_names", "build_model",
           "register_architecture", "InputEncoder", "load_encoder", "load_model", "save_model"]


@dataclass(frozen=True)
class Architecture:
    """A model family: how to encode inputs, how to build the network, how to train it."""

    name: str
    modalities: frozenset[Modality]
    build: Callable[..., Any]  # (encoder, num_classes, **options) -> tf_keras.Model
    make_encoder: Callable[[Dataset], InputEncoder]
    description: str
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    options: dict[str, Any] = field(default_factory=dict)


_ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(arch: Architecture) -> None:
    """Adds an architecture to the registry (last registration of a name wins)."""
    _ARCHITECTURES[arch.name] = arch


def architecture_names() -> list[str]:
    return list(_ARCHITECTURES)


def architecture(name: str) -> Architecture:
    """Looks up an architecture; unknown names list the known ones."""
    try:
        return _ARCHITECTURES[name]
    except KeyError:
        raise CompleakError(
            f"unknown architecture {name!r}; known: {', '.join(_ARCHITECTURES)}"
        ) from None


def check_fits(arch: Architecture, dataset: Dataset) -> None:
    """Raises CompleakError when an architecture cannot take the dataset's inputs."""
    if dataset.modality not in arch.modalities:
        fitting = [a.name for a in _ARCHITECTURES.values() if dataset.modality in a.modalities]
        raise CompleakError(
            f"architecture {arch.name} does not take {dataset.modality.value} data "
            f"({dataset.name}); use one of: {', '.join(fitting)}"
        )


def build_model(arch_name: str, encoder: InputEncoder, num_classes: int, **options: Any):
    """Builds an untrained tf_keras model for inputs of `encoder`."""
    arch = architecture(arch_name)
    merged = {**arch.options, **options}
    return arch.build(encoder, num_classes, **merged)


def save_model(model, path: str | Path) -> Path:
    """Saves a tf_keras model in the .keras format, atomically."""
    from compleak_tf.fileio import atomic_path

    with atomic_path(path) as tmp:
        model.save(tmp)
    return Path(path)


def load_model(path: str | Path):
    """Loads a tf_keras model; a missing or unreadable file is a CompleakError."""
    from compleak_tf.models.text import custom_objects
    from compleak_tf.tfcompat import keras

    path = Path(path)
    if not path.is_file():
        raise CompleakError(f"{path} does not exist; train the model first (compleak-tf train)")
    try:
        return keras().models.load_model(path, compile=False, custom_objects=custom_objects())
    except Exception as err:  # Keras raises ValueError, OSError, zipfile errors, ...
        raise CompleakError(
            f"{path} is not a Keras model that tf_keras can load ({type(err).__name__}); "
            "save it with tf_keras model.save('model.keras')"
        ) from err


def _vision(builder_name: str):
    def build(encoder: InputEncoder, num_classes: int, **options: Any):
        from compleak_tf.models import vision

        return getattr(vision, builder_name)(encoder.model_input_shape, num_classes, **options)

    return build


def _identity(dataset: Dataset) -> InputEncoder:
    return IdentityEncoder(dataset.input_shape)


_IMAGE = frozenset({Modality.IMAGE})
for _arch in (
    Architecture("cnn", _IMAGE, _vision("build_cnn"), _identity,
                 "two conv blocks + dense; the quick-scale default", epochs=60),
    Architecture("resnet18", _IMAGE, _vision("build_resnet18"), _identity,
                 "ResNet-18 with a CIFAR stem", epochs=30, batch_size=128),
    Architecture("vgg16", _IMAGE, _vision("build_vgg16"), _identity,
                 "VGG-16 with batch norm", epochs=30, batch_size=128),
    Architecture("mobilenetv2", _IMAGE, _vision("build_mobilenetv2"), _identity,
                 "tf_keras.applications MobileNetV2, random init", epochs=30, batch_size=128),
    Architecture("mlp", frozenset({Modality.TABULAR, Modality.IMAGE}), _vision("build_mlp"),
                 _identity, "multilayer perceptron for tabular data", epochs=60),
):
    register_architecture(_arch)

from compleak_tf.models import text as _text  # noqa: E402,F401  (registers bert and gpt2)
