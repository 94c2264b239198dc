"""Compression of a small digits CNN with every scheme, checked on the .tflite bytes.

The figures are re-read here with the LiteRT interpreter (independently of
compleak_tf.compress.inspect): zeros, distinct values, dtypes and accuracy.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from compleak_tf.compress.schemes import parse_scheme
from compleak_tf.errors import CompleakError

# Each compressed model keeps its LiteRT accuracy within this much of the original .tflite.
ACCURACY_TOLERANCE = 0.05
KERNEL_LAYERS = ("conv1", "conv2", "dense1", "probs")
SCHEMES = ("original", "prune80", "cluster8", "qat-int8", "ptq-int8", "ptq-float16",
           "ptq-dynamic", "prune50+cluster8+qat-int8", "prune80+ptq-int8")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from compleak_tf.runs import open_run
    from compleak_tf.training import train_role

    out = tmp_path_factory.mktemp("runs")
    run = open_run(dataset="digits", arch="cnn", seed=0, out=out)
    train_role(run, "victim", epochs=40)
    return run


@pytest.fixture(scope="module")
def compressed(trained):
    from compleak_tf.compress import compress_role

    return {scheme: compress_role(trained, "victim", scheme) for scheme in SCHEMES}


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter


def _kernels(path, model) -> dict[str, dict]:
    """Kernel tensors by Keras layer, found by scope name and element count."""
    interpreter = _interpreter(path)
    sizes = {name: int(np.prod(model.get_layer(name).kernel.shape)) for name in KERNEL_LAYERS}
    found = {}
    for detail in interpreter.get_tensor_details():
        scopes = set(detail["name"].replace(";", "/").split("/"))
        for layer, size in sizes.items():
            if ({layer, f"quant_{layer}"} & scopes and len(detail["shape"]) >= 2
                    and int(np.prod(detail["shape"])) == size):
                try:
                    values = interpreter.get_tensor(detail["index"])
                except ValueError:  # a computed tensor (e.g. float16 dequantized to float32)
                    continue
                params = detail["quantization_parameters"]
                found[layer] = {"values": values,
                                "zero_points": params["zero_points"],
                                "scales": params["scales"],
                                "axis": params["quantized_dimension"]}
    assert set(found) == set(KERNEL_LAYERS), f"kernels found in {path.name}: {sorted(found)}"
    return found


def _zero_fraction(kernel: dict) -> float:
    values, zero_points = kernel["values"], kernel["zero_points"]
    if len(zero_points) > 1:
        shape = [1] * values.ndim
        shape[kernel["axis"]] = -1
        return float(np.mean(values == zero_points.reshape(shape)))
    return float(np.mean(values == (zero_points[0] if len(zero_points) else 0)))


def _max_distinct(kernel: dict) -> int:
    values = kernel["values"]
    if len(kernel["scales"]) > 1:
        channels = np.moveaxis(values, kernel["axis"], 0)
        return max(len(np.unique(c)) for c in channels)
    return len(np.unique(values))


def _litert_accuracy(path, x: np.ndarray, y: np.ndarray) -> float:
    interpreter = _interpreter(path)
    source = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(source["index"], [len(x), *x.shape[1:]])
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    if source["dtype"] == np.int8:
        scale, zero = source["quantization"]
        x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    interpreter.set_tensor(source["index"], x.astype(source["dtype"]))
    interpreter.invoke()
    out = interpreter.get_tensor(target["index"])
    return float(np.mean(np.argmax(out, axis=1) == y))


@pytest.fixture(scope="module")
def data(trained):
    from compleak_tf.training import load_trained

    model, encoder = load_trained(trained, "victim")
    x_in, y_in = trained.dataset.subset(trained.split.members("victim"))
    x_out, y_out = trained.dataset.subset(trained.split.non_members("victim"))
    return model, (encoder.transform(x_in), y_in), (encoder.transform(x_out), y_out)


def _cli(args: list[str]) -> int:
    """Exit status of `compleak-tf ARGS` run in-process through main()."""
    from compleak_tf.cli.main import main

    try:
        main(args)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def _path(run, scheme):
    return run.paths.artifact("victim", parse_scheme(scheme).name)


def test_every_scheme_writes_file_and_sidecar(trained, compressed):
    for scheme, record in compressed.items():
        path = _path(trained, scheme)
        sidecar = json.loads(trained.paths.sidecar("victim", scheme).read_text())
        assert sidecar["scheme"]["name"] == scheme
        assert sidecar["size_bytes"] == path.stat().st_size == record["size_bytes"]
        assert sidecar["members"] == len(trained.split.members("victim"))
        assert len(sidecar["source_model"]["sha256"]) == 64
        leftovers = [p.name for p in path.parent.iterdir() if ".tmp" in p.name]
        assert leftovers == []


def test_accuracy_through_litert_close_to_original(trained, compressed, data):
    _, members, non_members = data
    original = {k: _litert_accuracy(_path(trained, "original"), *d)
                for k, d in (("members", members), ("non_members", non_members))}
    assert original["members"] > 0.95
    for scheme, record in compressed.items():
        for key, split in (("members", members), ("non_members", non_members)):
            measured = _litert_accuracy(_path(trained, scheme), *split)
            assert record["accuracy"][key] == pytest.approx(measured, abs=1e-9), scheme
            assert measured >= original[key] - ACCURACY_TOLERANCE, (scheme, key, measured)


def test_original_is_float32_and_dense(trained, compressed, data):
    kernels = _kernels(_path(trained, "original"), data[0])
    for layer, kernel in kernels.items():
        assert kernel["values"].dtype == np.float32
        assert _zero_fraction(kernel) < 0.05
        assert _max_distinct(kernel) > 16, layer


@pytest.mark.parametrize("scheme,sparsity", [("prune80", 0.8), ("prune80+ptq-int8", 0.8),
                                             ("prune50+cluster8+qat-int8", 0.5)])
def test_pruned_kernels_have_the_claimed_zeros(trained, compressed, data, scheme, sparsity):
    kernels = _kernels(_path(trained, scheme), data[0])
    for layer, kernel in kernels.items():
        assert _zero_fraction(kernel) >= sparsity - 0.01, (scheme, layer)
        reported = [c for c in compressed[scheme]["verified"] if c["layer"] == layer]
        assert reported and reported[0]["sparsity"] == pytest.approx(_zero_fraction(kernel))


@pytest.mark.parametrize("scheme", ["cluster8", "prune50+cluster8+qat-int8"])
def test_clustered_kernels_have_at_most_k_values(trained, compressed, data, scheme):
    kernels = _kernels(_path(trained, scheme), data[0])
    for layer, kernel in kernels.items():
        assert _max_distinct(kernel) <= 8, (scheme, layer)
    dense = kernels["dense1"]["values"]
    assert len(np.unique(dense)) > 1


@pytest.mark.parametrize("scheme", ["qat-int8", "ptq-int8", "prune80+ptq-int8",
                                    "prune50+cluster8+qat-int8"])
def test_int8_schemes_store_int8(trained, compressed, data, scheme):
    path = _path(trained, scheme)
    interpreter = _interpreter(path)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    for kernel in _kernels(path, data[0]).values():
        assert kernel["values"].dtype == np.int8
    assert compressed[scheme]["float_layers"] == []


def test_float16_and_dynamic(trained, compressed, data):
    half = _kernels(_path(trained, "ptq-float16"), data[0])
    assert {k["values"].dtype for k in half.values()} == {np.dtype(np.float16)}

    dynamic_path = _path(trained, "ptq-dynamic")
    dynamic = _kernels(dynamic_path, data[0])
    assert _interpreter(dynamic_path).get_input_details()[0]["dtype"] == np.float32
    assert dynamic["dense1"]["values"].dtype == np.int8
    stayed_float = sorted(k for k, v in dynamic.items() if v["values"].dtype == np.float32)
    assert sorted(compressed["ptq-dynamic"]["float_layers"]) == stayed_float


def test_sizes_match_bytes(trained, compressed):
    import gzip

    for scheme, record in compressed.items():
        raw = _path(trained, scheme).read_bytes()
        assert record["gzip_bytes"] == len(gzip.compress(raw, compresslevel=9, mtime=0))
    assert compressed["prune80"]["gzip_bytes"] < 0.6 * compressed["original"]["gzip_bytes"]
    assert compressed["ptq-int8"]["size_bytes"] < 0.4 * compressed["original"]["size_bytes"]


def test_same_inputs_give_same_file(trained, compressed):
    from compleak_tf.compress import compress_role

    before = _path(trained, "ptq-int8").read_bytes()
    compress_role(trained, "victim", "ptq-int8")
    assert _path(trained, "ptq-int8").read_bytes() == before


def test_verification_failure_leaves_no_file(trained, compressed, monkeypatch):
    from compleak_tf.compress import compress_role, keras_stage

    real = keras_stage.pruning_schedule

    def too_gentle(sparsity, steps_per_epoch, epochs):
        return real(sparsity / 2, steps_per_epoch, epochs)

    monkeypatch.setattr(keras_stage, "pruning_schedule", too_gentle)
    artifact = trained.paths.artifact("victim", "prune90")
    with pytest.raises(CompleakError, match="below the claimed 90%"):
        compress_role(trained, "victim", "prune90", epochs=2)
    assert not artifact.exists()
    assert not trained.paths.sidecar("victim", "prune90").exists()
    assert [p for p in artifact.parent.iterdir() if ".tmp" in p.name] == []


def test_unwrappable_layer_is_named(data):
    from compleak_tf.compress.pipeline import compress_model
    from compleak_tf.tfcompat import keras

    layers = keras().layers

    class ScaledDense(layers.Dense):
        pass

    inputs = layers.Input((8, 8, 1))
    x = layers.Flatten()(inputs)
    outputs = ScaledDense(10, activation="softmax", name="odd_dense")(x)
    model = keras().Model(inputs, outputs)
    _, members, _ = data
    with pytest.raises(CompleakError, match="odd_dense.*prun"):
        compress_model(model, "prune50", members, None, artifact="/nonexistent/a.tflite",
                       sidecar="/nonexistent/a.json")


@pytest.mark.parametrize("bad,message", [
    ("prune100", "outside 1-99"), ("prune0", "outside 1-99"), ("cluster1", "at least 2"),
    ("quantize", "unknown compression scheme"), ("ptq-int8+ptq-float16", "quantized once"),
    ("ptq-int8+prune50", "cannot follow"), ("cluster8+prune50", "cannot follow"),
])
def test_bad_scheme_exits_2(tmp_path, capsys, bad, message):
    assert _cli(["compress", "--out", str(tmp_path), "--scheme", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and err[-1].startswith("error: ")


def test_scheme_names_are_canonical():
    scheme = parse_scheme(" Prune080+cluster16+QAT-int8 ")
    assert scheme.name == "prune80+cluster16+qat-int8"
    assert (scheme.sparsity, scheme.clusters, scheme.export.value) == (0.8, 16, "int8")
    assert parse_scheme("ptq-float16").export.value == "float16"


def test_model_option_rejects_non_keras_file(tmp_path, capsys):
    fake = tmp_path / "weights.keras"
    fake.write_bytes(b"not a model at all")
    assert _cli(["compress", "--model", str(fake), "--dataset", "digits", "--out",
                 str(tmp_path), "--scheme", "ptq-dynamic"]) == 2
    assert "not a Keras model" in capsys.readouterr().err


def test_model_option_compresses_users_model(trained, tmp_path, capsys):
    source = trained.paths.model("victim")
    assert _cli(["compress", "--model", str(source), "--dataset", "digits", "--out",
                 str(tmp_path), "--scheme", "ptq-dynamic"]) == 0
    artifact = tmp_path / "model-model" / "ptq-dynamic.tflite"
    record = json.loads(artifact.with_suffix(".json").read_text())
    assert record["members"] == len(trained.dataset)
    assert record["accuracy"]["non_members"] is None
    assert "ptq-dynamic" in capsys.readouterr().out


def test_cli_compresses_every_role_by_default(trained, capsys):
    from compleak_tf.training import train_role

    train_role(trained, "shadow0", epochs=3)
    assert _cli(["compress", "--dataset", "digits", "--out", str(trained.paths.root.parent),
                 "--scheme", "ptq-float16,ptq-dynamic"]) == 0
    for role in ("victim", "shadow0"):
        for scheme in ("ptq-float16", "ptq-dynamic"):
            assert trained.paths.artifact(role, scheme).is_file()
    out = capsys.readouterr().out
    assert out.count("shadow0") == 2
