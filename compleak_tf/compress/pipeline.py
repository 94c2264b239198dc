"""Compressing one model with one scheme: Keras stages, conversion, read-back, verification.

`compress_role` does it for a victim or shadow of a run (fine-tuning on that role's members
only, accuracy on its members and non-members); `compress_model_file` does it for a user's own
tf_keras model file and dataset. Both write the .tflite only after the claims of the scheme
have been verified on the file's bytes, and a JSON sidecar beside it.
"""
from __future__ import annotations

import gzip
import logging
import re
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from compleak_tf.compress import keras_stage
from compleak_tf.compress.export import to_tflite
from compleak_tf.compress.inspect import LayerTarget, read_back, verify_claims
from compleak_tf.compress.schemes import Quantization, Scheme, StepKind, parse_scheme
from compleak_tf.data import Dataset, Modality, load_dataset
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import atomic_path, package_versions, sha256_file, write_json
from compleak_tf.inference.litert import TFLiteModel
from compleak_tf.runs import DEFAULT_ROOT, Run
from compleak_tf.tfcompat import set_seed
from compleak_tf.training import load_trained, role_seed

logger = logging.getLogger(__name__)

REPRESENTATIVE_EXAMPLES = 200
DEFAULT_BATCH_SIZE = 64

Data = tuple[np.ndarray, np.ndarray]


def _layers_feeding_batch_norm(model) -> set[str]:
    """Layers whose output goes straight into a BatchNormalization (the converter folds it)."""
    config = model.get_config()
    layers = config.get("layers", [])
    feeding: set[str] = set()
    for position, layer in enumerate(layers):
        if layer.get("class_name") != "BatchNormalization":
            continue
        nodes = layer.get("inbound_nodes")
        if nodes is None and position > 0:  # Sequential: the previous layer feeds it
            feeding.add(layers[position - 1]["config"]["name"])
        for node in nodes or []:
            for inbound in (node if isinstance(node, list) else node.get("args", [])):
                if isinstance(inbound, list) and inbound and isinstance(inbound[0], str):
                    feeding.add(inbound[0])
    return feeding


def _targets(model, layer_names: list[str]) -> list[LayerTarget]:
    folded = _layers_feeding_batch_norm(model)
    targets = []
    for name in layer_names:
        layer = model.get_layer(name)
        sizes = tuple(sorted({int(np.prod(w.shape)) for w in layer.weights
                              if "kernel" in w.name or "embeddings" in w.name}))
        targets.append(LayerTarget(name, sizes, channelwise=name in folded))
    return targets


def _merge(targets: dict[StepKind, list[LayerTarget]]) -> list[LayerTarget]:
    """One target per layer across the pruning and clustering steps."""
    merged: dict[str, LayerTarget] = {}
    for step_targets in targets.values():
        for target in step_targets:
            merged.setdefault(target.layer, target)
    return list(merged.values())


def _evaluate(path: Path, members: Data,
              non_members: Data | None) -> tuple[float, float | None, dict[str, str]]:
    """Member and non-member accuracy through LiteRT, and the file's input / output types."""
    runner = TFLiteModel(path)

    def accuracy(data: Data) -> float:
        probs = runner.predict(data[0])
        return float(np.mean(np.argmax(probs, axis=1) == data[1]))

    io_types = {"input": runner.input_dtype.name, "output": runner.output_dtype.name}
    return (accuracy(members), None if non_members is None else accuracy(non_members),
            io_types)


def _representative(x: np.ndarray, seed: int) -> np.ndarray:
    order = np.random.RandomState(seed).permutation(len(x))[:REPRESENTATIVE_EXAMPLES]
    return x[np.sort(order)]


def _fine_tuning(scheme: Scheme, batch_size: int, num_examples: int, epochs: int | None,
                 learning_rate: float | None) -> dict[StepKind, keras_stage.FineTune]:
    return {step.kind: keras_stage.fine_tune_settings(step.kind, batch_size, num_examples,
                                                      epochs, learning_rate)
            for step in scheme.steps if step.fine_tuned}


def compress_model(model, scheme: Scheme | str, members: Data, non_members: Data | None, *,
                   artifact: str | Path, sidecar: str | Path, seed: int = 0,
                   epochs: int | None = None, learning_rate: float | None = None,
                   batch_size: int = DEFAULT_BATCH_SIZE,
                   context: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compresses a tf_keras model with `scheme`; writes the verified .tflite and its sidecar.

    Args:
      model: the trained tf_keras model (left unchanged).
      scheme: a Scheme or its string (see `schemes.GRAMMAR`).
      members: encoded inputs and labels the model was trained on; fine-tuning, PTQ
        calibration and the member accuracy use them, and nothing else.
      non_members: encoded held-out inputs and labels, for accuracy only (None: not measured).
      artifact, sidecar: where the .tflite and its JSON record go.
      seed: fixes fine-tuning and calibration, so the same inputs give the same file.
      epochs, learning_rate: override every fine-tuned step's defaults.
      batch_size: fine-tuning batch size.
      context: extra fields for the sidecar (role, run, source model).

    Returns:
      The sidecar record.
    """
    scheme = parse_scheme(scheme) if isinstance(scheme, str) else scheme
    x_members, y_members = members
    if len(x_members) == 0:
        raise CompleakError("no member examples to fine-tune and calibrate on; check the split")
    tuning = _fine_tuning(scheme, batch_size, len(x_members), epochs, learning_rate)
    layer_names = [layer.name for layer in model.layers]

    set_seed(seed)
    current = keras_stage.fresh_copy(model)
    hyper: dict[str, Any] = {}
    targets: dict[StepKind, list[LayerTarget]] = {}
    fine_tune_seconds = 0.0
    for step in scheme.steps:
        if step.kind is StepKind.PRUNE:
            result = keras_stage.prune(current, step.sparsity, x_members, y_members,
                                       tuning[step.kind], seed, scheme.name)
        elif step.kind is StepKind.CLUSTER:
            result = keras_stage.cluster(current, step.clusters, x_members, y_members,
                                         tuning[step.kind], seed, scheme.name,
                                         preserve_sparsity=scheme.sparsity is not None)
        elif step.kind is StepKind.QAT:
            result = keras_stage.quantize_aware(current, x_members, y_members,
                                                tuning[step.kind], seed,
                                                pruned=scheme.sparsity is not None,
                                                clustered=scheme.clusters is not None)
        else:
            continue
        if step.kind in (StepKind.PRUNE, StepKind.CLUSTER):
            targets[step.kind] = _targets(model, result.wrapped_layers)
        hyper[step.name] = result.record
        fine_tune_seconds += result.seconds
        current = result.model

    started = time.perf_counter()
    representative = None
    if scheme.step(StepKind.PTQ) and scheme.export is Quantization.INT8:
        representative = _representative(x_members, seed)
        hyper[scheme.steps[-1].name] = {"representative_examples": int(len(representative)),
                                        "representative_from": "members"}
    data = to_tflite(current, scheme.export, representative,
                     quantization_aware=scheme.step(StepKind.QAT) is not None)
    convert_seconds = time.perf_counter() - started

    artifact = Path(artifact)
    with atomic_path(artifact) as tmp:
        tmp.write_bytes(data)
        started = time.perf_counter()
        readback = read_back(tmp, layer_names)
        checks = verify_claims(readback.tensors, _merge(targets), sparsity=scheme.sparsity,
                               clusters=scheme.clusters, scheme=scheme.name)
        verify_seconds = time.perf_counter() - started
        member_accuracy, non_member_accuracy, io_types = _evaluate(tmp, members, non_members)

    record = {
        "scheme": scheme.to_dict(),
        **(context or {}),
        "hyper_parameters": hyper,
        "seed": int(seed),
        "members": int(len(x_members)),
        "non_members": None if non_members is None else int(len(non_members[0])),
        "accuracy": {"members": member_accuracy, "non_members": non_member_accuracy,
                     "measured_with": "LiteRT"},
        "io": io_types,
        "size_bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=9, mtime=0)),
        "seconds": {"fine_tune": round(fine_tune_seconds, 2),
                    "convert": round(convert_seconds, 2),
                    "verify": round(verify_seconds, 2)},
        "verified": checks,
        "float_layers": readback.float_layers,
        "quantized_layers": readback.quantized_layers,
        "weights": [t.to_dict() for t in readback.tensors],
        "artifact": str(artifact),
        "versions": package_versions(),
    }
    write_json(sidecar, record)
    logger.info("%s: %s (%d bytes, gzip %d), member acc %.3f", scheme.name, artifact,
                record["size_bytes"], record["gzip_bytes"], member_accuracy)
    return record


def compress_role(run: Run, role: str, scheme: Scheme | str, *, epochs: int | None = None,
                  learning_rate: float | None = None,
                  batch_size: int | None = None) -> dict[str, Any]:
    """Compresses a trained victim or shadow of `run`; fine-tunes on its members only.

    Writes `run.paths.artifact(role, scheme)` and `run.paths.sidecar(role, scheme)` and returns
    the sidecar record. The role's seed fixes every random choice.
    """
    scheme = parse_scheme(scheme) if isinstance(scheme, str) else scheme
    model, encoder = load_trained(run, role)
    x_members, y_members = run.dataset.subset(run.split.members(role))
    x_held, y_held = run.dataset.subset(run.split.non_members(role))
    source = run.paths.model(role)
    context = {"role": role, "run": run.name, "dataset": run.dataset.name,
               "arch": run.arch.name, "split_hash": run.split.fingerprint(),
               "source_model": {"path": str(source), "sha256": sha256_file(source)}}
    return compress_model(
        model, scheme, (encoder.transform(x_members), y_members),
        (encoder.transform(x_held), y_held),
        artifact=run.paths.artifact(role, scheme.name),
        sidecar=run.paths.sidecar(role, scheme.name),
        seed=role_seed(run.seed, role), epochs=epochs, learning_rate=learning_rate,
        batch_size=int(batch_size or run.arch.batch_size), context=context)


def compress_roles(run: Run, schemes: Sequence[Scheme | str], roles: Sequence[str] | None = None,
                   **settings: Any) -> list[dict[str, Any]]:
    """Compresses every role (default: victim and all shadows) with every scheme, same settings.

    All schemes are parsed before any work starts, so a typo fails fast.
    """
    parsed = [parse_scheme(s) if isinstance(s, str) else s for s in schemes]
    roles = list(roles) if roles else list(run.split.roles)
    for role in roles:
        run.split.members(role)  # an unknown role fails before any training
    return [compress_role(run, role, scheme, **settings) for role in roles for scheme in parsed]


def _model_inputs(dataset: Dataset, model, what: str) -> np.ndarray:
    if dataset.modality is Modality.TEXT:
        raise CompleakError(
            f"--model takes image or tabular data; {what} {dataset.name} is text, whose "
            "tokenizer is not known for a user's model; train it through a run instead"
        )
    expected = tuple(int(d) for d in model.inputs[0].shape[1:])
    if dataset.input_shape != expected:
        raise CompleakError(
            f"{what} {dataset.name} has inputs of shape {dataset.input_shape} but the model "
            f"takes {expected}; use the data the model was trained on"
        )
    return dataset.x.astype(np.float32, copy=False)


def model_output_dir(model_path: str | Path, out: str | Path = DEFAULT_ROOT) -> Path:
    """Where the artifacts of a user's model file go: <out>/model-<file stem>."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(model_path).stem)
    return Path(out) / f"model-{stem}"


def compress_model_file(model_path: str | Path, dataset: str | Dataset,
                        scheme: Scheme | str, *, out: str | Path = DEFAULT_ROOT,
                        held_out: str | Dataset | None = None, seed: int = 0,
                        epochs: int | None = None, learning_rate: float | None = None,
                        batch_size: int | None = None, data_dir: str | Path | None = None,
                        download: bool = False) -> dict[str, Any]:
    """Compresses a user's own tf_keras model file.

    Every example of `dataset` is taken as training data of the model (a member): fine-tuning
    and calibration use it and the member accuracy is measured on it. Non-member accuracy is
    measured on `held_out` when given, and recorded as null otherwise. Files go under
    `model_output_dir(model_path, out)`.
    """
    from compleak_tf.models import load_model

    scheme = parse_scheme(scheme) if isinstance(scheme, str) else scheme
    model = load_model(model_path)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise CompleakError(f"{model_path} has {len(model.inputs)} inputs and "
                            f"{len(model.outputs)} outputs; compress single-input "
                            "single-output classifiers")
    data = dataset if isinstance(dataset, Dataset) else load_dataset(
        dataset, data_dir=data_dir, download=download)
    members = (_model_inputs(data, model, "dataset"), data.y)
    non_members, held_name = None, None
    if held_out is not None:
        held = held_out if isinstance(held_out, Dataset) else load_dataset(
            held_out, data_dir=data_dir, download=download)
        non_members, held_name = (_model_inputs(held, model, "held-out dataset"), held.y), held.name
    classes = int(model.outputs[0].shape[-1])
    if int(data.y.max()) >= classes:
        raise CompleakError(f"dataset {data.name} has labels up to {int(data.y.max())} but the "
                            f"model has {classes} outputs; use the data it was trained on")

    folder = model_output_dir(model_path, out)
    context = {"role": None, "dataset": data.name,
               "held_out_dataset": held_name,
               "source_model": {"path": str(model_path), "sha256": sha256_file(model_path)}}
    return compress_model(
        model, scheme, members, non_members, artifact=folder / f"{scheme.name}.tflite",
        sidecar=folder / f"{scheme.name}.json", seed=seed, epochs=epochs,
        learning_rate=learning_rate, batch_size=int(batch_size or DEFAULT_BATCH_SIZE),
        context=context)
