"""Imports TensorFlow, tf_keras and tfmot quietly, after compleak_tf has chosen legacy Keras."""
from __future__ import annotations

import contextlib
import logging
import os
import warnings
from functools import lru_cache
from typing import Iterator

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


@lru_cache(maxsize=None)
def keras_nlp():
    """Returns keras-nlp (Keras 3), imported after TensorFlow so tf_keras stays the legacy one.

    Only its tokenizers are used, outside any tf_keras model.
    """
    tf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras_nlp as module

    return module


# Set by the command line: native (C++) log lines of the converter and interpreter are dropped.
QUIET_NATIVE = False


@contextlib.contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """Drops what native code writes to stderr inside the block, when QUIET_NATIVE is set.

    The TFLite converter and the LiteRT interpreter print informational lines from C++
    ("Created TensorFlow Lite XNNPACK delegate", quantizer settings) that logging levels do
    not reach. Failures still surface as Python exceptions with their messages.
    """
    if not QUIET_NATIVE:
        yield
        return
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_quietly() -> None:
    """Imports TensorFlow with the native stderr silenced, for command-line use.

    TensorFlow's C++ start-up messages (oneDNN, CUDA probing) bypass TF_CPP_MIN_LOG_LEVEL;
    they are dropped by pointing file descriptor 2 at /dev/null while TensorFlow loads and
    probes its devices. Errors after start-up are printed as usual.
    """
    global QUIET_NATIVE

    QUIET_NATIVE = True
    with native_stderr_quiet():
        tf().config.list_physical_devices()
        keras()


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow so that training is repeatable on CPU."""
    keras().utils.set_random_seed(int(seed))
