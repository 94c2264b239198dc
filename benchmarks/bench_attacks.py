"""Times every CompLeakNR attack and its metrics on synthetic softmax outputs.

Run: .venv/bin/python benchmarks/bench_attacks.py [--members 10000] [--references 4]

Target and shadow each have `members` members and as many non-members over 10 classes; the
references are scored on the target examples (each trained on a random half of them) and on a
population of `members` examples. Scoring time and metrics time (AUC, balanced accuracy and
TPR at 0.1 % / 1 % FPR with a 1,000-resample bootstrap) are printed as a table.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from compleak_tf import metrics
from compleak_tf.attacks import AttackInputs, ModelOutputs, attack_names, make_attack


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _model(rng: np.random.Generator, labels: np.ndarray, membership: np.ndarray,
           indices: np.ndarray, name: str) -> ModelOutputs:
    """Outputs of a synthetic model that is more confident on its members, in float32."""
    logits = rng.normal(size=(len(labels), 10)) * 1.5
    logits[np.arange(len(labels)), labels] += 2.0 + 1.5 * membership
    probs = _softmax(logits).astype(np.float32).astype(np.float64)
    return ModelOutputs(probs, labels, membership, indices, name)


def build_inputs(members: int, num_references: int, seed: int = 0) -> AttackInputs:
    """Synthetic target, shadow, references and population outputs."""
    rng = np.random.default_rng(seed)
    n = 2 * members
    membership = np.r_[np.ones(members, bool), np.zeros(members, bool)]
    target_labels = rng.integers(0, 10, n)
    target_idx = np.arange(n)
    target = _model(rng, target_labels, membership, target_idx, "target")
    shadow = _model(rng, rng.integers(0, 10, n), membership, np.arange(n, 2 * n), "shadow")
    masks = [rng.random(n) < 0.5 for _ in range(num_references)]
    references = [_model(rng, target_labels, mask, target_idx, f"ref{i}")
                  for i, mask in enumerate(masks)]
    # One reference that saw none of the target examples, so every example has an OUT one.
    references.append(_model(rng, target_labels, np.zeros(n, bool), target_idx, "out-ref"))
    masks.append(np.zeros(n, bool))
    pop_labels = rng.integers(0, 10, members)
    pop_idx = np.arange(2 * n, 2 * n + members)
    none = np.zeros(members, bool)
    population = _model(rng, pop_labels, none, pop_idx, "population")
    population_refs = [_model(rng, pop_labels, none, pop_idx, f"pop-ref{i}")
                       for i in range(len(references))]
    return AttackInputs(target, shadow, references, masks, population, population_refs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--references", type=int, default=4)
    parser.add_argument("--trees", type=int, default=500)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--bootstrap", type=int, default=1000)
    args = parser.parse_args()

    inputs = build_inputs(args.members, args.references)
    config = metrics.MetricsConfig(n_bootstrap=args.bootstrap)
    forest = {"n_estimators": args.trees, "n_jobs": args.n_jobs}
    print(f"{len(inputs.target)} target examples ({args.members} members), "
          f"{len(inputs.shadow)} shadow, {inputs.num_references} references, "
          f"{len(inputs.population_target)} population; {args.bootstrap} bootstrap resamples; "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{'attack':<18}{'score s':>10}{'metrics s':>11}{'AUC':>8}{'bal.acc':>9}"
          f"{'TPR@1%':>9}")
    total = 0.0
    for name in attack_names():
        attack = make_attack(name, forest if name.endswith("_rf") else None)
        started = time.perf_counter()
        scores = attack.run(inputs)
        scored = time.perf_counter() - started
        started = time.perf_counter()
        figures = metrics.evaluate(scores, inputs.target.membership, attack=name, config=config,
                                   threshold=attack.decision_threshold)
        evaluated = time.perf_counter() - started
        total += scored + evaluated
        print(f"{name:<18}{scored:>10.3f}{evaluated:>11.3f}{figures.auc.value:>8.3f}"
              f"{figures.balanced_accuracy.value:>9.3f}{figures.tpr(0.01).tpr.value:>9.3f}")
    print(f"{'total':<18}{total:>21.3f}")


if __name__ == "__main__":
    main()
