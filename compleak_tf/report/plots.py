"""PNG plots of a study: log-log ROC curves, leakage against compression level and size."""
from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from compleak_tf import metrics
from compleak_tf.fileio import atomic_path

logger = logging.getLogger(__name__)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def _roc_panel(ax, curves: Sequence[tuple[str, np.ndarray, np.ndarray]], title: str,
               num_non_members: int) -> None:
    floor = 1.0 / max(1, num_non_members)
    for label, scores, membership in curves:
        roc = metrics.roc_curve(scores, membership)
        auc = metrics.roc_auc(scores, membership)
        ax.plot(np.maximum(roc.fpr, floor), np.maximum(roc.tpr, floor),
                label=f"{label} (AUC {auc:.3f})", linewidth=1.2)
    grid = np.logspace(np.log10(floor), 0, 50)
    ax.plot(grid, grid, "k:", linewidth=0.8, label="chance")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor, 1)
    ax.set_ylim(floor, 1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")


def roc_curves_plot(curves: Sequence[tuple[str, np.ndarray]], membership: np.ndarray,
                    path: Path, title: str) -> Path:
    """One log-log ROC panel of named score vectors on the same examples."""
    plt = _pyplot()
    membership = np.asarray(membership, dtype=bool)
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    _roc_panel(ax, [(name, scores, membership) for name, scores in curves], title,
               int((~membership).sum()))
    return _save(fig, path)


def roc_plot(seed_result: Any, table: dict, path: Path) -> Path:
    """Three log-log ROC panels (NR, SR, MR) for one seed's victim."""
    plt = _pyplot()
    scores = seed_result.scores
    membership = scores.membership.astype(bool)
    nr = [(f"{row['scheme']}: {row['nr_attack']}", scores.nr[row["scheme"]][row["nr_attack"]],
           membership) for row in table["nr"]]
    sr = [("control (original twice)", scores.control, membership)]
    sr += [(f"SR {s}", v, membership) for s, v in scores.sr.items()]
    original = table["nr"][0]
    mr = [(f"NR original: {original['nr_attack']}",
           scores.nr["original"][original["nr_attack"]], membership),
          ("SR control", scores.control, membership)]
    mr += [(name, v, membership) for name, v in scores.mr.items()]
    panels = [("NR: strongest attack per model", nr), ("SR: original + one compressed", sr)]
    if scores.mr:
        panels.append(("MR: several compressed models", mr))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.8))
    for ax, (title, curves) in zip(np.atleast_1d(axes), panels):
        _roc_panel(ax, curves, title, int((~membership).sum()))
    fig.suptitle(f"ROC on the victim's examples ({seed_result.run.name})")
    return _save(fig, path)


def _level(scheme: str) -> tuple[str, float] | None:
    """(family, compression level) of a single-step scheme; None for compounds."""
    if scheme == "original":
        return None
    match = re.fullmatch(r"prune(\d+)", scheme)
    if match:
        return "pruning", float(match.group(1))
    match = re.fullmatch(r"cluster(\d+)", scheme)
    if match:
        return "clustering", float(match.group(1))
    if scheme in ("ptq-float16", "ptq-dynamic", "qat-int8", "ptq-int8"):
        return "quantization", {"ptq-float16": 16, "ptq-dynamic": 8.5, "qat-int8": 8,
                                "ptq-int8": 7.5}[scheme]
    return None


def _sr_auc(table: dict) -> dict[str, float]:
    return {row["attack"].split(" ", 1)[1]: row["figures"]["auc"]["mean"]
            for row in table["multi"] if row["attack"].startswith("SR ")
            and row["attack"] != "SR control"}


def leakage_vs_compression(table: dict, path: Path) -> Path:
    """Per family: NR and SR AUC and NR TPR@1%FPR against compression level; accuracy on a
    second axis. The original is drawn at 0 % sparsity, or as a horizontal line."""
    plt = _pyplot()
    rows = {row["scheme"]: row for row in table["nr"]}
    sr_auc = _sr_auc(table)
    families: dict[str, list[tuple[float, str]]] = {}
    for scheme in rows:
        level = _level(scheme)
        if level:
            families.setdefault(level[0], []).append((level[1], scheme))
    if not families:
        families["other"] = [(i, s) for i, s in enumerate(rows) if s != "original"]
    fig, axes = plt.subplots(1, len(families), figsize=(5.2 * len(families), 4.2),
                             squeeze=False)
    original = rows["original"]
    for ax, (family, members) in zip(axes[0], sorted(families.items())):
        members.sort()
        labels = [s for _, s in members]
        xs = np.arange(len(labels))
        ax.plot(xs, [rows[s]["nr"]["auc"]["mean"] for s in labels], "o-", label="NR AUC")
        ax.plot(xs, [sr_auc.get(s, np.nan) for s in labels], "s-", label="SR AUC")
        ax.plot(xs, [rows[s]["nr"]["tpr_at_fpr@0.01"]["mean"] for s in labels], "^-",
                label="NR TPR@1%FPR")
        ax.axhline(original["nr"]["auc"]["mean"], color="C0", linestyle=":",
                   label="NR AUC, original")
        ax.set_xticks(xs, labels, rotation=30, fontsize=8)
        ax.set_ylabel("leakage")
        ax.set_title(family)
        twin = ax.twinx()
        twin.plot(xs, [rows[s]["held_out_accuracy"]["mean"] for s in labels], "k--",
                  label="held-out accuracy")
        twin.axhline(original["held_out_accuracy"]["mean"], color="k", linestyle=":",
                     linewidth=0.8)
        twin.set_ylabel("held-out accuracy")
        handles = ax.get_legend_handles_labels()
        more = twin.get_legend_handles_labels()
        ax.legend(handles[0] + more[0], handles[1] + more[1], fontsize=7, loc="best")
    fig.suptitle("Leakage and accuracy against compression level")
    fig.tight_layout()
    return _save(fig, path)


def leakage_vs_size(table: dict, path: Path) -> Path:
    """NR and SR AUC against the gzip size of each .tflite."""
    plt = _pyplot()
    sr_auc = _sr_auc(table)
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for row in table["nr"]:
        size = row["gzip_bytes"] / 1024
        ax.scatter(size, row["nr"]["auc"]["mean"], color="C0")
        ax.annotate(row["scheme"], (size, row["nr"]["auc"]["mean"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
        if row["scheme"] in sr_auc:
            ax.scatter(size, sr_auc[row["scheme"]], color="C1", marker="s")
    ax.scatter([], [], color="C0", label="NR (strongest attack)")
    ax.scatter([], [], color="C1", marker="s", label="SR (original + this model)")
    ax.set_xscale("log")
    ax.set_xlabel("gzip size of the .tflite (KB)")
    ax.set_ylabel("attack AUC")
    ax.legend(fontsize=8)
    ax.set_title("Leakage against deployed size")
    return _save(fig, path)


def write_plots(first_seed: Any, table: dict, directory: Path) -> dict[str, Path]:
    directory = Path(directory)
    return {"roc": roc_plot(first_seed, table, directory / "roc.png"),
            "leakage_vs_compression": leakage_vs_compression(
                table, directory / "leakage_vs_compression.png"),
            "leakage_vs_size": leakage_vs_size(table, directory / "leakage_vs_size.png")}
