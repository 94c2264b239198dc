"""The results table: leakage of every compression scheme under NR, SR and MR.

Every figure is computed from the per-example scores the attack stage saved. With several
seeds, a figure is the mean over seeds, its spread the standard deviation across seeds, and its
95 % interval comes from averaging bootstrap replicate b of every seed (each seed's examples
resampled independently), which is the interval of the seed mean. Differences (a compressed
model against the original, SR against its label-aware control) use paired resamples of the
same examples; an interval that includes zero, or (with several seeds) a sign that differs
between seeds, is reported as no measurable difference.
"""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from compleak_tf import metrics
from compleak_tf.fileio import write_bytes, write_json

logger = logging.getLogger(__name__)

TARGET_FPRS = (0.001, 0.01)
FIGURES = (("auc", None), ("balanced_accuracy", None), ("tpr_at_fpr", 0.001),
           ("tpr_at_fpr", 0.01))

def _key(metric: str, fpr: float | None) -> str:
    return metric if fpr is None else f"{metric}@{fpr:g}"


def _summary(values: Sequence[float]) -> dict[str, Any]:
    return {"mean": float(np.mean(values)),
            "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "per_seed": [float(v) for v in values], "ci_low": None, "ci_high": None}


def figures(per_seed: Sequence[tuple[np.ndarray, np.ndarray]],
            wanted: Sequence[tuple[str, float | None]], n_bootstrap: int,
            confidence: float = 0.95) -> dict[str, dict[str, Any]]:
    """Mean, spread across seeds and bootstrap interval of several figures of one score set.

    Args:
      per_seed: (scores, membership) per seed.
      wanted: (metric, target_fpr) pairs.
    """
    out = {_key(m, f): _summary([metrics.point_value(m, s, ms, target_fpr=f)
                                 for s, ms in per_seed]) for m, f in wanted}
    if n_bootstrap > 0:
        reps = np.mean([metrics.bootstrap_replicates([s], ms, wanted, n_bootstrap=n_bootstrap,
                                                     seed=i)[0]
                        for i, (s, ms) in enumerate(per_seed)], axis=0)
        for (m, f), row in zip(wanted, reps):
            out[_key(m, f)]["ci_low"], out[_key(m, f)]["ci_high"] = \
                metrics.percentile_interval(row, confidence)
    return out


def differences(per_seed: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                wanted: Sequence[tuple[str, float | None]], n_bootstrap: int,
                confidence: float = 0.95) -> dict[str, dict[str, Any]]:
    """Paired differences metric(a) - metric(b) on the same examples, averaged over seeds.

    Args:
      per_seed: (scores_a, scores_b, membership) per seed.
      wanted: (metric, target_fpr) pairs.
    """
    out = {}
    for m, f in wanted:
        out[_key(m, f)] = _summary([metrics.point_value(m, a, ms, target_fpr=f)
                                    - metrics.point_value(m, b, ms, target_fpr=f)
                                    for a, b, ms in per_seed])
        out[_key(m, f)]["measurable"] = None
    if n_bootstrap > 0:
        deltas = []
        for i, (a, b, ms) in enumerate(per_seed):
            pair = metrics.bootstrap_replicates([a, b], ms, wanted, n_bootstrap=n_bootstrap,
                                                seed=i)
            deltas.append(pair[0] - pair[1])
        for (m, f), row in zip(wanted, np.mean(deltas, axis=0)):
            low, high = metrics.percentile_interval(row, confidence)
            per_seed_values = np.asarray(out[_key(m, f)]["per_seed"])
            # Resampling examples does not see training randomness: with several seeds, a
            # difference also needs the same sign in every seed to count as measurable.
            same_sign = bool(np.all(per_seed_values > 0) or np.all(per_seed_values < 0))
            out[_key(m, f)].update(ci_low=low, ci_high=high,
                                   measurable=bool((low > 0 or high < 0) and same_sign))
    return out


DELTAS = (("auc", None), ("tpr_at_fpr", 0.01))


def _all_figures(per_seed, n_bootstrap):
    return figures(per_seed, FIGURES, n_bootstrap)


def build_table(seeds: Sequence[Any], schemes: Sequence[str], n_bootstrap: int) -> dict:
    """Rows of the results table from the study's per-seed results.

    Args:
      seeds: SeedResult-like objects with .scores (RunScores), .sidecars, .train_records.
      schemes: table rows, 'original' first.
      n_bootstrap: bootstrap replicates per figure.
    """
    membership = [s.scores.membership.astype(bool) for s in seeds]
    metrics.check_target_fprs(TARGET_FPRS, int((~membership[0]).sum()))
    nr_rows, multi_rows = [], []
    original_best = None
    for scheme in schemes:
        attacks = list(seeds[0].scores.nr[scheme])
        mean_auc = {a: np.mean([metrics.point_value("auc", s.scores.nr[scheme][a], m)
                                for s, m in zip(seeds, membership)]) for a in attacks}
        best = max(attacks, key=lambda a: mean_auc[a])
        if scheme == "original":
            original_best = best
        per_seed = [(s.scores.nr[scheme][best], m) for s, m in zip(seeds, membership)]
        accuracy = [s.sidecars[scheme]["accuracy"] for s in seeds]
        held = [a["non_members"] for a in accuracy]
        gap = [a["members"] - a["non_members"] for a in accuracy]
        row = {
            "scheme": scheme,
            "held_out_accuracy": {"mean": float(np.mean(held)), "std": _std(held)},
            "gap": {"mean": float(np.mean(gap)), "std": _std(gap)},
            "size_bytes": int(np.mean([s.sidecars[scheme]["size_bytes"] for s in seeds])),
            "gzip_bytes": int(np.mean([s.sidecars[scheme]["gzip_bytes"] for s in seeds])),
            "nr_attack": best,
            "nr_auc_all_attacks": {a: float(v) for a, v in mean_auc.items()},
            "nr": _all_figures(per_seed, n_bootstrap),
        }
        if scheme != "original":
            # The same attack on the original model, same examples: a paired comparison.
            paired = [(s.scores.nr[scheme][best], s.scores.nr["original"][best], m)
                      for s, m in zip(seeds, membership)]
            row["nr_vs_original"] = differences(paired, DELTAS, n_bootstrap)
        nr_rows.append(row)

    control = [(s.scores.control, m) for s, m in zip(seeds, membership)]
    multi_rows.append({"attack": "SR control", "models": "original in both slots",
                       "figures": _all_figures(control, n_bootstrap)})
    for scheme in schemes[1:]:
        per_seed = [(s.scores.sr[scheme], m) for s, m in zip(seeds, membership)]
        multi_rows.append(_multi_row(f"SR {scheme}", f"original + {scheme}", per_seed, seeds,
                                     membership, n_bootstrap))
    for name in seeds[0].scores.mr:
        per_seed = [(s.scores.mr[name], m) for s, m in zip(seeds, membership)]
        info = seeds[0].scores.mr_info.get(name, {})
        row = _multi_row(name, ", ".join(info.get("models", [])), per_seed, seeds,
                         membership, n_bootstrap)
        row["meta_classifier"] = [s.scores.mr_info[name]["meta_classifier"] for s in seeds]
        row["shadow_cv_auc"] = [s.scores.mr_info[name]["shadow_cv_auc"] for s in seeds]
        multi_rows.append(row)
    return {"nr": nr_rows, "multi": multi_rows, "original_nr_attack": original_best,
            "seeds": [s.seed for s in seeds], "n_bootstrap": n_bootstrap,
            "num_members": int(membership[0].sum()),
            "num_non_members": int((~membership[0]).sum())}


def _std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _multi_row(name, models, per_seed, seeds, membership, n_bootstrap) -> dict:
    paired = [(scores, s.scores.control, m) for (scores, _), s, m in
              zip(per_seed, seeds, membership)]
    return {"attack": name, "models": models, "figures": _all_figures(per_seed, n_bootstrap),
            "vs_control": differences(paired, DELTAS, n_bootstrap)}


# Formatting.

def _fmt(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def format_figure(fig: dict, seeds: int) -> str:
    """'0.612 [0.590, 0.634]', with '± sd' across seeds when there are several."""
    text = _fmt(fig["mean"])
    if seeds > 1:
        text += f" ± {_fmt(fig['std'])}"
    if fig.get("ci_low") is not None:
        text += f" [{_fmt(fig['ci_low'])}, {_fmt(fig['ci_high'])}]"
    return text


def format_difference(diff: dict) -> str:
    """A paired difference; an interval that includes zero reads 'no measurable difference'."""
    text = f"{_fmt(diff['mean'], signed=True)}"
    if len(diff.get("per_seed", [])) > 1:
        text += f" ± {_fmt(diff['std'])}"
    if diff.get("ci_low") is not None:
        text += f" [{_fmt(diff['ci_low'], signed=True)}, {_fmt(diff['ci_high'], signed=True)}]"
    if diff.get("measurable") is False:
        text = f"no measurable difference ({text})"
    return text


def markdown(table: dict) -> str:
    """Both tables as Markdown, with a legend."""
    seeds = len(table["seeds"])
    lines = ["### Accuracy, size and single-model (NR) leakage", "",
             "| scheme | held-out acc | gap | .tflite KB | gzip KB | NR attack | AUC | "
             "bal. acc | TPR@0.1%FPR | TPR@1%FPR | ΔAUC vs original | ΔTPR@1% vs original |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in table["nr"]:
        nr = row["nr"]
        versus = row.get("nr_vs_original")
        lines.append(
            f"| {row['scheme']} | {_fmt(row['held_out_accuracy']['mean'])} | "
            f"{_fmt(row['gap']['mean'])} | {row['size_bytes'] / 1024:.1f} | "
            f"{row['gzip_bytes'] / 1024:.1f} | {row['nr_attack']} | "
            f"{format_figure(nr['auc'], seeds)} | {format_figure(nr['balanced_accuracy'], seeds)}"
            f" | {format_figure(nr['tpr_at_fpr@0.001'], seeds)} | "
            f"{format_figure(nr['tpr_at_fpr@0.01'], seeds)} | "
            f"{format_difference(versus['auc']) if versus else '-'} | "
            f"{format_difference(versus['tpr_at_fpr@0.01']) if versus else '-'} |")
    lines += ["", "### Several versions of the model: SR, its control, MR", "",
              "| attack | models | AUC | bal. acc | TPR@0.1%FPR | TPR@1%FPR | "
              "ΔAUC vs control | ΔTPR@1% vs control |", "|---|---|---|---|---|---|---|---|"]
    for row in table["multi"]:
        fig = row["figures"]
        versus = row.get("vs_control")
        models = row["models"]
        if "meta_classifier" in row:
            models += f" (meta: {', '.join(sorted(set(row['meta_classifier'])))})"
        lines.append(
            f"| {row['attack']} | {models} | {format_figure(fig['auc'], seeds)} | "
            f"{format_figure(fig['balanced_accuracy'], seeds)} | "
            f"{format_figure(fig['tpr_at_fpr@0.001'], seeds)} | "
            f"{format_figure(fig['tpr_at_fpr@0.01'], seeds)} | "
            f"{format_difference(versus['auc']) if versus else '-'} | "
            f"{format_difference(versus['tpr_at_fpr@0.01']) if versus else '-'} |")
    lines += ["", f"{table['num_members']} members and {table['num_non_members']} non-members "
              f"of the victim per seed; seeds {table['seeds']}; {table['n_bootstrap']} "
              "bootstrap resamples. Figures: mean"
              + (" ± sd across seeds" if seeds > 1 else "")
              + " [95 % bootstrap interval]. NR attack: the strongest of all NR attacks on "
              "that model (by mean AUC on the evaluation examples); Δ vs original uses the same "
              "attack on the original model, paired on the same examples. SR control: SR2 "
              "features and forest with the original model in both slots (what the label alone "
              "adds). A difference counts as measurable when its interval excludes zero and, with "
              "several seeds, it has the same sign in every seed. TPR@FPR: largest TPR whose "
              "FPR is at most the target."]
    return "\n".join(lines) + "\n"


def csv_text(table: dict) -> str:
    """One CSV row per table row, every figure with its interval and spread."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["section", "name", "models", "held_out_accuracy", "gap", "size_bytes",
              "gzip_bytes", "attack"]
    for m, f in FIGURES:
        k = _key(m, f)
        header += [k, f"{k}_std", f"{k}_ci_low", f"{k}_ci_high"]
    header += ["delta_auc", "delta_auc_ci_low", "delta_auc_ci_high", "delta_tpr_at_fpr@0.01",
               "delta_tpr_ci_low", "delta_tpr_ci_high", "delta_against"]
    writer.writerow(header)

    def figures(figs):
        out = []
        for m, f in FIGURES:
            fig = figs[_key(m, f)]
            out += [fig["mean"], fig["std"], fig["ci_low"], fig["ci_high"]]
        return out

    def deltas(d, against):
        if not d:
            return [None] * 6 + [None]
        a, t = d["auc"], d["tpr_at_fpr@0.01"]
        return [a["mean"], a["ci_low"], a["ci_high"], t["mean"], t["ci_low"], t["ci_high"],
                against]

    for row in table["nr"]:
        writer.writerow(["nr", row["scheme"], row["scheme"],
                         row["held_out_accuracy"]["mean"], row["gap"]["mean"],
                         row["size_bytes"], row["gzip_bytes"], row["nr_attack"]]
                        + figures(row["nr"]) + deltas(row.get("nr_vs_original"), "original"))
    for row in table["multi"]:
        writer.writerow(["multi", row["attack"], row["models"], None, None, None, None,
                         row["attack"].split(" ")[0]]
                        + figures(row["figures"]) + deltas(row.get("vs_control"), "control"))
    return buffer.getvalue()


def write_table(table: dict, directory: Path, extra: dict | None = None) -> dict[str, Path]:
    """Writes table3.md, table3.csv and table3.json into `directory` (atomically)."""
    directory = Path(directory)
    return {
        "md": write_bytes(directory / "table3.md", markdown(table).encode("utf-8")),
        "csv": write_bytes(directory / "table3.csv", csv_text(table).encode("utf-8")),
        "json": write_json(directory / "table3.json", {**table, **(extra or {})}),
    }
