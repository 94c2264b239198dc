"""The TFLite half of compression: converting a Keras model to .tflite bytes.

Full-integer models take int8 input when the model's input is float (images, tabular rows);
models on int32 token ids keep int32 input. Their output is int8 either way.
"""
from __future__ import annotations

import logging
import warnings
from typing import Iterator

import numpy as np

from compleak_tf.compress.schemes import Quantization
from compleak_tf.errors import CompleakError
from compleak_tf.tfcompat import native_stderr_quiet, tf

logger = logging.getLogger(__name__)


def _float_input(model) -> bool:
    return all(t.dtype.is_floating for t in model.inputs)


def to_tflite(model, quantization: Quantization, representative: np.ndarray | None = None,
              quantization_aware: bool = False) -> bytes:
    """Converts a tf_keras model to .tflite bytes.

    Args:
      model: the (stripped, or QAT-wrapped) Keras model.
      quantization: how the file stores weights and activations.
      representative: encoded member inputs for calibrating full-integer PTQ.
      quantization_aware: the model carries QAT fake-quant ops (their ranges are used).

    Returns:
      The flatbuffer bytes.
    """
    tflite = tf().lite
    converter = tflite.TFLiteConverter.from_keras_model(model)
    if quantization is Quantization.FLOAT16:
        converter.optimizations = [tflite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf().float16]
    elif quantization is Quantization.DYNAMIC:
        converter.optimizations = [tflite.Optimize.DEFAULT]
    elif quantization is Quantization.INT8:
        converter.optimizations = [tflite.Optimize.DEFAULT]
        if not quantization_aware:
            if representative is None or len(representative) == 0:
                raise ValueError("full-integer PTQ needs representative inputs")
            converter.representative_dataset = _representative(representative)
            converter.target_spec.supported_ops = [tflite.OpsSet.TFLITE_BUILTINS_INT8]
        if _float_input(model):
            converter.inference_input_type = tf().int8
        converter.inference_output_type = tf().int8
    try:
        with warnings.catch_warnings(), native_stderr_quiet():
            # QAT models carry their input range in the graph; the converter still asks for
            # input statistics, which int8 conversion does not need.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            return bytes(converter.convert())
    except Exception as err:  # the converter raises ConverterError, ValueError, RuntimeError
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CompleakError(
            f"TFLite conversion to {quantization.value} failed ({first}); try another scheme "
            "or a model built from TFLite-supported layers"
        ) from err


def _representative(inputs: np.ndarray):
    def generate() -> Iterator[list[np.ndarray]]:
        for i in range(len(inputs)):
            yield [inputs[i:i + 1]]

    return generate
