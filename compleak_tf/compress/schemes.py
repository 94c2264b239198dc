"""The compression-scheme grammar: parse 'prune80+cluster16+qat-int8' into validated steps.

A scheme is `original`, or one to three steps joined by `+`: at most one pruning step, then at
most one clustering step, then at most one quantization step (QAT or post-training), so that
each later step can preserve what the earlier ones did.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from compleak_tf.errors import CompleakError

GRAMMAR = """\
original            float32 .tflite of the uncompressed model
pruneNN             magnitude pruning to NN % zeros (1-99), fine-tuned, e.g. prune80
clusterK            weight clustering to K shared values per layer (K >= 2), e.g. cluster16
qat-int8            quantization-aware training, then an int8 .tflite
ptq-int8            post-training full-integer int8 (representative data from members)
ptq-float16         post-training float16 weights
ptq-dynamic         post-training dynamic-range int8 weights
A+B[+C]             steps in the order prune, cluster, one quantization step, e.g.
                    prune80+cluster16+qat-int8, prune80+ptq-int8, prune50+cluster8"""

_ONE_LINE_GRAMMAR = ("original, pruneNN (1-99), clusterK (K >= 2), qat-int8, ptq-int8, "
                     "ptq-float16, ptq-dynamic, or steps joined by '+' in the order "
                     "prune, cluster, quantization (e.g. prune80+cluster16+qat-int8)")


class StepKind(str, enum.Enum):
    """What one step of a scheme does, in the only order the steps may come."""

    PRUNE = "prune"
    CLUSTER = "cluster"
    QAT = "qat"
    PTQ = "ptq"


class Quantization(str, enum.Enum):
    """How the exported .tflite stores weights and activations."""

    FLOAT32 = "float32"
    INT8 = "int8"
    FLOAT16 = "float16"
    DYNAMIC = "dynamic"


_ORDER = {StepKind.PRUNE: 0, StepKind.CLUSTER: 1, StepKind.QAT: 2, StepKind.PTQ: 2}


@dataclass(frozen=True)
class Step:
    """One step: pruning to `sparsity`, clustering to `clusters`, or a quantization."""

    kind: StepKind
    sparsity: float | None = None
    clusters: int | None = None
    quantization: Quantization | None = None

    @property
    def name(self) -> str:
        if self.kind is StepKind.PRUNE:
            return f"prune{round(self.sparsity * 100)}"
        if self.kind is StepKind.CLUSTER:
            return f"cluster{self.clusters}"
        return f"{self.kind.value}-{self.quantization.value}"

    @property
    def fine_tuned(self) -> bool:
        """Whether the step trains the Keras model (PTQ only converts)."""
        return self.kind is not StepKind.PTQ

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind.value}
        if self.sparsity is not None:
            out["sparsity"] = self.sparsity
        if self.clusters is not None:
            out["clusters"] = self.clusters
        if self.quantization is not None:
            out["quantization"] = self.quantization.value
        return out


@dataclass(frozen=True)
class Scheme:
    """A parsed, validated scheme; `name` is its canonical spelling (used for file names)."""

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        self.validate()

    @property
    def name(self) -> str:
        return "+".join(step.name for step in self.steps) if self.steps else "original"

    def step(self, kind: StepKind) -> Step | None:
        """The step of `kind`, or None."""
        return next((s for s in self.steps if s.kind is kind), None)

    @property
    def sparsity(self) -> float | None:
        step = self.step(StepKind.PRUNE)
        return step.sparsity if step else None

    @property
    def clusters(self) -> int | None:
        step = self.step(StepKind.CLUSTER)
        return step.clusters if step else None

    @property
    def export(self) -> Quantization:
        """The .tflite storage that the last step asks for."""
        for step in self.steps:
            if step.kind is StepKind.QAT:
                return Quantization.INT8
            if step.kind is StepKind.PTQ:
                return step.quantization
        return Quantization.FLOAT32

    def validate(self) -> None:
        """Raises CompleakError when the steps cannot be honoured together, saying why."""
        kinds = [s.kind for s in self.steps]
        quantizing = [s for s in self.steps if s.kind in (StepKind.QAT, StepKind.PTQ)]
        if len(quantizing) > 1:
            raise CompleakError(
                f"scheme {self.name} has {len(quantizing)} quantization steps "
                f"({', '.join(s.name for s in quantizing)}); a model is quantized once, keep one"
            )
        for kind in (StepKind.PRUNE, StepKind.CLUSTER):
            if kinds.count(kind) > 1:
                raise CompleakError(
                    f"scheme {self.name} has {kinds.count(kind)} {kind.value} steps; "
                    f"use one {kind.value} step"
                )
        for earlier, later in zip(self.steps, self.steps[1:]):
            if _ORDER[earlier.kind] > _ORDER[later.kind]:
                raise CompleakError(
                    f"scheme {self.name}: {later.name} cannot follow {earlier.name}, because "
                    f"{_why_not_after(earlier, later)}; order the steps prune, cluster, "
                    "quantization"
                )

    def to_dict(self) -> dict:
        return {"name": self.name, "steps": [s.to_dict() for s in self.steps],
                "export": self.export.value}


def _why_not_after(earlier: Step, later: Step) -> str:
    if earlier.kind in (StepKind.QAT, StepKind.PTQ):
        return "quantization is the last step (a quantized model cannot be fine-tuned again)"
    return "pruning after clustering would re-learn the shared values and undo the clustering"


_STEP = re.compile(r"^(?:(prune)(\d+)|(cluster)(\d+)|(qat)-(int8)|(ptq)-(int8|float16|dynamic))$")


def _parse_step(text: str, scheme: str) -> Step:
    match = _STEP.match(text)
    if match is None:
        where = "" if text == scheme else f" in {scheme!r}"
        raise CompleakError(f"unknown compression scheme {text!r}{where}; "
                            f"use {_ONE_LINE_GRAMMAR}")
    if match.group(1):
        percent = int(match.group(2))
        if not 1 <= percent <= 99:
            raise CompleakError(f"pruning sparsity {percent} % in {scheme!r} is outside 1-99; "
                                "use e.g. prune80")
        return Step(StepKind.PRUNE, sparsity=percent / 100)
    if match.group(3):
        clusters = int(match.group(4))
        if clusters < 2:
            raise CompleakError(f"{text!r} asks for {clusters} cluster(s); clustering needs "
                                "at least 2, e.g. cluster8")
        return Step(StepKind.CLUSTER, clusters=clusters)
    if match.group(5):
        return Step(StepKind.QAT, quantization=Quantization.INT8)
    return Step(StepKind.PTQ, quantization=Quantization(match.group(8)))


def parse_scheme(text: str) -> Scheme:
    """Parses one scheme string (see GRAMMAR); raises CompleakError naming the problem."""
    cleaned = str(text).strip().lower()
    if not cleaned:
        raise CompleakError(f"empty compression scheme; use {_ONE_LINE_GRAMMAR}")
    if cleaned == "original":
        return Scheme(())
    parts = cleaned.split("+")
    if "original" in parts:
        raise CompleakError(f"scheme {text!r}: 'original' stands alone; drop it from the "
                            "compound scheme")
    if any(not part for part in parts):
        raise CompleakError(f"scheme {text!r} has an empty step; join steps with a single '+'")
    return Scheme(tuple(_parse_step(part, cleaned) for part in parts))


def parse_schemes(values: list[str] | tuple[str, ...]) -> list[Scheme]:
    """Parses repeated and comma-separated scheme options, dropping duplicates, in order."""
    schemes: dict[str, Scheme] = {}
    for value in values:
        for text in str(value).split(","):
            if text.strip():
                scheme = parse_scheme(text)
                schemes.setdefault(scheme.name, scheme)
    if not schemes:
        raise CompleakError(f"no compression scheme given; use {_ONE_LINE_GRAMMAR}")
    return list(schemes.values())
