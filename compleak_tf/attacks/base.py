"""What every single-model (CompLeakNR) attack shares: its inputs, its config and its interface.

An attack reads an `AttackInputs` and returns one membership score per target example, higher
meaning "more likely a member". Figures are computed from those scores by compleak_tf.metrics.
"""
from __future__ import annotations

import dataclasses
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)


def _as_tuple(items: Sequence[Any] | None) -> tuple[Any, ...]:
    return tuple(items) if items is not None else ()


@dataclass(frozen=True)
class AttackInputs:
    """Everything a CompLeakNR attack may read, for one target model.

    Attributes:
      target: the attacked model's outputs on the evaluated examples (victim members and
        non-members; membership is used only to evaluate, never by an attack).
      shadow: a shadow model's outputs on its own members and non-members, membership known;
        metric-based and learned attacks calibrate on it. For a compressed target, pass the
        shadow compressed the same way.
      references_on_target: reference models' outputs on the target examples, each aligned
        with `target` by indices (reference-based attacks; usually the shadows, compressed like
        the target).
      reference_membership_on_target: for each reference, a bool array over the target
        examples, True where that reference was trained on the example. None means no
        reference saw any target example (the offline setting). The references' own
        `membership` fields are not read, because their meaning depends on how they were
        harvested.
      population_target: the target model's outputs on population data z (RMIA), e.g. the
        shadow's data.
      population_references: each reference's outputs on the same population examples, aligned
        with `population_target`, in the order of `references_on_target`.
      num_classes: the dataset's class count; every output must have this width (defaults to
        the target's width).
    """

    target: ModelOutputs
    shadow: ModelOutputs | None = None
    references_on_target: Sequence[ModelOutputs] = ()
    reference_membership_on_target: Sequence[np.ndarray] | None = None
    population_target: ModelOutputs | None = None
    population_references: Sequence[ModelOutputs] = ()
    num_classes: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "references_on_target", _as_tuple(self.references_on_target))
        object.__setattr__(self, "population_references",
                           _as_tuple(self.population_references))
        if self.reference_membership_on_target is not None:
            masks = tuple(np.asarray(m) for m in self.reference_membership_on_target)
            object.__setattr__(self, "reference_membership_on_target", masks)
        if self.num_classes is None:
            object.__setattr__(self, "num_classes", self.target.num_classes)
        self.validate()

    def _all_outputs(self) -> list[ModelOutputs]:
        outputs = [self.target, *self.references_on_target, *self.population_references]
        outputs += [o for o in (self.shadow, self.population_target) if o is not None]
        return outputs

    def validate(self) -> None:
        """Checks widths, finiteness, alignment and masks; raises CompleakError naming them."""
        if len(self.target) == 0:
            raise CompleakError(f"{self.target.name or 'target'} has no examples to attack")
        for outputs in self._all_outputs():
            outputs.validate()
            label = outputs.name or "model outputs"
            if outputs.num_classes != self.num_classes:
                raise CompleakError(
                    f"{label} has {outputs.num_classes} outputs per example but the dataset has "
                    f"{self.num_classes} classes; harvest the model trained on this dataset"
                )
            if outputs.probs.size and outputs.probs.min() < -1e-6:
                raise CompleakError(f"{label} has negative outputs; attacks need softmax "
                                    "probabilities, not logits")
        if self.shadow is not None and len(self.shadow) == 0:
            raise CompleakError(f"{self.shadow.name or 'shadow'} has no examples to fit on")
        for reference in self.references_on_target:
            self.target.aligned_with(reference)
        if self.reference_membership_on_target is not None:
            masks = self.reference_membership_on_target
            if len(masks) != len(self.references_on_target):
                raise CompleakError(
                    f"{len(masks)} reference membership masks for "
                    f"{len(self.references_on_target)} reference models; give one per reference"
                )
            for i, mask in enumerate(masks):
                if mask.shape != (len(self.target),) or mask.dtype != bool:
                    raise CompleakError(
                        f"reference membership mask {i} has shape {mask.shape} and dtype "
                        f"{mask.dtype}; expected bool of shape ({len(self.target)},)"
                    )
        if self.population_references and self.population_target is None:
            raise CompleakError("population_references were given without population_target")
        if self.population_target is not None:
            if len(self.population_references) != len(self.references_on_target):
                raise CompleakError(
                    f"{len(self.population_references)} references on the population but "
                    f"{len(self.references_on_target)} on the target; give the same models, "
                    "in the same order, for both"
                )
            for reference in self.population_references:
                self.population_target.aligned_with(reference)

    @staticmethod
    def membership_of(references: Sequence[ModelOutputs]) -> tuple[np.ndarray, ...]:
        """Each reference's own `membership` field as a mask, for outputs whose membership
        was harvested relative to the reference model (as compleak_tf.inference does)."""
        return tuple(np.asarray(r.membership, dtype=bool) for r in references)

    @property
    def num_references(self) -> int:
        return len(self.references_on_target)

    def reference_in_mask(self) -> np.ndarray:
        """(num_references, n_target) bool, True where a reference trained on the example."""
        if self.reference_membership_on_target is None:
            return np.zeros((self.num_references, len(self.target)), dtype=bool)
        return np.stack(self.reference_membership_on_target).reshape(self.num_references,
                                                                     len(self.target))


@dataclass(frozen=True)
class AttackConfig:
    """Base of every attack's config: a small frozen dataclass that validates itself."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raises CompleakError naming the first bad field (nothing to check here)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (v.value if hasattr(v, "value") else v)
                for f, v in ((f, getattr(self, f.name)) for f in dataclasses.fields(self))}

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None, attack: str = "") -> "AttackConfig":
        """Builds the config from a mapping; unknown keys are an error listing the known ones."""
        options = dict(options or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise CompleakError(
                f"attack {attack or cls.__name__} has no option {', '.join(unknown)}; known "
                f"options: {', '.join(known) or 'none'}"
            )
        try:
            return cls(**options)
        except (TypeError, ValueError) as err:
            raise CompleakError(f"attack {attack or cls.__name__}: bad option ({err})") from err


class Attack(ABC):
    """A CompLeakNR membership-inference attack on one model.

    Subclasses set `name` (the registry key), `paper`, `config_class`, and the inputs they
    need; `score` returns one float64 score per target example (higher = member).
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    config_class: ClassVar[type[AttackConfig]] = AttackConfig
    needs_shadow: ClassVar[bool] = False
    needs_references: ClassVar[bool] = False
    needs_population: ClassVar[bool] = False
    needs_reference_members: ClassVar[bool] = False

    def __init__(self, config: AttackConfig | None = None) -> None:
        config = config if config is not None else self.config_class()
        if not isinstance(config, self.config_class):
            raise CompleakError(f"attack {self.name} takes a {self.config_class.__name__}, got "
                                f"{type(config).__name__}")
        config.validate()
        self.config = config

    def missing_inputs(self, inputs: AttackInputs) -> str | None:
        """Why this attack cannot run on `inputs`, or None when it can."""
        if self.needs_shadow and inputs.shadow is None:
            return "it needs shadow outputs (AttackInputs.shadow)"
        if self.needs_references and inputs.num_references == 0:
            return "it needs reference models' outputs on the target examples"
        if self.needs_population and inputs.population_target is None:
            return ("it needs the target's and the references' outputs on population data "
                    "(AttackInputs.population_target / population_references)")
        if self.needs_reference_members and not inputs.reference_in_mask().any():
            return ("it needs reference models trained on some target examples "
                    "(AttackInputs.reference_membership_on_target)")
        return None

    def run(self, inputs: AttackInputs) -> np.ndarray:
        """Checks the inputs, then scores every target example; returns (n,) float64."""
        missing = self.missing_inputs(inputs)
        if missing is not None:
            raise CompleakError(f"attack {self.name} cannot run: {missing}")
        scores = np.asarray(self.score(inputs), dtype=np.float64)
        if scores.shape != (len(inputs.target),) or not np.all(np.isfinite(scores)):
            raise CompleakError(f"attack {self.name} produced invalid scores; its inputs are "
                                "degenerate (e.g. constant outputs)")
        return scores

    @abstractmethod
    def score(self, inputs: AttackInputs) -> np.ndarray:
        """(n_target,) membership scores, higher = more likely member."""

    @property
    def decision_threshold(self) -> float | None:
        """A threshold fixed without the target's membership (scores >= it are called members),
        or None when the attack has no natural one. Valid after `score`."""
        return None
