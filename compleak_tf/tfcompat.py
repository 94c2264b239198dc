"""Imports TensorFlow, tf_keras and tfmot quietly, after compleak_tf has chosen legacy Keras."""
from __future__ import annotations

import logging
import os
import warnings
from functools import lru_cache

import compleak_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)


@lru_cache(maxsize=None)
def tf():
    """Returns the tensorflow module with its Python and C++ logging turned down."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow

    tensorflow.get_logger().setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass
    return tensorflow


@lru_cache(maxsize=None)
def keras():
    """Returns tf_keras, the Keras 2 implementation that tfmot can wrap."""
    tf()
    import tf_keras

    return tf_keras


@lru_cache(maxsize=None)
def tfmot():
    """Returns tensorflow_model_optimization."""
    keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow_model_optimization

    return tensorflow_model_optimization


def import_quietly() -> None:
    """Imports TensorFlow with the native stderr silenced, for command-line use.

    TensorFlow's C++ start-up messages (oneDNN, CUDA probing) bypass TF_CPP_MIN_LOG_LEVEL;
    they are dropped by pointing file descriptor 2 at /dev/null while TensorFlow loads and
    probes its devices. Errors after start-up are printed as usual.
    """
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        tf().config.list_physical_devices()
        keras()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow so that training is repeatable on CPU."""
    keras().utils.set_random_seed(int(seed))
