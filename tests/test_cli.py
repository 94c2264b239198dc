"""The command line: help, error paths (exit status 2, one line) and a small train."""
from __future__ import annotations

import json
import subprocess

import pytest

from cli_helpers import run_cli




def error_line(result: subprocess.CompletedProcess) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_help_on_every_verb():
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in ("datasets", "split", "train", "demo"):
        assert verb in result.stdout
        sub = run_cli(verb, "--help")
        assert sub.returncode == 0 and "Usage:" in sub.stdout


@pytest.mark.parametrize("args, message", [
    (("train", "--dataset", "nope"), "unknown dataset 'nope'; known: digits"),
    (("train", "--dataset", "digits", "--arch", "transformerxl"), "unknown architecture"),
    (("split", "--dataset", "digits", "--members", "5000"), "lower --members"),
    (("split", "--dataset", "cifar10"), "pass --download"),
    (("train", "--dataset", "digits", "--role", "attacker"), "unknown role 'attacker'"),
])
def test_bad_input_gives_one_line_and_exit_status_2(tmp_path, args, message):
    result = run_cli(*args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2
    assert message in error_line(result)


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("split", "--dataset", "digits", "--out", str(blocker / "sub"), cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot create output directory" in error_line(result)


def test_npz_without_labels(tmp_path):
    import numpy as np

    np.savez(tmp_path / "data.npz", x=np.zeros((10, 3)))
    result = run_cli("split", "--dataset", f"npz:{tmp_path / 'data.npz'}", "--arch", "mlp",
                     "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert result.returncode == 2 and "lacks ['y']" in error_line(result)
    assert not (tmp_path / "out" / "data-mlp-seed0" / "split.json").exists()


def test_train_writes_model_and_record(tmp_path):
    out = tmp_path / "out"
    result = run_cli("train", "--dataset", "digits", "--members", "150", "--non-members", "150",
                     "--epochs", "2", "--role", "shadow", "--index", "0", "--out", str(out),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "shadow0: train acc" in result.stdout
    role_dir = out / "digits-cnn-seed0" / "shadow0"
    record = json.loads((role_dir / "train.json").read_text())
    assert record["members"] == 150 and record["epochs"] == 2
    assert (role_dir / "model.keras").is_file() and (role_dir / "encoder.json").is_file()
    assert not [p for p in role_dir.iterdir() if p.name.startswith(".")]
    assert "oneDNN" not in result.stderr and "cuInit" not in result.stderr
