"""The attack stage of one run: NR on every scheme, SR (and its control), MR, as raw scores.

Scores of every attack on the victim's evaluation examples are kept per example, so that the
table (and any other tool) computes every figure from them. Attacks follow the threat model:
calibration, classifiers and reference models come from shadows compressed with the same
scheme as the attacked victim.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from compleak_tf.attacks import AttackInputs, run_nr_attacks
from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.attacks.multi import Classifier, MRAttack, SRAttack, SRFeatureSet
from compleak_tf.errors import CompleakError
from compleak_tf.inference.harvest import Harvester
from compleak_tf.metrics import MetricsConfig

logger = logging.getLogger(__name__)

CONTROL = "control"


@dataclass
class RunScores:
    """Per-example attack scores of one run on the victim's evaluation examples.

    Attributes:
      indices, labels, membership: the evaluation examples, in score order.
      nr: scheme -> attack name -> scores.
      sr: scheme -> SR scores (original + that compressed model).
      control: SR features and classifier with the original model in both slots.
      mr: MR name -> scores; mr_info: MR name -> what was stacked and chosen.
      nr_skipped: attacks that could not run, with the reason.
    """

    indices: np.ndarray
    labels: np.ndarray
    membership: np.ndarray
    nr: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sr: dict[str, np.ndarray] = field(default_factory=dict)
    control: np.ndarray | None = None
    mr: dict[str, np.ndarray] = field(default_factory=dict)
    mr_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    nr_skipped: dict[str, str] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array mapping for an .npz file ('nr/<scheme>/<attack>', 'sr/...')."""
        out = {"index": self.indices, "label": self.labels, "membership": self.membership}
        for scheme, attacks in self.nr.items():
            out.update({f"nr/{scheme}/{name}": s for name, s in attacks.items()})
        out.update({f"sr/{scheme}": s for scheme, s in self.sr.items()})
        out.update({f"mr/{name}": s for name, s in self.mr.items()})
        if self.control is not None:
            out[CONTROL] = self.control
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], mr_info: dict,
                    nr_skipped: dict) -> "RunScores":
        scores = cls(arrays["index"], arrays["label"], arrays["membership"].astype(bool),
                     mr_info=dict(mr_info), nr_skipped=dict(nr_skipped))
        for key, value in arrays.items():
            parts = key.split("/")
            if parts[0] == "nr":
                scores.nr.setdefault(parts[1], {})[parts[2]] = value
            elif parts[0] == "sr":
                scores.sr[parts[1]] = value
            elif parts[0] == "mr":
                scores.mr[parts[1]] = value
            elif key == CONTROL:
                scores.control = value
        return scores


def mr_name(schemes: Sequence[str], with_original: bool) -> str:
    """Row name of an MR attack, e.g. 'MR(prune60,prune70)' or 'MR-no-original(...)'."""
    return f"{'MR' if with_original else 'MR-no-original'}({','.join(schemes)})"


class RunAttacks:
    """Runs the attacks of one run over harvested outputs (harvesting on first use)."""

    def __init__(self, harvester: Harvester, *, forest_trees: int = 500, seed: int = 0,
                 nr_attacks: Sequence[str] | None = None,
                 sr_features: SRFeatureSet | str = SRFeatureSet.SR2,
                 sr_classifier: Classifier | str = Classifier.FOREST) -> None:
        self.h = harvester
        self.shadows = harvester.run.split.shadow_roles
        self.forest_trees = int(forest_trees)
        self.seed = int(seed)
        self.nr_attacks = list(nr_attacks) if nr_attacks else None
        self.sr_features = SRFeatureSet(sr_features)
        self.sr_classifier = Classifier(sr_classifier)

    def evaluation(self, scheme: str) -> ModelOutputs:
        """The victim compressed with `scheme`, on its members and non-members."""
        return self.h.on_victim_examples("victim", scheme)

    def nr(self, scheme: str):
        """Every NR attack on victim/`scheme`, calibrated on shadows with the same scheme."""
        target = self.evaluation(scheme)
        references = [self.h.on_victim_examples(s, scheme) for s in self.shadows]
        population = len(self.h.run.split.population) > 0
        inputs = AttackInputs(
            target=target,
            shadow=self.h.own(self.shadows[0], scheme),
            references_on_target=references,
            reference_membership_on_target=AttackInputs.membership_of(references),
            population_target=self.h.on_population("victim", scheme) if population else None,
            population_references=([self.h.on_population(s, scheme) for s in self.shadows]
                                   if population else ()),
            num_classes=self.h.run.dataset.num_classes)
        options = {name: {"n_estimators": self.forest_trees}
                   for name in ("shokri_rf", "nasr_rf")
                   if self.nr_attacks is None or name in self.nr_attacks}
        return run_nr_attacks(inputs, self.nr_attacks, options=options,
                              metrics_config=MetricsConfig(n_bootstrap=0))

    def _sr(self, compressed_slot: str) -> np.ndarray:
        pairs = [(self.h.own(s, "original"), self.h.own(s, compressed_slot))
                 for s in self.shadows]
        attack = SRAttack(self.sr_features, self.sr_classifier, seed=self.seed,
                          n_estimators=self.forest_trees)
        attack.fit(pairs)
        return attack.score(self.evaluation("original"), self.evaluation(compressed_slot))

    def sr(self, scheme: str) -> np.ndarray:
        """The SR attack (SR2 with a random forest by default) on (original, `scheme`)."""
        if scheme == "original":
            raise CompleakError("SR compares the original with a compressed scheme; name one")
        return self._sr(scheme)

    def control(self) -> np.ndarray:
        """The SR attack with the original model in both slots: what the label alone adds."""
        return self._sr("original")

    def mr(self, schemes: Sequence[str], with_original: bool):
        """MR over `schemes` with (or without) the original model."""
        compressed = [s for s in schemes if s != "original"]
        if len(compressed) < 2:
            raise CompleakError("MR needs at least two compressed schemes; name them with "
                                "--schemes")
        attack = MRAttack(with_original=with_original, seed=self.seed,
                          n_estimators=self.forest_trees)
        shadow_original = ([self.h.own(s, "original") for s in self.shadows]
                           if with_original else None)
        shadow_compressed = [[self.h.own(s, c) for s in self.shadows] for c in compressed]
        victim_original = self.evaluation("original") if with_original else None
        return attack.run(shadow_original, shadow_compressed, victim_original,
                          [self.evaluation(c) for c in compressed])

    def all(self, schemes: Sequence[str], mr_schemes: Sequence[str]) -> RunScores:
        """NR on every scheme, SR on every compressed one, the control and both MR variants."""
        base = self.evaluation("original")
        scores = RunScores(base.indices, base.labels, base.membership)
        for scheme in schemes:
            results = self.nr(scheme)
            scores.nr[scheme] = {name: r.scores for name, r in results.results.items()}
            scores.nr_skipped.update(results.skipped)
        for scheme in schemes:
            if scheme != "original":
                scores.sr[scheme] = self.sr(scheme)
        scores.control = self.control()
        if mr_schemes:
            for with_original in (True, False):
                result = self.mr(mr_schemes, with_original)
                name = mr_name([s for s in mr_schemes if s != "original"], with_original)
                scores.mr[name] = result.scores
                scores.mr_info[name] = result.summary()
        return scores
