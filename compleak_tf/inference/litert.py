"""A batched runner over the LiteRT interpreter that returns softmax probabilities.

It takes encoded model inputs (float images, int32 token ids), quantizes them when the model
has int8 / uint8 input, dequantizes int8 output from the tensor's scale and zero point, and
applies a softmax only when the model emits logits rather than probabilities.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from compleak_tf.errors import CompleakError
from compleak_tf.tfcompat import native_stderr_quiet

logger = logging.getLogger(__name__)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class TFLiteModel:
    """One .tflite file, loaded once, evaluated in fixed-size batches.

    Args:
      path: the .tflite file.
      num_threads: interpreter threads (None lets LiteRT decide).
    """

    def __init__(self, path: str | Path, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise CompleakError(f"{self.path} does not exist; export it with compleak-tf compress")
        try:
            with native_stderr_quiet():
                self._interpreter = Interpreter(model_path=str(self.path),
                                                num_threads=num_threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise CompleakError(
                f"{self.path} is not a valid .tflite model ({str(err).splitlines()[0]}); "
                "re-export it"
            ) from err
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise CompleakError(
                f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; compleak-tf "
                "attacks single-input single-output classifiers"
            )
        self._input = inputs[0]
        self._output = outputs[0]
        self._batch = None

    @property
    def input_dtype(self) -> np.dtype:
        return np.dtype(self._input["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        return np.dtype(self._output["dtype"])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example as the model takes it."""
        return tuple(int(d) for d in self._input["shape"][1:])

    @property
    def num_classes(self) -> int:
        return int(self._output["shape"][-1])

    def _resize(self, batch: int) -> None:
        if self._batch == batch:
            return
        shape = [batch, *self.input_shape]
        self._interpreter.resize_tensor_input(self._input["index"], shape, strict=False)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = batch

    def _quantizes(self, x: np.ndarray) -> bool:
        return self.input_dtype in (np.int8, np.uint8) and np.issubdtype(x.dtype, np.floating)

    def _quantize_into(self, x: np.ndarray, dest: np.ndarray) -> None:
        """Writes `x` converted to the model's input type into `dest` (same leading length)."""
        if not self._quantizes(x):
            dest[...] = x
            return
        scale, zero_point = self._input["quantization"]
        info = np.iinfo(self.input_dtype)
        # The same float operations as x / scale + zero_point, rounded and clipped, without
        # allocating a temporary for each step.
        q = np.divide(x, scale)
        q += zero_point
        np.rint(q, out=q)
        np.clip(q, info.min, info.max, out=q)
        dest[...] = q

    def _quantize_input(self, x: np.ndarray) -> np.ndarray:
        """`x` in the model's input type: int8 / uint8 models get quantized float inputs."""
        if not self._quantizes(x):
            return x.astype(self.input_dtype, copy=False)
        dest = np.empty(x.shape, dtype=self.input_dtype)
        self._quantize_into(x, dest)
        return dest

    def _dequantize_output(self, out: np.ndarray) -> np.ndarray:
        if self.output_dtype in (np.int8, np.uint8, np.int16):
            scale, zero_point = self._output["quantization"]
            return (out.astype(np.float64) - zero_point) * scale
        return out.astype(np.float64)

    def invoke_raw(self, batch: np.ndarray) -> np.ndarray:
        """One interpreter call on an already quantized batch; returns the raw output copy."""
        self._resize(len(batch))
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output["index"]).copy()

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities (float64, rows summing to 1) for encoded inputs `x`."""
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.input_shape:
            raise CompleakError(
                f"{self.path.name} takes inputs of shape {self.input_shape} per example, got "
                f"{tuple(x.shape[1:])}; use the encoder saved with the model"
            )
        n = len(x)
        if n == 0:
            return np.zeros((0, self.num_classes))
        batch_size = max(1, min(int(batch_size), n))
        self._resize(batch_size)
        converts = self._quantizes(x) or x.dtype != self.input_dtype
        # Batches are converted one at a time into one reused buffer, which stays in cache
        # and avoids a full-size copy of the inputs in the model's input type.
        buffer = np.empty((batch_size, *self.input_shape), dtype=self.input_dtype)
        out = np.empty((n, self.num_classes), dtype=np.float64)
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            chunk = x[start:stop]
            if converts or stop - start < batch_size or not chunk.flags.c_contiguous:
                self._quantize_into(chunk, buffer[:stop - start])
                # Pad the last batch with its last example instead of resizing the interpreter.
                buffer[stop - start:] = buffer[stop - start - 1]
                chunk = buffer
            self._interpreter.set_tensor(self._input["index"], chunk)
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._output["index"])
            out[start:stop] = self._dequantize_output(raw[:stop - start])
        if not np.all(np.isfinite(out)):
            raise CompleakError(f"{self.path.name} produced NaN or infinite outputs; the model "
                                "or its inputs are broken")
        if out.min() < -1e-6 or np.abs(out.sum(axis=1) - 1).max() > 0.05:
            out = _softmax(out)
        return out
