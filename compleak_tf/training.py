"""Trains a victim or shadow model on its role's members only and records how it did."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from compleak_tf.data.splits import parse_role
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import package_versions, write_json
from compleak_tf.models import build_model, load_encoder, load_model, save_model
from compleak_tf.runs import Run
from compleak_tf.tfcompat import keras, set_seed

logger = logging.getLogger(__name__)

EpochCallback = Callable[[int, int, dict[str, float]], None]


def role_seed(seed: int, role: str) -> int:
    """Victim and each shadow start from different weights, all fixed by the run's seed."""
    kind, index = parse_role(role)
    return int(seed) * 100 + (0 if kind == "victim" else index + 1)


def compile_model(model, learning_rate: float) -> None:
    """Adam on sparse categorical cross-entropy over softmax outputs, as every stage uses."""
    model.compile(optimizer=keras().optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def fit(model, x: np.ndarray, y: np.ndarray, *, epochs: int, batch_size: int, seed: int,
        on_epoch: EpochCallback | None = None, callbacks: list | None = None):
    """Runs `model.fit` with a fixed shuffle seed, reporting each finished epoch."""
    hooks = list(callbacks or [])
    if on_epoch is not None:
        hooks.append(keras().callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: on_epoch(epoch + 1, epochs, dict(logs or {}))))
    set_seed(seed)
    return model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0,
                     callbacks=hooks)


def accuracy(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> float:
    """Top-1 accuracy of a Keras model."""
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == y))


def train_role(run: Run, role: str, *, epochs: int | None = None, batch_size: int | None = None,
               learning_rate: float | None = None, arch_options: dict[str, Any] | None = None,
               on_epoch: EpochCallback | None = None,
               record_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Trains `role`'s model on its members, saves model, encoder and record; returns the record.

    Held-out accuracy is measured once, after training, on the role's non-members; nothing is
    selected on them.
    """
    arch = run.arch
    epochs = int(epochs or arch.epochs)
    batch_size = int(batch_size or arch.batch_size)
    learning_rate = float(learning_rate or arch.learning_rate)
    if epochs < 1 or batch_size < 1 or learning_rate <= 0:
        raise CompleakError("epochs and batch size must be positive and the learning rate > 0")
    members = run.split.members(role)
    non_members = run.split.non_members(role)
    x_members, y_members = run.dataset.subset(members)
    x_held, y_held = run.dataset.subset(non_members)

    seed = role_seed(run.seed, role)
    set_seed(seed)
    encoder = arch.make_encoder(run.dataset).fit(x_members)
    train_inputs = encoder.transform(x_members)
    model = build_model(arch.name, encoder, run.dataset.num_classes, **(arch_options or {}))
    compile_model(model, learning_rate)

    started = time.perf_counter()
    history = fit(model, train_inputs, y_members, epochs=epochs, batch_size=batch_size,
                  seed=seed, on_epoch=on_epoch)
    seconds = time.perf_counter() - started

    train_acc = accuracy(model, train_inputs, y_members)
    held_acc = accuracy(model, encoder.transform(x_held), y_held)
    save_model(model, run.paths.model(role))
    encoder.save(run.paths.encoder(role))
    record = {
        "role": role,
        "dataset": run.dataset.name,
        "data_hash": run.split.data_hash,
        "split_hash": run.split.fingerprint(),
        "arch": arch.name,
        "arch_options": {**arch.options, **(arch_options or {})},
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "run_seed": run.seed,
        "members": int(len(members)),
        "non_members": int(len(non_members)),
        "train_accuracy": train_acc,
        "held_out_accuracy": held_acc,
        "gap": train_acc - held_acc,
        "final_loss": float(history.history["loss"][-1]),
        "train_seconds": round(seconds, 2),
        "versions": package_versions(),
        **(record_extra or {}),
    }
    write_json(run.paths.train_record(role), record)
    logger.info("%s: train %.3f, held-out %.3f, gap %.3f (%.1f s)", role, train_acc, held_acc,
                record["gap"], seconds)
    return record


def load_trained(run: Run, role: str):
    """(model, encoder) of a trained role, with an error that says how to train it."""
    if not run.paths.model(role).exists():
        raise CompleakError(
            f"{run.paths.model(role)} does not exist; train it first: compleak-tf train "
            f"--dataset {run.dataset.name} --arch {run.arch.name} --role {role}"
        )
    return load_model(run.paths.model(role)), load_encoder(run.paths.encoder(role))
