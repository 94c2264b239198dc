"""Membership-inference metrics: ROC, AUC, balanced accuracy, TPR at low FPR, and bootstraps.

This is the only module of compleak-tf that computes these figures. Conventions, everywhere:

- Members are the positive class; a higher score means "more likely a member".
- An example is called a member at threshold t when its score is >= t. Tied scores form ONE
  threshold, so the ROC never splits a group of equal scores (int8 softmax outputs come in steps
  of 1/256 and tie a lot). The curve starts at (0, 0) with threshold +inf, like scikit-learn's
  ``roc_curve(..., drop_intermediate=False)``.
- AUC is the rank statistic P(score of a member > score of a non-member) with ties counted
  half; it equals the trapezoidal area under the ROC above.
- TPR at a target FPR follows one rule: the largest TPR among ROC points whose FPR is <= the
  target (the point with the smallest FPR when several reach that TPR). The realized FPR and the
  threshold of that point are recorded beside it. The smallest FPR a set of n non-members can
  show is 1/n; asking for less logs a warning, or raises CompleakError when strict.
- Bootstrap intervals are percentile intervals over resamples drawn with replacement within
  members and within non-members separately (the class sizes stay fixed). A paired bootstrap
  applies the same resamples to two score vectors on the same examples.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any, Sequence

import numpy as np

from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

DEFAULT_TARGET_FPRS: tuple[float, ...] = (0.001, 0.01)

# Bootstrap resamples are processed in chunks of about this many (resample, example) cells.
_CHUNK_CELLS = 2_000_000


class Metric(str, Enum):
    """A figure that can be bootstrapped or compared between two score vectors."""

    AUC = "auc"
    BALANCED_ACCURACY = "balanced_accuracy"
    BALANCED_ACCURACY_AT_THRESHOLD = "balanced_accuracy_at_threshold"
    TPR_AT_FPR = "tpr_at_fpr"


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its bootstrap interval (None bounds when not bootstrapped)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": _finite_or_none(self.value), "ci_low": _finite_or_none(self.ci_low),
                "ci_high": _finite_or_none(self.ci_high)}


@dataclass(frozen=True)
class RocCurve:
    """ROC points in order of decreasing threshold, starting at (0, 0) with threshold +inf."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray

    def to_dict(self) -> dict[str, list]:
        return {"fpr": self.fpr.tolist(), "tpr": self.tpr.tolist(),
                "thresholds": [_finite_or_none(t) for t in self.thresholds]}


@dataclass(frozen=True)
class TprAtFpr:
    """TPR at a target FPR by the largest-TPR-with-FPR-at-most-target rule.

    Attributes:
      target_fpr: the FPR asked for.
      tpr: the TPR reached, with its bootstrap interval.
      realized_fpr: the FPR of the chosen ROC point (<= target_fpr).
      threshold: scores >= threshold are called members (+inf when no point qualifies but the
        empty one, so TPR is 0).
      reliable: False when there are fewer than 1/target_fpr non-members, so the target cannot
        be resolved.
    """

    target_fpr: float
    tpr: Estimate
    realized_fpr: float
    threshold: float
    reliable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"target_fpr": self.target_fpr, "tpr": self.tpr.to_dict(),
                "realized_fpr": self.realized_fpr, "threshold": _finite_or_none(self.threshold),
                "reliable": self.reliable}


@dataclass(frozen=True)
class AttackMetrics:
    """Every headline figure of one attack on one target, as plain data.

    Attributes:
      attack: the attack's name.
      num_members, num_non_members: class sizes of the evaluated examples.
      auc: ROC AUC.
      balanced_accuracy: the best balanced accuracy over all thresholds (chosen on the evaluated
        examples themselves, so optimistic; its interval re-chooses the threshold per resample).
      balanced_accuracy_threshold: the threshold that reaches it.
      balanced_accuracy_at_threshold: balanced accuracy at `given_threshold` (a threshold fixed
        without the evaluated membership, e.g. on shadow data), or None.
      given_threshold: that threshold, or None.
      tpr_at_fpr: one entry per target FPR.
      n_bootstrap, confidence, seed: how the intervals were drawn (n_bootstrap 0: none).
    """

    attack: str
    num_members: int
    num_non_members: int
    auc: Estimate
    balanced_accuracy: Estimate
    balanced_accuracy_threshold: float
    tpr_at_fpr: tuple[TprAtFpr, ...]
    balanced_accuracy_at_threshold: Estimate | None = None
    given_threshold: float | None = None
    n_bootstrap: int = 0
    confidence: float = 0.95
    seed: int = 0

    def tpr(self, target_fpr: float) -> TprAtFpr:
        """The entry for `target_fpr`; KeyError when it was not computed."""
        for entry in self.tpr_at_fpr:
            if np.isclose(entry.target_fpr, target_fpr):
                return entry
        raise KeyError(f"TPR at FPR {target_fpr} was not computed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "attack": self.attack,
            "num_members": self.num_members,
            "num_non_members": self.num_non_members,
            "auc": self.auc.to_dict(),
            "balanced_accuracy": self.balanced_accuracy.to_dict(),
            "balanced_accuracy_threshold": _finite_or_none(self.balanced_accuracy_threshold),
            "balanced_accuracy_at_threshold": (None if self.balanced_accuracy_at_threshold is None
                                               else self.balanced_accuracy_at_threshold.to_dict()),
            "given_threshold": _finite_or_none(self.given_threshold),
            "tpr_at_fpr": [entry.to_dict() for entry in self.tpr_at_fpr],
            "bootstrap": {"n_bootstrap": self.n_bootstrap, "confidence": self.confidence,
                          "seed": self.seed, "scheme": "stratified percentile"},
        }


@dataclass(frozen=True)
class PairedDifference:
    """metric(scores_a) - metric(scores_b) on the same examples, with a paired interval.

    Attributes:
      metric: which figure was compared.
      value_a, value_b: the figure for each score vector.
      difference: value_a - value_b with its paired bootstrap interval.
      fraction_not_positive: share of resamples where the difference was <= 0 (a one-sided
        bootstrap p-value for "a is higher").
      target_fpr, threshold: the FPR or threshold the metric needed, else None.
    """

    metric: Metric
    value_a: float
    value_b: float
    difference: Estimate
    fraction_not_positive: float
    n_bootstrap: int
    confidence: float
    seed: int
    target_fpr: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric.value, "value_a": self.value_a, "value_b": self.value_b,
                "difference": self.difference.to_dict(),
                "fraction_not_positive": self.fraction_not_positive,
                "n_bootstrap": self.n_bootstrap, "confidence": self.confidence, "seed": self.seed,
                "target_fpr": self.target_fpr, "threshold": _finite_or_none(self.threshold)}


@dataclass(frozen=True)
class MetricsConfig:
    """How attack scores are evaluated.

    Attributes:
      target_fprs: FPRs at which TPR is reported.
      n_bootstrap: bootstrap resamples (0 skips the intervals).
      confidence: interval coverage, e.g. 0.95.
      seed: seed of the resampling.
      strict: raise CompleakError instead of warning when a target FPR needs more non-members
        than there are.
    """

    target_fprs: tuple[float, ...] = DEFAULT_TARGET_FPRS
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0
    strict: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "target_fprs", tuple(float(f) for f in self.target_fprs))
        self.validate()

    def validate(self) -> None:
        """Raises CompleakError naming the first bad field."""
        for fpr in self.target_fprs:
            if not 0 < fpr < 1:
                raise CompleakError(f"target FPR {fpr} is outside (0, 1); use e.g. 0.001 or 0.01")
        if self.n_bootstrap < 0:
            raise CompleakError(f"n_bootstrap is {self.n_bootstrap}; use 0 (no intervals) or more")
        if not 0 < self.confidence < 1:
            raise CompleakError(f"confidence {self.confidence} is outside (0, 1); use e.g. 0.95")


# ----------------------------------------------------------------------------- core kernel


@dataclass(frozen=True)
class _Sorted:
    """Scores sorted by decreasing value, with the start of each group of tied scores."""

    order: np.ndarray
    is_member: np.ndarray  # in sorted order
    starts: np.ndarray
    thresholds: np.ndarray  # one per group, decreasing


def _check(scores: np.ndarray, membership: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    membership = np.asarray(membership)
    if scores.ndim != 1 or membership.shape != scores.shape:
        raise CompleakError(f"scores have shape {scores.shape} and membership "
                            f"{membership.shape}; both must be 1-D of the same length")
    if membership.dtype != bool:
        if not np.isin(membership, (0, 1)).all():
            raise CompleakError("membership must be boolean (or 0/1); members are True")
        membership = membership.astype(bool)
    if not np.all(np.isfinite(scores)):
        raise CompleakError("attack scores contain NaN or infinite values; the attack or its "
                            "inputs are broken")
    num_members = int(membership.sum())
    if num_members == 0 or num_members == len(membership):
        raise CompleakError(f"membership has {num_members} members among {len(membership)} "
                            "examples; evaluation needs both members and non-members")
    return scores, membership


def _sort(scores: np.ndarray, membership: np.ndarray) -> _Sorted:
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    new_group = np.empty(len(scores), dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=new_group[1:])
    starts = np.flatnonzero(new_group)
    return _Sorted(order, membership[order], starts, sorted_scores[starts])


def _curves(srt: _Sorted, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per-group member / non-member weights and cumulative ROC counts.

    Args:
      srt: the sorted scores.
      weights: (B, n) or (n,) non-negative example weights in sorted order (1 for the plain
        figures, resample counts for the bootstrap).

    Returns:
      (pos, neg, tp, fp, total_pos, total_neg); pos/neg/tp/fp have one column per group, tp and
      fp include the group itself; totals have a trailing axis of length 1.
    """
    weights = np.atleast_2d(weights).astype(np.float64, copy=False)
    member_w = weights * srt.is_member
    non_member_w = weights - member_w
    pos = np.add.reduceat(member_w, srt.starts, axis=1)
    neg = np.add.reduceat(non_member_w, srt.starts, axis=1)
    tp = np.cumsum(pos, axis=1)
    fp = np.cumsum(neg, axis=1)
    return pos, neg, tp, fp, tp[:, -1:], fp[:, -1:]


def _auc_rows(pos, neg, fp, total_pos, total_neg) -> np.ndarray:
    # Non-members strictly below a group are all those not yet counted, plus half its own ties.
    below = total_neg - fp + 0.5 * neg
    return (pos * below).sum(axis=1) / (total_pos[:, 0] * total_neg[:, 0])


def _best_balanced_rows(tp, fp, total_pos, total_neg) -> tuple[np.ndarray, np.ndarray]:
    balanced = 0.5 * (tp / total_pos + 1.0 - fp / total_neg)
    best = balanced.argmax(axis=1)
    value = balanced[np.arange(len(best)), best]
    # The empty point (threshold +inf) has balanced accuracy exactly 0.5.
    use_empty = value <= 0.5
    return np.where(use_empty, 0.5, value), np.where(use_empty, -1, best)


def _tpr_at_fpr_rows(tp, fp, total_pos, total_neg, target: float):
    # Counts are compared, not ratios, so that FPR == target exactly is kept despite rounding.
    allowed = fp <= target * total_neg * (1 + 1e-12)
    tpr = np.where(allowed, tp / total_pos, -1.0)
    best = tpr.argmax(axis=1)
    rows = np.arange(len(best))
    value = tpr[rows, best]
    realized = fp[rows, best] / total_neg[:, 0]
    # When no group qualifies, the empty point (TPR 0, FPR 0, threshold +inf) is the answer.
    empty = value <= 0
    return (np.where(empty, 0.0, value), np.where(empty, 0.0, realized),
            np.where(empty, -1, best))


def _threshold(srt: _Sorted, group: int) -> float:
    return float("inf") if group < 0 else float(srt.thresholds[group])


def _check_fpr(target_fpr: float, num_non_members: int, strict: bool,
               warn: bool = True) -> bool:
    if not 0 < target_fpr < 1:
        raise CompleakError(f"target FPR {target_fpr} is outside (0, 1); use e.g. 0.001 or 0.01")
    needed = int(np.ceil(1.0 / target_fpr - 1e-9))
    if num_non_members >= needed:
        return True
    message = (f"TPR at FPR {target_fpr:g} needs at least {needed} non-members, there are "
               f"{num_non_members}; the smallest resolvable FPR is {1 / num_non_members:.3g}")
    if strict:
        raise CompleakError(message + "; evaluate more non-members or ask for a larger FPR")
    if warn:
        logger.warning("%s; the figure is reported but unreliable", message)
    return False


def check_target_fprs(target_fprs: Sequence[float], num_non_members: int, *,
                      strict: bool = False) -> list[bool]:
    """Whether each target FPR is resolvable with `num_non_members` (>= 1/FPR of them).

    Logs a warning per unresolvable FPR, or raises CompleakError for it when `strict`.
    """
    return [_check_fpr(float(f), int(num_non_members), strict) for f in target_fprs]


# ----------------------------------------------------------------------------- point figures


def roc_curve(scores: np.ndarray, membership: np.ndarray) -> RocCurve:
    """The full ROC, one point per distinct score (plus the (0, 0) start).

    Args:
      scores: (n,) attack scores, higher = more likely member.
      membership: (n,) bool, True for members.

    Returns:
      RocCurve with fpr, tpr and thresholds in order of decreasing threshold.
    """
    scores, membership = _check(scores, membership)
    srt = _sort(scores, membership)
    _, _, tp, fp, total_pos, total_neg = _curves(srt, np.ones(len(scores)))
    fpr = np.concatenate([[0.0], fp[0] / total_neg[0, 0]])
    tpr = np.concatenate([[0.0], tp[0] / total_pos[0, 0]])
    thresholds = np.concatenate([[np.inf], srt.thresholds])
    return RocCurve(fpr, tpr, thresholds)


def roc_auc(scores: np.ndarray, membership: np.ndarray) -> float:
    """Rank AUC: P(member score > non-member score) + 0.5 P(equal)."""
    scores, membership = _check(scores, membership)
    srt = _sort(scores, membership)
    pos, neg, _, fp, total_pos, total_neg = _curves(srt, np.ones(len(scores)))
    return float(_auc_rows(pos, neg, fp, total_pos, total_neg)[0])


def best_balanced_accuracy(scores: np.ndarray, membership: np.ndarray) -> tuple[float, float]:
    """The best balanced accuracy over all thresholds, and the threshold reaching it.

    Returns:
      (balanced accuracy, threshold); members are scores >= threshold. The highest threshold
      wins among equals; +inf (nobody is a member, accuracy 0.5) when nothing beats chance.
    """
    scores, membership = _check(scores, membership)
    srt = _sort(scores, membership)
    _, _, tp, fp, total_pos, total_neg = _curves(srt, np.ones(len(scores)))
    value, group = _best_balanced_rows(tp, fp, total_pos, total_neg)
    return float(value[0]), _threshold(srt, int(group[0]))


def balanced_accuracy_at(scores: np.ndarray, membership: np.ndarray, threshold: float) -> float:
    """Balanced accuracy when scores >= `threshold` are called members."""
    scores, membership = _check(scores, membership)
    called = scores >= threshold
    return float(0.5 * (called[membership].mean() + (~called[~membership]).mean()))


def tpr_at_fpr(scores: np.ndarray, membership: np.ndarray, target_fpr: float, *,
               strict: bool = False, warn: bool = True) -> TprAtFpr:
    """TPR at `target_fpr` by the largest-TPR-with-FPR-at-most-target rule (no interval).

    Args:
      scores: (n,) attack scores.
      membership: (n,) bool.
      target_fpr: in (0, 1).
      strict: raise CompleakError when there are fewer than 1/target_fpr non-members (otherwise
        a warning is logged and the entry is marked unreliable).
    """
    scores, membership = _check(scores, membership)
    reliable = _check_fpr(target_fpr, int((~membership).sum()), strict, warn)
    srt = _sort(scores, membership)
    _, _, tp, fp, total_pos, total_neg = _curves(srt, np.ones(len(scores)))
    value, realized, group = _tpr_at_fpr_rows(tp, fp, total_pos, total_neg, target_fpr)
    return TprAtFpr(float(target_fpr), Estimate(float(value[0])), float(realized[0]),
                    _threshold(srt, int(group[0])), reliable)


# ----------------------------------------------------------------------------- bootstrap


def _resample_counts(rng: np.random.Generator, membership: np.ndarray, size: int) -> np.ndarray:
    """(size, n) counts of each example in `size` stratified resamples with replacement."""
    n = len(membership)
    rows = np.arange(size)[:, None] * n
    flat = []
    for positions in (np.flatnonzero(membership), np.flatnonzero(~membership)):
        drawn = rng.integers(0, len(positions), size=(size, len(positions)))
        flat.append((rows + positions[drawn]).ravel())
    counts = np.bincount(np.concatenate(flat), minlength=size * n)
    return counts.reshape(size, n)


def _figures_for(requests: Sequence[tuple[Metric, float | None]], srt: _Sorted,
                 counts_sorted: np.ndarray, called_sorted: np.ndarray | None) -> np.ndarray:
    """(len(requests), B) figures, one per row of resample counts in `srt`'s order."""
    out = np.empty((len(requests), len(counts_sorted)))
    curves = None
    for j, (metric, target) in enumerate(requests):
        if metric is Metric.BALANCED_ACCURACY_AT_THRESHOLD:
            members = counts_sorted * srt.is_member
            non_members = counts_sorted - members
            tpr = (members * called_sorted).sum(axis=1) / members.sum(axis=1)
            tnr = (non_members * ~called_sorted).sum(axis=1) / non_members.sum(axis=1)
            out[j] = 0.5 * (tpr + tnr)
            continue
        if curves is None:
            curves = _curves(srt, counts_sorted)
        pos, neg, tp, fp, total_pos, total_neg = curves
        if metric is Metric.AUC:
            out[j] = _auc_rows(pos, neg, fp, total_pos, total_neg)
        elif metric is Metric.BALANCED_ACCURACY:
            out[j] = _best_balanced_rows(tp, fp, total_pos, total_neg)[0]
        else:
            out[j] = _tpr_at_fpr_rows(tp, fp, total_pos, total_neg, float(target))[0]
    return out


def _bootstrap_many(score_sets: Sequence[np.ndarray], membership: np.ndarray,
                    requests: Sequence[tuple[Metric, float | None]], n_bootstrap: int,
                    seed: int, threshold: float | None = None) -> np.ndarray:
    """Bootstrap replicates, shape (len(score_sets), len(requests), n_bootstrap).

    Every score set and every figure sees the same resamples, which makes differences paired.
    """
    rng = np.random.default_rng(seed)
    sorts = [_sort(s, membership) for s in score_sets]
    called = [None if threshold is None else (s[srt.order] >= threshold)
              for s, srt in zip(score_sets, sorts)]
    out = np.empty((len(score_sets), len(requests), n_bootstrap))
    chunk = max(1, min(n_bootstrap, _CHUNK_CELLS // max(1, len(membership))))
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        counts = _resample_counts(rng, membership, size)
        for i, srt in enumerate(sorts):
            out[i, :, start:start + size] = _figures_for(requests, srt, counts[:, srt.order],
                                                         called[i])
    return out


def bootstrap_replicates(score_sets: Sequence[np.ndarray], membership: np.ndarray,
                         figures: Sequence[tuple[Metric | str, float | None]], *,
                         n_bootstrap: int = 1000, seed: int = 0) -> np.ndarray:
    """Raw bootstrap replicates, shape (len(score_sets), len(figures), n_bootstrap).

    Args:
      score_sets: score vectors over the same examples.
      membership: (n,) bool.
      figures: (metric, target_fpr) pairs; target_fpr only for Metric.TPR_AT_FPR.

    Every score set and figure sees the same stratified resamples (so differences between
    rows are paired). Used to combine independent runs: averaging replicate b over seeds
    gives replicates of the seed mean.
    """
    requests = []
    for metric, target_fpr in figures:
        metric = _metric(metric)
        _needs(metric, target_fpr, None)
        if metric is Metric.BALANCED_ACCURACY_AT_THRESHOLD:
            raise CompleakError("bootstrap_replicates does not take a threshold-based metric")
        requests.append((metric, target_fpr))
    checked = [_check(s, membership)[0] for s in score_sets]
    membership = _check(checked[0], membership)[1]
    return _bootstrap_many(checked, membership, requests, int(n_bootstrap), seed)


def point_value(metric: Metric | str, scores: np.ndarray, membership: np.ndarray, *,
                target_fpr: float | None = None) -> float:
    """One figure of one score vector (AUC, best balanced accuracy, or TPR at `target_fpr`)."""
    metric = _metric(metric)
    _needs(metric, target_fpr, None)
    scores, membership = _check(scores, membership)
    # No warning per call: callers check resolvability once with check_target_fprs.
    return _point(metric, scores, membership, target_fpr, None, warn=False)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates."""
    return _interval(np.asarray(replicates), confidence)


def _interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_interval(scores: np.ndarray, membership: np.ndarray, metric: Metric | str, *,
                       target_fpr: float | None = None, threshold: float | None = None,
                       n_bootstrap: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> Estimate:
    """One figure with its stratified percentile bootstrap interval.

    Args:
      scores, membership: as for `roc_curve`.
      metric: which figure.
      target_fpr: required for Metric.TPR_AT_FPR.
      threshold: required for Metric.BALANCED_ACCURACY_AT_THRESHOLD.
      n_bootstrap, confidence, seed: the resampling.
    """
    metric = _metric(metric)
    scores, membership = _check(scores, membership)
    _needs(metric, target_fpr, threshold)
    value = _point(metric, scores, membership, target_fpr, threshold)
    if n_bootstrap <= 0:
        return Estimate(value)
    reps = _bootstrap_many([scores], membership, [(metric, target_fpr)], n_bootstrap, seed,
                           threshold)[0, 0]
    return Estimate(value, *_interval(reps, confidence))


def _metric(metric: Metric | str) -> Metric:
    try:
        return Metric(metric)
    except ValueError as err:
        known = ", ".join(m.value for m in Metric)
        raise CompleakError(f"unknown metric {metric!r}; known: {known}") from err


def _needs(metric: Metric, target_fpr: float | None, threshold: float | None) -> None:
    if metric is Metric.TPR_AT_FPR and target_fpr is None:
        raise CompleakError("metric tpr_at_fpr needs target_fpr, e.g. 0.001")
    if metric is Metric.BALANCED_ACCURACY_AT_THRESHOLD and threshold is None:
        raise CompleakError("metric balanced_accuracy_at_threshold needs a threshold")


def _point(metric: Metric, scores: np.ndarray, membership: np.ndarray,
           target_fpr: float | None, threshold: float | None, warn: bool = True) -> float:
    if metric is Metric.AUC:
        return roc_auc(scores, membership)
    if metric is Metric.BALANCED_ACCURACY:
        return best_balanced_accuracy(scores, membership)[0]
    if metric is Metric.BALANCED_ACCURACY_AT_THRESHOLD:
        return balanced_accuracy_at(scores, membership, float(threshold))
    return tpr_at_fpr(scores, membership, float(target_fpr), warn=warn).tpr.value


def paired_bootstrap(scores_a: np.ndarray, scores_b: np.ndarray, membership: np.ndarray,
                     metric: Metric | str = Metric.AUC, *, target_fpr: float | None = None,
                     threshold: float | None = None, n_bootstrap: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> PairedDifference:
    """metric(a) - metric(b) for two attacks' scores on the same examples, paired resamples.

    Use it to compare a compressed model's attack with the original's on the same target
    examples, or an attack with its control.

    Args:
      scores_a, scores_b: (n,) scores for the same examples in the same order.
      membership: (n,) bool.
      metric: which figure to compare.
      target_fpr, threshold: as for `bootstrap_interval`.
      n_bootstrap, confidence, seed: the resampling (n_bootstrap >= 1).
    """
    metric = _metric(metric)
    scores_a, membership = _check(scores_a, membership)
    scores_b, _ = _check(scores_b, membership)
    _needs(metric, target_fpr, threshold)
    if n_bootstrap < 1:
        raise CompleakError("a paired bootstrap needs n_bootstrap >= 1")
    value_a = _point(metric, scores_a, membership, target_fpr, threshold)
    value_b = _point(metric, scores_b, membership, target_fpr, threshold)
    reps = _bootstrap_many([scores_a, scores_b], membership, [(metric, target_fpr)],
                           n_bootstrap, seed, threshold)
    diffs = reps[0, 0] - reps[1, 0]
    return PairedDifference(metric, value_a, value_b,
                            Estimate(value_a - value_b, *_interval(diffs, confidence)),
                            float(np.mean(diffs <= 0)), int(n_bootstrap), float(confidence),
                            int(seed), target_fpr, threshold)


# ----------------------------------------------------------------------------- everything


def evaluate(scores: np.ndarray, membership: np.ndarray, *, attack: str = "",
             config: MetricsConfig | None = None, threshold: float | None = None,
             warn: bool = True) -> AttackMetrics:
    """AUC, best balanced accuracy and TPR at each target FPR, with bootstrap intervals.

    Args:
      scores: (n,) attack scores, higher = more likely member.
      membership: (n,) bool, True for members.
      attack: a name for the result.
      config: target FPRs, bootstrap settings and strictness (defaults: MetricsConfig()).
      threshold: optional threshold fixed without this membership (e.g. on shadow data); the
        balanced accuracy at it is reported too.
      warn: log unresolvable target FPRs (callers evaluating many attacks on the same examples
        check once with `check_target_fprs` and pass False).

    Returns:
      AttackMetrics.
    """
    config = config or MetricsConfig()
    scores, membership = _check(scores, membership)
    num_members = int(membership.sum())
    num_non_members = len(membership) - num_members
    reliable = [_check_fpr(f, num_non_members, config.strict, warn)
                for f in config.target_fprs]

    srt = _sort(scores, membership)
    pos, neg, tp, fp, total_pos, total_neg = _curves(srt, np.ones(len(scores)))
    auc = float(_auc_rows(pos, neg, fp, total_pos, total_neg)[0])
    best, best_group = _best_balanced_rows(tp, fp, total_pos, total_neg)
    tprs = [_tpr_at_fpr_rows(tp, fp, total_pos, total_neg, f) for f in config.target_fprs]
    at_threshold = (None if threshold is None
                    else balanced_accuracy_at(scores, membership, float(threshold)))

    requests: list[tuple[Metric, float | None]] = [(Metric.AUC, None),
                                                   (Metric.BALANCED_ACCURACY, None)]
    requests += [(Metric.TPR_AT_FPR, f) for f in config.target_fprs]
    if threshold is not None:
        requests.append((Metric.BALANCED_ACCURACY_AT_THRESHOLD, None))
    intervals: list[tuple[float | None, float | None]] = [(None, None)] * len(requests)
    if config.n_bootstrap > 0:
        reps = _bootstrap_many([scores], membership, requests, config.n_bootstrap,
                               config.seed, threshold)[0]
        intervals = [_interval(r, config.confidence) for r in reps]

    tpr_entries = tuple(
        TprAtFpr(f, Estimate(float(value[0]), *intervals[2 + i]), float(realized[0]),
                 _threshold(srt, int(group[0])), ok)
        for i, (f, (value, realized, group), ok) in enumerate(zip(config.target_fprs, tprs,
                                                                  reliable)))
    return AttackMetrics(
        attack=attack,
        num_members=num_members,
        num_non_members=num_non_members,
        auc=Estimate(auc, *intervals[0]),
        balanced_accuracy=Estimate(float(best[0]), *intervals[1]),
        balanced_accuracy_threshold=_threshold(srt, int(best_group[0])),
        tpr_at_fpr=tpr_entries,
        balanced_accuracy_at_threshold=(None if at_threshold is None
                                        else Estimate(at_threshold, *intervals[-1])),
        given_threshold=threshold,
        n_bootstrap=config.n_bootstrap,
        confidence=config.confidence,
        seed=config.seed,
    )


__all__ = ["AttackMetrics", "Estimate", "Metric", "MetricsConfig", "PairedDifference",
           "RocCurve", "TprAtFpr", "balanced_accuracy_at", "best_balanced_accuracy",
           "bootstrap_interval", "check_target_fprs", "evaluate", "paired_bootstrap", "roc_auc",
           "roc_curve", "tpr_at_fpr", "DEFAULT_TARGET_FPRS"]
