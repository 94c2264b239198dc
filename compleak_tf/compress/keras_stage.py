"""The Keras half of compression: tfmot pruning, weight clustering and QAT, each fine-tuned.

Every stage works on a fresh copy of its input model, because tfmot wrappers reuse the layer
objects they wrap. Wrappers go on the layers that carry the weights (convolutions, dense,
embedding and attention layers); a later stage uses tfmot's collaborative optimization so
that it keeps the zeros and shared values of the earlier ones.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from compleak_tf.compress.schemes import StepKind
from compleak_tf.errors import CompleakError
from compleak_tf.tfcompat import keras, set_seed, tfmot
from compleak_tf.training import compile_model, fit

logger = logging.getLogger(__name__)

# Per-stage fine-tuning defaults: at least DEFAULT_EPOCHS and at least DEFAULT_MIN_STEPS
# optimizer steps, whichever is more (small member sets have few steps per epoch, and pruning
# needs steps to recover after each mask update). Chosen on the mnist5k CNN (500 members) and
# the digits CNN (300 members) so that each stage stays within a few points of the original's
# accuracy and takes seconds on two CPU cores. Pruning ramps its sparsity over the first
# RAMP_FRACTION of the steps and keeps the mask fixed for the rest.
DEFAULT_EPOCHS = {StepKind.PRUNE: 10, StepKind.CLUSTER: 3, StepKind.QAT: 2}
DEFAULT_MIN_STEPS = {StepKind.PRUNE: 150, StepKind.CLUSTER: 50, StepKind.QAT: 40}
DEFAULT_LEARNING_RATE = {StepKind.PRUNE: 1e-3, StepKind.CLUSTER: 1e-4, StepKind.QAT: 1e-5}
RAMP_FRACTION = 0.6
PRUNING_UPDATES_PER_EPOCH = 2
# Members used to set QAT activation ranges before fine-tuning.
CALIBRATION_EXAMPLES = 1000


@dataclass(frozen=True)
class FineTune:
    """How one stage fine-tunes on the members."""

    epochs: int
    learning_rate: float
    batch_size: int

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise CompleakError(f"fine-tuning epochs must be at least 1, got {self.epochs}; "
                                "set --epochs to 1 or more")
        if not self.learning_rate > 0:
            raise CompleakError(f"fine-tuning learning rate must be > 0, got "
                                f"{self.learning_rate}; set --learning-rate, e.g. 1e-4")
        if self.batch_size < 1:
            raise CompleakError(f"batch size must be at least 1, got {self.batch_size}")

    def to_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "learning_rate": self.learning_rate,
                "batch_size": self.batch_size}


def fine_tune_settings(kind: StepKind, batch_size: int, num_examples: int,
                       epochs: int | None = None,
                       learning_rate: float | None = None) -> FineTune:
    """The stage's defaults for `num_examples` members, with the caller's overrides."""
    if epochs is None:
        steps_per_epoch = _steps_per_epoch(num_examples, max(1, int(batch_size)))
        epochs = max(DEFAULT_EPOCHS[kind],
                     math.ceil(DEFAULT_MIN_STEPS[kind] / steps_per_epoch))
    return FineTune(int(epochs),
                    float(learning_rate if learning_rate is not None
                          else DEFAULT_LEARNING_RATE[kind]),
                    int(batch_size))


@dataclass
class StageResult:
    """A stage's output model and what it did, for the sidecar."""

    model: Any
    record: dict[str, Any]
    wrapped_layers: list[str]
    seconds: float


def fresh_copy(model):
    """A copy with its own layer objects and the same weights."""
    try:
        copy = keras().models.clone_model(model)
    except ValueError as err:
        raise CompleakError(
            f"model {model.name} cannot be cloned ({str(err).splitlines()[0]}); tfmot needs a "
            "functional or Sequential tf_keras model"
        ) from err
    for layer in model.layers:
        _copy_weights(layer, copy.get_layer(layer.name))
    return copy


def _copy_weights(source, target) -> None:
    """Copies weights by variable name: a stripped tfmot layer (MultiHeadAttention after
    clustering) lists its variables in another order than a freshly built one."""
    by_name = {w.name: w for w in source.weights}
    if len(by_name) == len(source.weights) and all(w.name in by_name for w in target.weights):
        for weight in target.weights:
            weight.assign(by_name[weight.name])
        return
    target.set_weights(source.get_weights())


def weight_layer_types() -> tuple[type, ...]:
    """Layer classes whose weights pruning and clustering act on.

    DepthwiseConv2D is not among them: tfmot 0.8.1 wraps it for pruning and clustering but
    changes none of its weights (seen here: 0 % zeros after prune50, 27 distinct values after
    cluster4), so depthwise kernels (MobileNetV2) stay dense and unclustered.
    """
    layers = keras().layers
    return (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.SeparableConv1D,
            layers.SeparableConv2D, layers.Conv2DTranspose, layers.Dense, layers.EinsumDense,
            layers.Embedding, layers.MultiHeadAttention)


def _wrap_weight_layers(model, wrap: Callable, scheme: str, step: str):
    """Clones `model`, wrapping each weight layer; a layer that cannot be wrapped is an error."""
    targets = weight_layer_types()
    wrapped: list[str] = []

    def clone_function(layer):
        if isinstance(layer, keras().Model):
            raise CompleakError(
                f"layer {layer.name} is a nested model, which tfmot cannot wrap for {step} "
                f"(scheme {scheme}); build the model with its layers inline"
            )
        if not isinstance(layer, targets):
            return layer
        try:
            result = wrap(layer)
        except (ValueError, TypeError, RuntimeError) as err:
            raise CompleakError(
                f"layer {layer.name} ({type(layer).__name__}) cannot be wrapped for {step} "
                f"(scheme {scheme}): {str(err).splitlines()[0]}; choose a scheme without "
                f"{step} or a model whose layers tfmot supports"
            ) from err
        wrapped.append(layer.name)
        return result

    try:
        clone = keras().models.clone_model(fresh_copy(model), clone_function=clone_function)
    except CompleakError:
        raise
    except ValueError as err:
        raise CompleakError(
            f"model {model.name} cannot be wrapped for {step} ({str(err).splitlines()[0]}); "
            "tfmot needs a functional or Sequential tf_keras model"
        ) from err
    if not wrapped:
        raise CompleakError(f"model {model.name} has no convolution, dense, embedding or "
                            f"attention layer to {step}; use scheme 'original' or a PTQ scheme")
    return clone, wrapped


def _steps_per_epoch(num_examples: int, batch_size: int) -> int:
    return max(1, math.ceil(num_examples / batch_size))


def pruning_schedule(sparsity: float, steps_per_epoch: int,
                     epochs: int) -> tuple[Any, dict[str, Any]]:
    """PolynomialDecay from 0 to `sparsity`, reached after RAMP_FRACTION of the steps.

    The last mask update falls exactly on `end_step`, so the target is met; the steps after
    it fine-tune with the mask fixed.
    """
    total_steps = steps_per_epoch * epochs
    if total_steps < 2:
        raise CompleakError(f"pruning needs at least 2 fine-tuning steps, got {total_steps}; "
                            "raise --epochs or lower --batch-size")
    ramp = max(1, min(total_steps - 1, int(round(RAMP_FRACTION * total_steps))))
    frequency = max(1, min(ramp, steps_per_epoch // PRUNING_UPDATES_PER_EPOCH))
    end_step = frequency * (ramp // frequency)
    schedule = tfmot().sparsity.keras.PolynomialDecay(
        initial_sparsity=0.0, final_sparsity=float(sparsity), begin_step=0, end_step=end_step,
        frequency=frequency)
    return schedule, {"kind": "PolynomialDecay", "initial_sparsity": 0.0,
                      "final_sparsity": float(sparsity), "begin_step": 0,
                      "end_step": end_step, "frequency": frequency,
                      "total_steps": total_steps}


def _fine_tune(model, x: np.ndarray, y: np.ndarray, tune: FineTune, seed: int,
               callbacks: list | None = None) -> float:
    compile_model(model, tune.learning_rate)
    history = fit(model, x, y, epochs=tune.epochs, batch_size=tune.batch_size, seed=seed,
                  callbacks=callbacks)
    return float(history.history["loss"][-1])


def prune(model, sparsity: float, x: np.ndarray, y: np.ndarray, tune: FineTune, seed: int,
          scheme: str) -> StageResult:
    """prune_low_magnitude on every weight layer, fine-tuned on (x, y), then strip_pruning."""
    sparsity_api = tfmot().sparsity.keras
    schedule, schedule_record = pruning_schedule(
        sparsity, _steps_per_epoch(len(x), tune.batch_size), tune.epochs)

    started = time.perf_counter()
    set_seed(seed)
    wrapped_model, wrapped = _wrap_weight_layers(
        model, lambda layer: sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule),
        scheme, "pruning")
    loss = _fine_tune(wrapped_model, x, y, tune, seed,
                      callbacks=[sparsity_api.UpdatePruningStep()])
    stripped = sparsity_api.strip_pruning(wrapped_model)
    seconds = time.perf_counter() - started
    logger.info("pruned %d layers to %.0f %% in %.1f s", len(wrapped), 100 * sparsity, seconds)
    record = {**tune.to_dict(), "schedule": schedule_record, "final_loss": loss}
    return StageResult(stripped, record, wrapped, seconds)


def cluster(model, clusters: int, x: np.ndarray, y: np.ndarray, tune: FineTune, seed: int,
            scheme: str, preserve_sparsity: bool) -> StageResult:
    """cluster_weights (k-means++ init) on every weight layer, fine-tuned, strip_clustering.

    After pruning, sparsity-preserving clustering keeps the pruned zeros at zero.
    """
    from tensorflow_model_optimization.python.core.clustering.keras.experimental import (
        cluster as experimental_cluster,
    )

    clustering_api = tfmot().clustering.keras
    init = clustering_api.CentroidInitialization.KMEANS_PLUS_PLUS

    def wrap(layer):
        return experimental_cluster.cluster_weights(
            layer, number_of_clusters=clusters, cluster_centroids_init=init,
            preserve_sparsity=preserve_sparsity)

    started = time.perf_counter()
    set_seed(seed)
    wrapped_model, wrapped = _wrap_weight_layers(model, wrap, scheme, "clustering")
    loss = _fine_tune(wrapped_model, x, y, tune, seed)
    stripped = clustering_api.strip_clustering(wrapped_model)
    seconds = time.perf_counter() - started
    logger.info("clustered %d layers to %d values in %.1f s", len(wrapped), clusters, seconds)
    record = {**tune.to_dict(), "centroid_init": "kmeans++",
              "preserve_sparsity": preserve_sparsity, "final_loss": loss}
    return StageResult(stripped, record, wrapped, seconds)


def _quantize_scheme(pruned: bool, clustered: bool):
    """tfmot's QAT scheme that keeps what earlier steps did, and its name."""
    mot = tfmot()
    if clustered:
        # preserve_sparsity=True is tfmot's PCQAT: it keeps the pruned zeros as well.
        return (mot.experimental.combine.Default8BitClusterPreserveQuantizeScheme(
            preserve_sparsity=pruned),
            "cluster+sparsity preserving (PCQAT)" if pruned else "cluster preserving (CQAT)")
    if pruned:
        return (mot.experimental.combine.Default8BitPrunePreserveQuantizeScheme(),
                "sparsity preserving (PQAT)")
    return mot.quantization.keras.default_8bit.Default8BitQuantizeScheme(), "default 8-bit"


def _takes_integer_input(layer) -> bool:
    try:
        inputs = layer.input if isinstance(layer.input, list) else [layer.input]
    except (AttributeError, ValueError):
        return False
    return any(getattr(t, "dtype", None) is not None and t.dtype.is_integer for t in inputs)


def quantize_aware(model, x: np.ndarray, y: np.ndarray, tune: FineTune, seed: int,
                   pruned: bool, clustered: bool) -> StageResult:
    """QAT on every layer that tfmot's default 8-bit registry supports, then fine-tuning.

    Layers it does not support (MultiHeadAttention, Embedding, LayerNormalization, layers on
    integer token inputs) are left unannotated and stay float in training; the sidecar lists
    them, and the read-back shows how the converter stored their weights. After pruning or
    clustering those layers are frozen during QAT, which keeps their zeros and shared values.
    """
    quant_api = tfmot().quantization.keras
    quantize_scheme, scheme_name = _quantize_scheme(pruned, clustered)
    registry = quant_api.default_8bit.Default8BitQuantizeScheme().get_quantize_registry()
    input_layer = keras().layers.InputLayer
    annotated: list[str] = []
    left_float: list[str] = []

    def annotate(layer):
        if isinstance(layer, input_layer):
            return layer
        if registry.supports(layer) and not _takes_integer_input(layer):
            annotated.append(layer.name)
            return quant_api.quantize_annotate_layer(layer)
        if layer.weights:
            left_float.append(layer.name)
        return layer

    started = time.perf_counter()
    set_seed(seed)
    annotated_model = keras().models.clone_model(fresh_copy(model), clone_function=annotate)
    if not annotated:
        raise CompleakError(f"model {model.name} has no layer that tfmot can quantize; use "
                            "ptq-int8 or ptq-dynamic instead of qat-int8")
    try:
        with quant_api.quantize_scope():
            quantized = quant_api.quantize_apply(annotated_model, quantize_scheme)
    except (ValueError, RuntimeError, TypeError) as err:
        raise CompleakError(
            f"tfmot cannot apply QAT to model {model.name} ({str(err).splitlines()[0]}); use "
            "ptq-int8 instead"
        ) from err
    frozen = []
    if pruned or clustered:
        # tfmot's preserving QAT schemes act on annotated layers only; fine-tuning a float
        # layer would refill its pruned zeros and split its shared values, so it is frozen.
        for name in left_float:
            quantized.get_layer(name).trainable = False
            frozen.append(name)
    calibrated = calibrate_activation_ranges(quantized, model, x[:CALIBRATION_EXAMPLES])
    loss = _fine_tune(quantized, x, y, tune, seed)
    seconds = time.perf_counter() - started
    logger.info("QAT (%s) on %d layers, %d left float, %.1f s", scheme_name, len(annotated),
                len(left_float), seconds)
    record = {**tune.to_dict(), "quantize_scheme": scheme_name, "annotated_layers": annotated,
              "float_in_training": left_float,
              "frozen_in_training": frozen,
              "calibrated_activation_ranges": calibrated, "final_loss": loss}
    return StageResult(quantized, record, annotated, seconds)


_RANGE_SUFFIXES = {"post_activation_min": ("output", min), "post_activation_max": ("output", max),
                   "output_min": ("output", min), "output_max": ("output", max),
                   "pre_activation_min": ("pre_activation", min),
                   "pre_activation_max": ("pre_activation", max)}


def _linear_copy(layer):
    """The layer with its activation removed, sharing nothing, for pre-activation ranges."""
    config = layer.get_config()
    config["activation"] = "linear"
    config["name"] = f"{layer.name}_pre_activation_probe"
    copy = type(layer).from_config(config)
    copy.build(layer.input_shape)
    copy.set_weights(layer.get_weights())
    return copy


def calibrate_activation_ranges(quantized, float_model, x: np.ndarray,
                                batch_size: int = 64) -> list[str]:
    """Sets QAT activation ranges from the float model's activations on members `x`.

    tfmot's moving-average activation ranges start at [-6, 6] and move 0.1 % towards each
    batch's range per step; a QAT fine-tune of a few dozen steps would export ranges close to
    that start, clipping large activations and coarsening small ones. Starting them from the
    observed ranges fixes that; fine-tuning then keeps updating them as usual.

    Returns:
      The names of the range variables that were set.
    """
    wanted: list[tuple[Any, str, str, Callable]] = []  # (variable, layer, kind, reducer)
    for wrapper in quantized.layers:
        inner = getattr(wrapper, "layer", None)
        if inner is None:
            continue
        for variable in wrapper.non_trainable_weights:
            base = variable.name.split("/")[-1].split(":")[0]
            if base in _RANGE_SUFFIXES and not variable.shape.as_list():
                kind, reducer = _RANGE_SUFFIXES[base]
                wanted.append((variable, inner.name, kind, reducer))
    if not wanted:
        return []

    # A fresh copy owns one graph, so each layer's `output` is a tensor of that graph (the
    # layers of a stripped tfmot model may belong to several).
    float_model = fresh_copy(float_model)
    layers = {name for _, name, _, _ in wanted}
    outputs, keys = [], []
    for name in sorted(layers):
        try:
            layer = float_model.get_layer(name)
        except ValueError:
            continue
        try:
            outputs.append(layer.output)
            keys.append((name, "output"))
            if any(n == name and k == "pre_activation" for _, n, k, _ in wanted):
                outputs.append(_linear_copy(layer)(layer.input))
                keys.append((name, "pre_activation"))
        except (AttributeError, ValueError, TypeError):
            logger.debug("no single output for layer %s; its range is left to fine-tuning", name)
    if not outputs:
        return []
    probe = keras().Model(float_model.inputs, outputs)
    low: dict[tuple[str, str], float] = {}
    high: dict[tuple[str, str], float] = {}
    for start in range(0, len(x), batch_size):
        values = probe(x[start:start + batch_size], training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        for key, value in zip(keys, values):
            value = np.asarray(value)
            low[key] = min(low.get(key, 0.0), float(value.min()))
            high[key] = max(high.get(key, 0.0), float(value.max()))

    calibrated = []
    for variable, name, kind, reducer in wanted:
        if (name, kind) not in low:
            continue
        variable.assign(low[(name, kind)] if reducer is min else high[(name, kind)])
        calibrated.append(variable.name.split(":")[0])
    return calibrated
