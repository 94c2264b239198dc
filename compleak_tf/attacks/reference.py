"""Reference-model attacks: RMIA (offline) and LiRA (offline and online).

Both compare the target model's behaviour on an example with reference models' behaviour on
the same example. References are usually the shadow models (compressed like the target when
the target is compressed). Which references trained on which target example is given by
AttackInputs.reference_membership_on_target; without it every reference counts as OUT.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum

import numpy as np

from compleak_tf.attacks import signals
from compleak_tf.attacks.base import Attack, AttackConfig, AttackInputs
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)


def _missing_out_reference(inputs: AttackInputs) -> str | None:
    """Why an offline attack cannot run: some target example has no OUT reference."""
    if inputs.num_references == 0:
        return None
    lacking = int(inputs.reference_in_mask().all(axis=0).sum())
    if lacking:
        return (f"{lacking} target examples have no reference that did not train on them; "
                "offline attacks need at least one OUT reference per example")
    return None


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean of values[mask] over rows; (mean with NaN where empty, count)."""
    count = mask.sum(axis=0)
    total = np.where(mask, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


# ----------------------------------------------------------------------------- RMIA


@dataclass(frozen=True)
class RmiaConfig(AttackConfig):
    """RMIA offline settings.

    Attributes:
      a: offline scaling in [0, 1]: Pr(x) = ((1 + a) * mean OUT-reference p_y(x) + (1 - a)) / 2
        approximates the average over IN and OUT references (a = 1: OUT references only).
      gamma: likelihood-ratio margin > 0; x beats z when ratio(x) / ratio(z) > gamma.
    """

    a: float = 0.5
    gamma: float = 1.0

    def validate(self) -> None:
        if not 0.0 <= float(self.a) <= 1.0:
            raise CompleakError(f"RMIA a is {self.a}; it must lie in [0, 1] (default 0.5)")
        if not float(self.gamma) > 0.0:
            raise CompleakError(f"RMIA gamma is {self.gamma}; it must be > 0 (default 1)")


class RmiaOffline(Attack):
    """Robust membership inference, offline (Zarifzadeh et al., "Low-Cost High-Power
    Membership Inference Attacks", ICML 2024).

    For example x with label y, ratio(x) = p_target(y|x) / Pr(x), where Pr(x) is the offline
    estimate from the OUT references (see RmiaConfig.a). Population examples z get the same
    ratio, with every reference treated as OUT on them. The score is the fraction of z with
    ratio(x) / ratio(z) > gamma, a number in [0, 1]. Probabilities are clipped at float32's
    smallest normal number so no ratio divides by zero.
    """

    name = "rmia"
    paper = "Zarifzadeh et al., Low-Cost High-Power Membership Inference Attacks, ICML 2024"
    config_class = RmiaConfig
    needs_references = True
    needs_population = True

    def missing_inputs(self, inputs: AttackInputs) -> str | None:
        return super().missing_inputs(inputs) or _missing_out_reference(inputs)

    def _offline(self, reference_mean: np.ndarray) -> np.ndarray:
        a = float(self.config.a)
        return 0.5 * ((1.0 + a) * reference_mean + (1.0 - a))

    def score(self, inputs: AttackInputs) -> np.ndarray:
        target = inputs.target
        p_target = signals.true_class_probability(target.probs, target.labels)
        p_refs = np.stack([signals.true_class_probability(r.probs, r.labels)
                           for r in inputs.references_on_target])
        out_mask = ~inputs.reference_in_mask()
        p_out, _ = _masked_mean(p_refs, out_mask)
        tiny = signals.MIN_PROBABILITY
        ratio_x = np.maximum(p_target, tiny) / np.maximum(self._offline(p_out), tiny)

        population = inputs.population_target
        p_pop = signals.true_class_probability(population.probs, population.labels)
        p_pop_refs = np.mean([signals.true_class_probability(r.probs, r.labels)
                              for r in inputs.population_references], axis=0)
        ratio_z = np.sort(np.maximum(p_pop, tiny) / np.maximum(self._offline(p_pop_refs), tiny))

        # ratio_x / ratio_z > gamma  <=>  ratio_z < ratio_x / gamma (all ratios are positive).
        beaten = np.searchsorted(ratio_z, ratio_x / float(self.config.gamma), side="left")
        return beaten / float(len(ratio_z))


# ----------------------------------------------------------------------------- LiRA


class Variance(str, Enum):
    """How LiRA estimates the spread of a reference distribution."""

    AUTO = "auto"
    GLOBAL = "global"
    PER_EXAMPLE = "per_example"


@dataclass(frozen=True)
class LiraConfig(AttackConfig):
    """LiRA settings.

    Attributes:
      variance: "global" (one variance per IN/OUT group, recommended for few references),
        "per_example", or "auto" (per example only when every example has at least
        `min_per_example` references in the group).
      min_per_example: references per example and group that "auto" needs for per-example
        variances (>= 2).
    """

    variance: Variance | str = Variance.AUTO
    min_per_example: int = 16

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "variance", Variance(self.variance))
        except ValueError as err:
            known = ", ".join(v.value for v in Variance)
            raise CompleakError(f"LiRA variance {self.variance!r} is unknown; use {known}") \
                from err
        super().__post_init__()

    def validate(self) -> None:
        if int(self.min_per_example) < 2:
            raise CompleakError(f"min_per_example is {self.min_per_example}; it must be >= 2")


@dataclass(frozen=True)
class _Gaussians:
    """Per-example means and standard deviations of one reference group (IN or OUT)."""

    mean: np.ndarray  # NaN where the example has no reference in the group
    std: np.ndarray
    count: np.ndarray


def _fit_group(phi: np.ndarray, mask: np.ndarray, config: LiraConfig) -> _Gaussians:
    """Gaussian parameters per example from the references selected by `mask`.

    The global variance pools the within-example deviations of all examples with two or more
    references in the group; with a single reference per example (no such deviations) it falls
    back to the variance of all the group's values across examples, as Carlini et al. do.
    """
    mean, count = _masked_mean(phi, mask)
    deviations = np.where(mask, phi - np.nan_to_num(mean), 0.0)
    squares = (deviations ** 2).sum(axis=0)
    per_example = config.variance is Variance.PER_EXAMPLE or (
        config.variance is Variance.AUTO and count.min() >= config.min_per_example)
    if config.variance is Variance.PER_EXAMPLE and count.min() < 2:
        raise CompleakError(
            f"LiRA per-example variances need >= 2 references per example in each group; "
            f"some have {int(count.min())}. Use variance='global' or add references"
        )
    if per_example:
        std = np.sqrt(squares / np.maximum(count - 1, 1))
    else:
        pooled = count >= 2
        if pooled.any():
            variance = squares[pooled].sum() / (count[pooled] - 1).sum()
        else:
            variance = np.var(phi[mask]) if mask.sum() > 1 else 0.0
        std = np.full(phi.shape[1], np.sqrt(variance))
    # A zero spread (constant outputs) would divide by zero; a tiny floor keeps the order.
    return _Gaussians(mean, np.maximum(std, 1e-6), count)


def _log_normal_pdf(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return -np.log(std) - 0.5 * ((x - mean) / std) ** 2


class _Lira(Attack):
    """Shared parts of the LiRA variants."""

    paper = "Carlini et al., Membership Inference Attacks From First Principles, IEEE S&P 2022"
    config_class = LiraConfig
    needs_references = True

    @staticmethod
    def _phis(inputs: AttackInputs) -> tuple[np.ndarray, np.ndarray]:
        target = inputs.target
        phi = signals.logit_confidence(target.probs, target.labels)
        phi_refs = np.stack([signals.logit_confidence(r.probs, r.labels)
                             for r in inputs.references_on_target])
        return phi, phi_refs


class LiraOffline(_Lira):
    """LiRA, offline (Carlini et al., "Membership Inference Attacks From First Principles",
    IEEE S&P 2022).

    phi = log(p_y / (1 - p_y)) of the target on x is compared with a Gaussian fitted to the OUT
    references' phi on x. The score is (phi - mean_out) / std_out, which orders examples exactly
    as the one-sided test Pr[Z < phi] does without saturating at 1. With one reference (or few)
    the standard deviation is global (see LiraConfig), so the score is in effect
    phi - mean_out scaled by a constant.
    """

    name = "lira_offline"

    def missing_inputs(self, inputs: AttackInputs) -> str | None:
        return super().missing_inputs(inputs) or _missing_out_reference(inputs)

    def score(self, inputs: AttackInputs) -> np.ndarray:
        phi, phi_refs = self._phis(inputs)
        out = _fit_group(phi_refs, ~inputs.reference_in_mask(), self.config)
        return (phi - out.mean) / out.std


class LiraOnline(_Lira):
    """LiRA, online (Carlini et al., "Membership Inference Attacks From First Principles",
    IEEE S&P 2022).

    Gaussians are fitted to the IN references' phi (trained on x) and the OUT references' phi;
    the score is the log-likelihood ratio log N(phi; IN) - log N(phi; OUT), and the attack calls
    members where it is >= 0. An example without IN (or OUT) references borrows the missing
    mean as its other mean shifted by the average IN-minus-OUT difference over examples that
    have both.
    """

    name = "lira_online"
    needs_reference_members = True

    def score(self, inputs: AttackInputs) -> np.ndarray:
        phi, phi_refs = self._phis(inputs)
        in_mask = inputs.reference_in_mask()
        inside = _fit_group(phi_refs, in_mask, self.config)
        outside = _fit_group(phi_refs, ~in_mask, self.config)

        both = (inside.count > 0) & (outside.count > 0)
        if both.any():
            shift = float(np.mean(inside.mean[both] - outside.mean[both]))
        else:
            shift = float(phi_refs[in_mask].mean() - phi_refs[~in_mask].mean())
        mean_in = np.where(inside.count > 0, inside.mean, outside.mean + shift)
        mean_out = np.where(outside.count > 0, outside.mean, inside.mean - shift)
        missing = int((~both).sum())
        if missing:
            logger.info("LiRA online: %d of %d target examples lack IN or OUT references; "
                        "their missing mean is shifted from the other", missing, len(phi))
        return (_log_normal_pdf(phi, mean_in, inside.std)
                - _log_normal_pdf(phi, mean_out, outside.std))

    @property
    def decision_threshold(self) -> float | None:
        return 0.0
