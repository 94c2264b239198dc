"""The whole study end to end on digits: table figures against saved scores, cache, resume."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from compleak_tf.fileio import load_npz
from compleak_tf.study.config import scale_config
from compleak_tf.study.pipeline import Study

from cli_helpers import run_cli

TINY = ["--scale", "tiny", "--trees", "40", "--bootstrap", "100"]



@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    first = run_cli("reproduce", *TINY, "--out", str(out), cwd=out)
    assert first.returncode == 0, first.stderr
    return out, first


def _independent(scores: np.ndarray, membership: np.ndarray) -> dict[str, float]:
    """AUC, best balanced accuracy and TPR at FPR <= 1 % / 0.1 % from scikit-learn's ROC."""
    fpr, tpr, _ = roc_curve(membership, scores, drop_intermediate=False)
    return {"auc": roc_auc_score(membership, scores),
            "balanced_accuracy": float(np.max((tpr + 1 - fpr) / 2)),
            "tpr_at_fpr@0.01": float(tpr[fpr <= 0.01].max()),
            "tpr_at_fpr@0.001": float(tpr[fpr <= 0.001].max())}


def test_table_figures_match_the_saved_scores(study):
    out, first = study
    table = json.loads((out / "table3-tiny" / "table3.json").read_text())
    saved = load_npz(out / "digits-cnn-seed0" / "attacks" / "study-scores.npz")
    membership = saved["membership"].astype(bool)
    assert membership.sum() == 300 and (~membership).sum() == 300
    assert [row["scheme"] for row in table["nr"]] == ["original", "prune80", "ptq-int8"]

    for row in table["nr"]:
        expected = _independent(saved[f"nr/{row['scheme']}/{row['nr_attack']}"], membership)
        for key, value in expected.items():
            assert row["nr"][key]["mean"] == pytest.approx(value, abs=1e-12), (row, key)
            low, high = row["nr"][key]["ci_low"], row["nr"][key]["ci_high"]
            assert low <= value + 1e-9 and value - 1e-9 <= high
        # The named attack is the strongest of all NR attacks on that model.
        aucs = {k.split("/")[2]: roc_auc_score(membership, v) for k, v in saved.items()
                if k.startswith(f"nr/{row['scheme']}/")}
        assert max(aucs.values()) == pytest.approx(row["nr"]["auc"]["mean"])
        if row["scheme"] != "original":
            original = saved[f"nr/original/{row['nr_attack']}"]
            delta = row["nr_vs_original"]["auc"]["mean"]
            assert delta == pytest.approx(expected["auc"]
                                          - roc_auc_score(membership, original))

    names = {"SR control": "control", "SR prune80": "sr/prune80", "SR ptq-int8": "sr/ptq-int8",
             "MR(prune80,ptq-int8)": "mr/MR(prune80,ptq-int8)",
             "MR-no-original(prune80,ptq-int8)": "mr/MR-no-original(prune80,ptq-int8)"}
    assert [row["attack"] for row in table["multi"]] == list(names)
    for row in table["multi"]:
        expected = _independent(saved[names[row["attack"]]], membership)
        for key, value in expected.items():
            assert row["figures"][key]["mean"] == pytest.approx(value, abs=1e-12)
    mr = table["multi"][3]
    assert mr["meta_classifier"][0] in ("logreg", "mlp", "boosting")
    assert "victim/prune80" in mr["models"]

    # Sizes and accuracies come from the sidecars read back from the .tflite files.
    sidecar = json.loads((out / "digits-cnn-seed0" / "victim" / "ptq-int8.json")
                         .read_text())
    assert table["nr"][2]["gzip_bytes"] == sidecar["gzip_bytes"]
    assert table["nr"][2]["held_out_accuracy"]["mean"] == sidecar["accuracy"]["non_members"]
    for name in ("table3.md", "table3.csv", "roc.png", "leakage_vs_compression.png",
                 "leakage_vs_size.png"):
        assert (out / "table3-tiny" / name).stat().st_size > 0
    assert "| prune80 |" in first.stdout


def test_second_run_hits_the_cache_for_every_stage(study):
    out, _ = study
    run_dir = out / "digits-cnn-seed0"
    stamps = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*") if p.is_file()}
    again = run_cli("reproduce", *TINY, "--out", str(out), cwd=out)
    assert again.returncode == 0, again.stderr
    assert "reused: 2 trained models, 6 compressed models, 1 attack stages" in again.stdout
    changed = [p for p, t in stamps.items() if p.stat().st_mtime_ns != t]
    assert changed == []


def test_a_run_killed_midway_resumes_without_redoing_finished_stages(study):
    out, _ = study
    run_dir = out / "digits-cnn-seed0"
    # As if killed while exporting: the shadow's prune80 file is gone, a temp file is left.
    (run_dir / "shadow0" / "prune80.tflite").unlink()
    (run_dir / "shadow0" / ".prune80.partial.tmp.tflite").write_bytes(b"half")
    victim_model = run_dir / "victim" / "model.keras"
    stamp = victim_model.stat().st_mtime_ns
    again = run_cli("reproduce", *TINY, "--out", str(out), cwd=out)
    assert again.returncode == 0, again.stderr
    assert "reused: 2 trained models, 5 compressed models" in again.stdout
    assert victim_model.stat().st_mtime_ns == stamp
    assert (run_dir / "shadow0" / "prune80.tflite").is_file()


def test_attack_verb_on_the_study_run(study):
    out, _ = study
    common = ["--dataset", "digits", "--run", "digits-cnn-seed0", "--out", str(out),
              "--bootstrap", "50", "--trees", "30"]
    nr = run_cli("attack", "--variant", "nr", "--scheme", "ptq-int8", "--attack", "loss",
                 *common, cwd=out)
    assert nr.returncode == 0, nr.stderr
    result = json.loads((out / "digits-cnn-seed0" / "attacks" / "attack-nr.json")
                        .read_text())
    saved = load_npz(out / "digits-cnn-seed0" / "attacks" / "attack-nr_scores.npz")
    auc = roc_auc_score(saved["membership"], saved["ptq-int8/loss"])
    assert result["results"]["ptq-int8/loss"]["auc"]["value"] == pytest.approx(auc)
    assert "ptq-int8: loss" in nr.stdout

    missing = run_cli("attack", "--variant", "sr", "--scheme", "cluster16", *common, cwd=out)
    assert missing.returncode == 2
    assert "it has: original, prune80, ptq-int8" in missing.stderr
    mr = run_cli("attack", "--variant", "mr", "--schemes", "prune80,ptq-int8", *common, cwd=out)
    assert mr.returncode == 0, mr.stderr
    assert "meta-classifier:" in mr.stdout
    one = run_cli("attack", "--variant", "mr", "--schemes", "prune80", *common, cwd=out)
    assert one.returncode == 2 and "at least two compressed" in one.stderr


def test_bad_study_settings_fail_fast(tmp_path):
    unknown = run_cli("reproduce", "--scale", "huge", "--out", str(tmp_path), cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown scale 'huge'" in unknown.stderr
    scheme = run_cli("reproduce", *TINY, "--schemes", "original,prune80,ptq-int8,zip9",
                     "--out", str(tmp_path), cwd=tmp_path)
    assert scheme.returncode == 2 and "zip9" in scheme.stderr
    assert not list(tmp_path.glob("*/victim/model.keras"))
    paper = run_cli("reproduce", "--scale", "paper", "--data-dir", str(tmp_path), "--out",
                    str(tmp_path), cwd=tmp_path)
    assert paper.returncode == 2 and "--download" in paper.stderr


def test_study_library_rejects_unknown_force_stage(tmp_path):
    from compleak_tf.errors import CompleakError

    with pytest.raises(CompleakError, match="unknown stage"):
        Study(scale_config("tiny", out=tmp_path), force={"everything"})
