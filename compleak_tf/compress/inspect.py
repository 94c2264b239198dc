"""Reading a .tflite back: its weight tensors, and checking the compression claims on them.

The figures come from the file itself through the LiteRT interpreter, never from the Keras
model that was converted: zeros and distinct values are counted on the stored (possibly int8
or float16) values, per output channel where the tensor is quantized per channel.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

# A pruned kernel passes when its zeros reach the target minus this slack (prune80 needs
# 79 %), or when it is at most one weight short of the exact target on a tiny kernel.
SPARSITY_SLACK = 0.01


@dataclass
class WeightTensor:
    """One constant tensor of a .tflite file with its stored values."""

    index: int
    name: str
    values: np.ndarray
    scales: np.ndarray
    zero_points: np.ndarray
    quantized_dimension: int
    layer: str | None = None

    @property
    def dtype(self) -> str:
        return self.values.dtype.name

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.values.shape)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    @property
    def quantization(self) -> str:
        if len(self.scales) == 0:
            return "none"
        return "per-channel" if self.per_channel else "per-tensor"

    def _zero_mask(self) -> np.ndarray:
        if len(self.zero_points) == 0:
            return self.values == 0
        if not self.per_channel:
            return self.values == self.zero_points[0]
        shape = [1] * self.values.ndim
        shape[self.quantized_dimension] = -1
        return self.values == self.zero_points.reshape(shape)

    @property
    def sparsity(self) -> float:
        """Fraction of stored values that mean zero (the zero point for quantized tensors)."""
        return float(np.mean(self._zero_mask())) if self.size else 0.0

    @property
    def distinct_values(self) -> int:
        return int(np.unique(self.values).size)

    def channel_axis(self) -> int:
        """The output-channel axis: the quantized one, else 0 (OHWI / [out, in]) or the last
        axis of a depthwise [1, H, W, C] kernel."""
        if self.per_channel:
            return self.quantized_dimension
        if self.values.ndim == 4 and self.values.shape[0] == 1:
            return 3
        return 0

    def distinct_values_per_channel(self) -> int:
        """Most distinct values in any one output channel."""
        if self.values.ndim == 0:
            return self.distinct_values
        moved = np.moveaxis(self.values, self.channel_axis(), 0)
        return max(int(np.unique(channel).size) for channel in moved)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "layer": self.layer, "dtype": self.dtype,
                               "shape": list(self.shape), "quantization": self.quantization}
        if self.values.ndim >= 2:
            out["sparsity"] = round(self.sparsity, 6)
            out["distinct_values"] = self.distinct_values
            out["distinct_values_per_channel_max"] = self.distinct_values_per_channel()
        return out


def read_weight_tensors(path: str | Path) -> list[WeightTensor]:
    """Every constant tensor of the .tflite file (op inputs that no op and no caller writes)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    try:
        # Without delegates, the op list is the file's own (XNNPACK would fold ops away).
        interpreter = Interpreter(
            model_path=str(path),
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise CompleakError(f"{path} is not a readable .tflite file ({err}); re-export it") \
            from err
    ops = interpreter._get_ops_details()  # LiteRT has no public op listing
    produced = {int(i) for op in ops for i in op["outputs"]}
    consumed = {int(i) for op in ops for i in op["inputs"] if int(i) >= 0}
    graph_inputs = {int(d["index"]) for d in interpreter.get_input_details()}
    constants = consumed - produced - graph_inputs

    tensors = []
    for detail in interpreter.get_tensor_details():
        index = int(detail["index"])
        if index not in constants:
            continue
        params = detail.get("quantization_parameters") or {}
        tensors.append(WeightTensor(
            index=index, name=str(detail["name"]),
            values=np.array(interpreter.get_tensor(index)),
            scales=np.asarray(params.get("scales", np.zeros(0)), dtype=np.float64),
            zero_points=np.asarray(params.get("zero_points", np.zeros(0)), dtype=np.int64),
            quantized_dimension=int(params.get("quantized_dimension", 0))))
    return tensors


def name_segments(name: str) -> set[str]:
    """The scope names in a tensor name, with tfmot's 'quant_' layer prefix removed."""
    parts = set()
    for piece in name.replace(";", "/").split("/"):
        parts.add(piece)
        if piece.startswith("quant_"):
            parts.add(piece[len("quant_"):])
    return parts


@dataclass(frozen=True)
class LayerTarget:
    """A Keras layer whose weights a step compressed, and how to find them in the file.

    Attributes:
      layer: the Keras layer name.
      sizes: element counts of the layer's compressed weights (kernels, not biases).
      channelwise: the converter scales the kernel per output channel (a folded batch norm),
        so shared values are counted per channel.
    """

    layer: str
    sizes: tuple[int, ...]
    channelwise: bool = False


def assign_layers(tensors: list[WeightTensor], layer_names: list[str]) -> None:
    """Sets each tensor's `layer` to the Keras layer named in its scopes (first match)."""
    names = set(layer_names)
    for tensor in tensors:
        segments = name_segments(tensor.name)
        match = [n for n in layer_names if n in segments and n in names]
        tensor.layer = match[0] if match else None


def _tensors_of(target: LayerTarget, tensors: list[WeightTensor]) -> list[WeightTensor]:
    return [t for t in tensors if t.layer == target.layer and t.size in target.sizes
            and t.values.ndim >= 2]


def _sparsity_ok(tensor: WeightTensor, target: float) -> bool:
    zeros = int(round(tensor.sparsity * tensor.size))
    needed = min(math.ceil((target - SPARSITY_SLACK) * tensor.size),
                 math.floor(target * tensor.size) - 1)
    return zeros >= needed


def verify_claims(tensors: list[WeightTensor], targets: list[LayerTarget], *,
                  sparsity: float | None, clusters: int | None,
                  scheme: str) -> list[dict[str, Any]]:
    """Checks each compressed layer's stored kernels; raises CompleakError on the first miss.

    Returns one record per checked tensor (layer, tensor, measured sparsity / distinct values).
    """
    checks: list[dict[str, Any]] = []
    if sparsity is None and clusters is None:
        return checks
    for target in targets:
        found = _tensors_of(target, tensors)
        if not found:
            raise CompleakError(
                f"scheme {scheme}: the compressed weights of layer {target.layer} were not "
                "found in the .tflite, so the claim cannot be verified; the artifact was not "
                "written, rename layers so their names survive conversion"
            )
        for tensor in found:
            check: dict[str, Any] = {"layer": target.layer, "tensor": tensor.name,
                                     "dtype": tensor.dtype}
            if sparsity is not None:
                check["sparsity"] = round(tensor.sparsity, 6)
                check["sparsity_required"] = round(sparsity - SPARSITY_SLACK, 6)
                if not _sparsity_ok(tensor, sparsity):
                    raise CompleakError(
                        f"scheme {scheme}: layer {target.layer} has {tensor.sparsity:.1%} zeros "
                        f"in the .tflite, below the claimed {sparsity:.0%}; the artifact was "
                        "not written, fine-tune for more epochs"
                    )
            if clusters is not None:
                per_channel = tensor.per_channel or target.channelwise
                count = (tensor.distinct_values_per_channel() if per_channel
                         else tensor.distinct_values)
                check["distinct_values"] = count
                check["counted"] = "per output channel" if per_channel else "whole tensor"
                if count > clusters:
                    raise CompleakError(
                        f"scheme {scheme}: layer {target.layer} has {count} distinct values "
                        f"({check['counted']}) in the .tflite, more than the claimed "
                        f"{clusters}; the artifact was not written, check the scheme order"
                    )
            checks.append(check)
    return checks


@dataclass
class Readback:
    """What the file stores: all constant tensors and which layers kept float weights."""

    tensors: list[WeightTensor]
    float_layers: list[str] = field(default_factory=list)
    quantized_layers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"tensors": [t.to_dict() for t in self.tensors],
                "float_layers": self.float_layers, "quantized_layers": self.quantized_layers}


def read_back(path: str | Path, layer_names: list[str]) -> Readback:
    """Reads the file's weights and sorts the Keras layers into float and quantized ones."""
    tensors = read_weight_tensors(path)
    assign_layers(tensors, layer_names)
    float_layers, quantized_layers = [], []
    for name in layer_names:
        kernels = [t for t in tensors if t.layer == name and t.values.ndim >= 2]
        if not kernels:
            continue
        if all(np.issubdtype(t.values.dtype, np.integer) for t in kernels):
            quantized_layers.append(name)
        else:
            float_layers.append(name)
    return Readback(tensors, float_layers, quantized_layers)
