"""Running the CompLeakNR attacks on one target, and saving every per-example score.

The saved scores (.npz and .csv: dataset index, label, membership, one column per attack) are
enough for any other tool to recompute every figure of the metrics JSON.
"""
from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from compleak_tf import metrics
from compleak_tf.attacks.base import AttackInputs
from compleak_tf.attacks.registry import attack_class, attack_names, make_attack
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import load_npz, save_npz, write_bytes, write_json

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttackResult:
    """One attack's scores on the target examples and the figures computed from them.

    Attributes:
      attack: registry name.
      scores: (n,) float64 scores, in the order of the target's examples.
      metrics: the figures (members are the target's membership).
      config: the attack's config as plain data.
      decision_threshold: the attack's own threshold, fixed without target membership, or None.
      seconds: wall time of scoring (without the metrics).
    """

    attack: str
    scores: np.ndarray
    metrics: metrics.AttackMetrics
    config: dict[str, Any]
    decision_threshold: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"attack": self.attack, "paper": attack_class(self.attack).paper,
                "config": self.config, "decision_threshold": self.decision_threshold,
                "seconds": round(self.seconds, 4), "metrics": self.metrics.to_dict()}


@dataclass(frozen=True)
class NRResults:
    """All NR attacks on one target model.

    Attributes:
      target: the target outputs' name.
      indices, labels, membership: the target examples, in score order.
      results: attack name -> AttackResult, in the order run.
      skipped: attack name -> why it could not run on these inputs.
    """

    target: str
    indices: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    results: dict[str, AttackResult]
    skipped: dict[str, str] = field(default_factory=dict)

    def scores(self, attack: str) -> np.ndarray:
        """The scores of `attack`; CompleakError naming the attacks that ran otherwise."""
        if attack not in self.results:
            raise CompleakError(f"attack {attack!r} was not run on {self.target}; ran: "
                                f"{', '.join(self.results) or 'none'}")
        return self.results[attack].scores

    def to_dict(self) -> dict[str, Any]:
        """Metrics and settings of every attack as plain JSON-serialisable data (no scores)."""
        return {"target": self.target, "num_examples": int(len(self.indices)),
                "attacks": {name: r.to_dict() for name, r in self.results.items()},
                "skipped": dict(self.skipped)}


def run_nr_attacks(inputs: AttackInputs, names: Sequence[str] | None = None, *,
                   options: Mapping[str, Mapping[str, Any]] | None = None,
                   metrics_config: metrics.MetricsConfig | None = None) -> NRResults:
    """Runs the selected NR attacks on one target and evaluates each against its membership.

    Args:
      inputs: target, shadow, references and population outputs (see AttackInputs).
      names: attack names to run; None runs every registered attack whose inputs are present
        and records the others in `skipped`. A named attack that cannot run is an error.
      options: per-attack config options, e.g. {"shokri_rf": {"n_estimators": 100}}.
      metrics_config: target FPRs, bootstrap and strictness (defaults: MetricsConfig()).

    Returns:
      NRResults with every attack's scores and AttackMetrics.
    """
    options = dict(options or {})
    metrics_config = metrics_config or metrics.MetricsConfig()
    explicit = names is not None
    names = list(names) if explicit else attack_names()
    unknown_options = sorted(set(options) - set(names))
    if unknown_options:
        raise CompleakError(f"options given for attacks that are not run: "
                            f"{', '.join(unknown_options)}; run: {', '.join(names)}")
    # Build every attack before running any, so a bad name or option fails at once.
    attacks = {name: make_attack(name, options.get(name)) for name in names}

    target = inputs.target
    membership = target.membership.astype(bool)
    metrics.check_target_fprs(metrics_config.target_fprs, int((~membership).sum()),
                              strict=metrics_config.strict)
    results: dict[str, AttackResult] = {}
    skipped: dict[str, str] = {}
    for name, attack in attacks.items():
        missing = attack.missing_inputs(inputs)
        if missing is not None:
            if explicit:
                raise CompleakError(f"attack {name} cannot run: {missing}")
            logger.info("skipping %s: %s", name, missing)
            skipped[name] = missing
            continue
        started = time.perf_counter()
        scores = attack.run(inputs)
        seconds = time.perf_counter() - started
        figures = metrics.evaluate(scores, membership, attack=name, config=metrics_config,
                                   threshold=attack.decision_threshold, warn=False)
        logger.info("%s on %s: AUC %.3f, balanced accuracy %.3f (%.2f s)", name,
                    target.name or "target", figures.auc.value,
                    figures.balanced_accuracy.value, seconds)
        results[name] = AttackResult(name, scores, figures, attack.config.to_dict(),
                                     attack.decision_threshold, seconds)
    return NRResults(target.name, np.asarray(target.indices), np.asarray(target.labels),
                     membership, results, skipped)


def compare(results_a: NRResults, results_b: NRResults, attack: str,
            metric: metrics.Metric | str = metrics.Metric.AUC, *,
            target_fpr: float | None = None, n_bootstrap: int = 1000, confidence: float = 0.95,
            seed: int = 0) -> metrics.PairedDifference:
    """Paired bootstrap of metric(a) - metric(b) for one attack on two targets' same examples.

    Use it for a compressed model (a) against the original (b); both must cover the same
    examples in the same order with the same membership.
    """
    if (not np.array_equal(results_a.indices, results_b.indices)
            or not np.array_equal(results_a.membership, results_b.membership)):
        raise CompleakError(f"{results_a.target} and {results_b.target} were attacked on "
                            "different examples; harvest both on the victim's examples")
    return metrics.paired_bootstrap(results_a.scores(attack), results_b.scores(attack),
                                    results_a.membership, metric, target_fpr=target_fpr,
                                    n_bootstrap=n_bootstrap, confidence=confidence, seed=seed)


def write_scores_npz(path: str | Path, results: NRResults) -> Path:
    """Writes index, label, membership and one float64 array per attack (key = attack name)."""
    arrays = {"index": np.asarray(results.indices), "label": np.asarray(results.labels),
              "membership": np.asarray(results.membership, dtype=bool)}
    clash = sorted(set(arrays) & set(results.results))
    if clash:
        raise CompleakError(f"attack names {clash} clash with the score file's columns")
    arrays.update({name: r.scores for name, r in results.results.items()})
    return save_npz(path, **arrays)


def read_scores_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays written by `write_scores_npz`."""
    return load_npz(path)


def write_scores_csv(path: str | Path, results: NRResults) -> Path:
    """Writes one row per example: index, label, membership (0/1), one score column per attack.

    Scores are written with 17 significant digits, so they read back bit-exact.
    """
    names = list(results.results)
    table = np.column_stack([np.asarray(results.indices, dtype=np.float64),
                             np.asarray(results.labels, dtype=np.float64),
                             np.asarray(results.membership, dtype=np.float64),
                             *(results.results[name].scores for name in names)])
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt=["%d", "%d", "%d"] + ["%.17g"] * len(names), delimiter=",",
               header=",".join(["index", "label", "membership", *names]), comments="")
    return write_bytes(path, buffer.getvalue().encode("utf-8"))


def save_results(results: NRResults, directory: str | Path, stem: str = "nr") -> dict[str, Path]:
    """Writes <stem>_scores.npz, <stem>_scores.csv and <stem>_metrics.json into `directory`."""
    directory = Path(directory)
    return {
        "scores_npz": write_scores_npz(directory / f"{stem}_scores.npz", results),
        "scores_csv": write_scores_csv(directory / f"{stem}_scores.csv", results),
        "metrics_json": write_json(directory / f"{stem}_metrics.json", results.to_dict()),
    }
