"""Harvesting through LiteRT on digits: agreement with Keras, int8 read-back, cache, errors.

Expected values come from Keras `predict` on the saved model and from the int8 output tensor
dequantized here by hand, never from TFLiteModel's own helpers; the last tests attack a
user's own .tflite files through the `attack` verb.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from compleak_tf.errors import CompleakError

from cli_helpers import run_cli

RUN_OPTIONS = ("--dataset", "digits", "--members", "300", "--non-members", "300")
# int8 probabilities against the float model's on the same examples. After 5 epochs the
# model's top two classes are often close (median gap about 0.03), so a few argmax flips are
# expected; each must be explained by the measured difference.
INT8_MEAN_ABS_DIFF = 0.02
INT8_MAX_ABS_DIFF = 0.05
INT8_ARGMAX_AGREEMENT = 0.95


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from compleak_tf.compress import compress_role
    from compleak_tf.runs import open_run
    from compleak_tf.training import train_role

    out = tmp_path_factory.mktemp("harvest_runs")
    opened = open_run(dataset="digits", arch="cnn", out=out, members=300, non_members=300)
    for role in ("victim", "shadow0"):
        train_role(opened, role, epochs=5)
        for scheme in ("original", "ptq-int8"):
            compress_role(opened, role, scheme)
    return opened


@pytest.fixture
def run_copy(run, tmp_path):
    """A copy of the module's run that a test may damage."""
    from compleak_tf.runs import open_run

    shutil.copytree(run.paths.root, tmp_path / run.name)
    shutil.rmtree(tmp_path / run.name / "harvest", ignore_errors=True)
    return open_run(dataset="digits", arch="cnn", out=tmp_path, run=run.name)


@pytest.fixture(scope="module")
def victim_inputs(run):
    """Encoded inputs of the victim's 300 members and 300 non-members."""
    from compleak_tf.models import load_encoder

    indices = np.concatenate([run.split.members("victim"), run.split.non_members("victim")])
    return load_encoder(run.paths.encoder("victim")).transform(run.dataset.x[indices])


@pytest.fixture(scope="module")
def keras_probs(run, victim_inputs):
    from compleak_tf.models import load_model

    model = load_model(run.paths.model("victim"))
    return model.predict(victim_inputs, batch_size=64, verbose=0).astype(np.float64)


def _tiny_tflite(path: Path, outputs: int, x=None, y=None, bias: float | None = None) -> Path:
    """A small tf_keras classifier on 8x8x1 inputs, optionally trained, converted to .tflite."""
    from compleak_tf.tfcompat import keras, set_seed, tf

    layers = keras().layers
    set_seed(0)
    model = keras().Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(8, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(outputs, activation="softmax"),
    ])
    if x is not None:
        model.compile(keras().optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    if bias is not None:
        kernel, _ = model.layers[-1].get_weights()
        model.layers[-1].set_weights([kernel, np.full(outputs, bias, np.float32)])
    path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(model).convert())
    return path


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message and message
    return message


# LiteRT against Keras.

@pytest.mark.parametrize("batch_size", [1, 7, 200, 256])
def test_float_tflite_matches_keras_predict(run, victim_inputs, keras_probs, batch_size):
    from compleak_tf.inference import TFLiteModel

    model = TFLiteModel(run.paths.artifact("victim", "original"), num_threads=1)
    probs = model.predict(victim_inputs, batch_size=batch_size)
    assert probs.shape == (600, 10) and probs.dtype == np.float64
    assert np.max(np.abs(probs - keras_probs)) < 1e-5


def test_int8_output_dequantized_by_hand(run, victim_inputs, keras_probs):
    from ai_edge_litert.interpreter import Interpreter

    from compleak_tf.inference import TFLiteModel

    path = run.paths.artifact("victim", "ptq-int8")
    details = Interpreter(model_path=str(path))
    in_scale, in_zero = details.get_input_details()[0]["quantization"]
    out_detail = details.get_output_details()[0]
    out_scale, out_zero = out_detail["quantization"]
    assert out_detail["dtype"] == np.int8 and out_scale > 0

    model = TFLiteModel(path, num_threads=1)
    quantized = np.clip(np.round(victim_inputs / in_scale + in_zero), -128, 127).astype(np.int8)
    raw = np.concatenate([model.invoke_raw(quantized[i:i + 100]) for i in range(0, 600, 100)])
    assert raw.dtype == np.int8
    by_hand = (raw.astype(np.float64) - out_zero) * out_scale
    probs = model.predict(victim_inputs, batch_size=256)
    assert np.max(np.abs(probs - by_hand)) < 1e-12

    # Every probability is a whole number of output steps.
    steps = probs / out_scale + out_zero
    assert np.max(np.abs(steps - np.round(steps))) < 1e-6

    # Close to the float model it was quantized from.
    difference = np.abs(probs - keras_probs)
    assert difference.mean() < INT8_MEAN_ABS_DIFF and difference.max() < INT8_MAX_ABS_DIFF
    flipped = probs.argmax(axis=1) != keras_probs.argmax(axis=1)
    assert 1 - flipped.mean() >= INT8_ARGMAX_AGREEMENT
    top_two = np.sort(keras_probs, axis=1)[:, -2:]
    assert np.all(top_two[flipped, 1] - top_two[flipped, 0] <= 2 * difference.max())


# The harvest cache.

def test_cache_hits_and_misses(run_copy, caplog):
    from compleak_tf.fileio import load_npz, save_npz
    from compleak_tf.inference.harvest import Harvester

    first = Harvester(run_copy)
    fresh = first.own("victim", "original")
    assert (first.hits, first.misses) == (0, 1)

    second = Harvester(run_copy)
    cached = second.own("victim", "original")
    assert (second.hits, second.misses) == (1, 0)
    assert np.array_equal(cached.probs, fresh.probs)
    assert np.array_equal(cached.indices, fresh.indices)
    assert np.array_equal(cached.membership, fresh.membership)

    # Another valid model at the same path is harvested again and answers differently.
    artifact = run_copy.paths.artifact("victim", "original")
    shutil.copyfile(run_copy.paths.artifact("victim", "ptq-int8"), artifact)
    third = Harvester(run_copy)
    replaced = third.own("victim", "original")
    assert (third.hits, third.misses) == (0, 1)
    assert np.max(np.abs(replaced.probs - fresh.probs)) > 1e-4

    # A cache file at the right name whose stored key differs is not trusted.
    entry = max(run_copy.paths.harvest_dir.glob("victim-original-own-*.npz"),
                key=os.path.getmtime)
    stored = load_npz(entry)
    save_npz(entry, probs=np.full_like(stored["probs"], 0.1), indices=stored["indices"],
             key=np.array("0" * 64))
    fourth = Harvester(run_copy)
    with caplog.at_level("WARNING", logger="compleak_tf.inference.harvest"):
        again = fourth.own("victim", "original")
    assert (fourth.hits, fourth.misses) == (0, 1)
    assert np.array_equal(again.probs, replaced.probs)
    assert "ignoring stale harvest cache" in caplog.text


# Errors.

def test_unparsable_tflite_names_the_file(run_copy):
    from compleak_tf.inference.harvest import Harvester

    artifact = run_copy.paths.artifact("victim", "original")
    artifact.write_bytes(b"this is not a flatbuffer" * 40)
    with pytest.raises(CompleakError) as err:
        Harvester(run_copy).own("victim", "original")
    assert str(artifact) in _one_line(err)


def test_output_width_must_match_the_class_count(run_copy):
    from compleak_tf.inference.harvest import Harvester

    _tiny_tflite(run_copy.paths.artifact("victim", "original"), outputs=3)
    with pytest.raises(CompleakError) as err:
        Harvester(run_copy).own("victim", "original")
    assert "outputs 3 classes but digits has 10" in _one_line(err)


def test_nan_output_is_refused(tmp_path, victim_inputs):
    from compleak_tf.inference import TFLiteModel

    path = _tiny_tflite(tmp_path / "nan.tflite", outputs=10, bias=np.nan)
    model = TFLiteModel(path)
    with pytest.raises(CompleakError) as err:
        model.predict(victim_inputs[:20])
    assert "NaN or infinite" in _one_line(err)


def test_nan_probabilities_are_refused_by_model_outputs():
    from compleak_tf.attacks.data import ModelOutputs

    probs = np.full((4, 10), 0.1)
    probs[2, 3] = np.nan
    with pytest.raises(CompleakError) as err:
        ModelOutputs(probs, np.zeros(4, int), np.zeros(4, bool), np.arange(4), "victim/x")
    assert "victim/x: outputs contain NaN" in _one_line(err)


def test_inputs_of_the_wrong_shape(run):
    from compleak_tf.inference import TFLiteModel

    model = TFLiteModel(run.paths.artifact("victim", "original"))
    with pytest.raises(CompleakError) as err:
        model.predict(np.zeros((5, 9, 9, 1), np.float32))
    assert "(8, 8, 1)" in _one_line(err) and "(9, 9, 1)" in str(err.value)


# Attacking a user's own .tflite files.


@pytest.fixture(scope="module")
def user_models(tmp_path_factory):
    """A victim and a shadow the 'user' trained on the split's members, as .tflite files."""
    from compleak_tf.runs import open_run

    folder = tmp_path_factory.mktemp("user_models")
    run = open_run(dataset="digits", arch="cnn", out=folder / "out", members=300,
                   non_members=300)
    files = {}
    for role, name in (("victim", "v.tflite"), ("shadow0", "s.tflite")):
        x, y = run.dataset.subset(run.split.members(role))
        files[role] = _tiny_tflite(folder / name, 10, x, y)
    return folder, files


def test_attack_on_user_tflite_files(user_models):
    folder, files = user_models
    out = folder / "out"
    result = run_cli("attack", "--variant", "nr", *RUN_OPTIONS, "--victim-tflite",
                      str(files["victim"]), "--shadow-tflite", str(files["shadow0"]),
                      "--out", str(out), "--attack", "loss", "--bootstrap", "50", cwd=folder)
    assert result.returncode == 0, result.stderr

    run_dir = out / "digits-cnn-seed0"
    assert (run_dir / "victim" / "original.tflite").read_bytes() == files["victim"].read_bytes()
    assert (run_dir / "shadow0" / "original.tflite").read_bytes() == \
        files["shadow0"].read_bytes()
    report = json.loads((run_dir / "attacks" / "attack-nr.json").read_text())
    with np.load(run_dir / "attacks" / "attack-nr_scores.npz") as saved:
        expected = roc_auc_score(saved["membership"].astype(bool), saved["original/loss"])
    assert report["results"]["original/loss"]["auc"]["value"] == pytest.approx(expected,
                                                                            abs=1e-12)
    assert expected > 0.5


def test_user_tflite_with_wrong_class_count_is_refused(user_models):
    folder, files = user_models
    out = folder / "refused"
    wrong = _tiny_tflite(folder / "three.tflite", outputs=3)
    result = run_cli("attack", *RUN_OPTIONS, "--victim-tflite", str(files["victim"]),
                      "--shadow-tflite", str(wrong), "--out", str(out), "--attack", "loss",
                      cwd=folder)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "three.tflite outputs 3 classes but digits has 10" in lines[0]
    assert not list(out.rglob("*.tflite")) and not list(out.rglob("encoder.json"))


def test_user_tflite_does_not_replace_an_exported_model(run_copy, user_models):
    from compleak_tf.cli.attack import import_user_tflite

    _, files = user_models
    exported = run_copy.paths.artifact("victim", "original").read_bytes()
    with pytest.raises(CompleakError) as err:
        import_user_tflite(run_copy, files["victim"], (), "original")
    assert "--as-scheme" in _one_line(err)
    assert run_copy.paths.artifact("victim", "original").read_bytes() == exported

    encoder = run_copy.paths.encoder("victim").read_bytes()
    import_user_tflite(run_copy, files["victim"], (files["shadow0"],), "mine")
    assert run_copy.paths.artifact("victim", "mine").read_bytes() == files["victim"].read_bytes()
    assert run_copy.paths.encoder("victim").read_bytes() == encoder
