"""The vision model zoo and the training stage."""
from __future__ import annotations

import numpy as np
import pytest

from compleak_tf.errors import CompleakError
from compleak_tf.models import IdentityEncoder, build_model, load_model, save_model
from compleak_tf.models.encoders import load_encoder
from compleak_tf.runs import open_run
from compleak_tf.tfcompat import keras
from compleak_tf.training import compile_model, train_role

SMALL_OPTIONS = {
    "cnn": {"filters": 4, "dense": 8},
    "resnet18": {"width": 4},
    "vgg16": {"width": 0.0625},
    "mobilenetv2": {"alpha": 0.35},
    "mlp": {"hidden": (8,)},
}


@pytest.mark.parametrize("arch", sorted(SMALL_OPTIONS))
def test_every_vision_architecture_builds_and_trains_a_step(arch, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = np.arange(16) % 3
    model = build_model(arch, IdentityEncoder((8, 8, 1)), 3, **SMALL_OPTIONS[arch])
    assert isinstance(model, keras().Model)
    compile_model(model, 1e-2)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (16, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    path = save_model(model, tmp_path / "model.keras")
    np.testing.assert_allclose(load_model(path).predict(x, verbose=0), probs, atol=1e-6)


def test_identity_encoder_round_trip_and_shape_check(tmp_path):
    encoder = IdentityEncoder((8, 8, 1))
    encoder.save(tmp_path / "encoder.json")
    loaded = load_encoder(tmp_path / "encoder.json")
    assert loaded.model_input_shape == (8, 8, 1)
    with pytest.raises(CompleakError, match="expects \\(8, 8, 1\\)"):
        loaded.transform(np.zeros((2, 28, 28, 1)))


def test_load_model_rejects_a_file_that_is_not_keras(tmp_path):
    bogus = tmp_path / "model.keras"
    bogus.write_bytes(b"definitely not a model")
    with pytest.raises(CompleakError, match="not a Keras model"):
        load_model(bogus)


def test_training_uses_members_only_and_is_repeatable(tmp_path):
    run = open_run(dataset="digits", arch="cnn", out=tmp_path, members=200, non_members=200)
    first = train_role(run, "victim", epochs=3)
    weights = [w.copy() for w in load_model(run.paths.model("victim")).get_weights()]
    second = train_role(run, "victim", epochs=3)
    again = load_model(run.paths.model("victim")).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(weights, again))
    assert first["train_accuracy"] == second["train_accuracy"]
    assert first["members"] == 200 and first["non_members"] == 200

    # The recorded accuracies are those of the saved model on the split's own indices.
    model = load_model(run.paths.model("victim"))
    x_m, y_m = run.dataset.subset(run.split.members("victim"))
    x_n, y_n = run.dataset.subset(run.split.non_members("victim"))
    train_acc = np.mean(np.argmax(model.predict(x_m, verbose=0), 1) == y_m)
    held_acc = np.mean(np.argmax(model.predict(x_n, verbose=0), 1) == y_n)
    assert first["train_accuracy"] == pytest.approx(train_acc)
    assert first["held_out_accuracy"] == pytest.approx(held_acc)
    assert first["gap"] == pytest.approx(train_acc - held_acc)
    assert first["split_hash"] == run.split.fingerprint()

    shadow = train_role(run, "shadow0", epochs=3)
    assert shadow["seed"] != first["seed"]


def test_reopening_a_run_with_other_sizes_is_an_error(tmp_path):
    open_run(dataset="digits", arch="cnn", out=tmp_path, members=100, non_members=100)
    same = open_run(dataset="digits", arch="cnn", out=tmp_path)
    assert same.split.sizes.members == 100
    with pytest.raises(CompleakError, match="already has a split"):
        open_run(dataset="digits", arch="cnn", out=tmp_path, members=150)


def test_architecture_must_fit_the_data(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "table.npz"
    np.savez(path, x=rng.normal(size=(80, 4)), y=np.arange(80) % 2)
    with pytest.raises(CompleakError, match="does not take tabular data"):
        open_run(dataset=f"npz:{path}", arch="cnn", out=tmp_path)
    run = open_run(dataset=f"npz:{path}", arch="mlp", out=tmp_path)
    assert run.split.sizes.members == 20 and run.name == "table-mlp-seed0"
