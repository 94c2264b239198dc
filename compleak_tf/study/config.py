"""The study's settings: named scales, the table's schemes and which models MR stacks."""
from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path

from compleak_tf.errors import CompleakError

DEFAULT_SCHEMES = ("original", "prune60", "prune70", "prune80", "prune90", "qat-int8",
                   "ptq-int8", "cluster4", "cluster8", "cluster16")
# The reference's multi-model attack: four pruning levels plus int8 QAT.
DEFAULT_MR_SCHEMES = ("prune60", "prune70", "prune80", "prune90", "qat-int8")
# Labelled text kept beside the repository (see README); used when tfds data is not at hand.
AG_NEWS_CSV = Path("..") / "shared" / "data" / "ag_news_test.csv"


class Scale(str, enum.Enum):
    """How big a study is: quick (embedded MNIST), text (AG News), paper (CIFAR-10)."""

    QUICK = "quick"
    TEXT = "text"
    PAPER = "paper"
    TINY = "tiny"  # digits with two schemes, for tests of the pipeline itself


@dataclass(frozen=True)
class StudyConfig:
    """Everything that decides a study's results (and so its cache keys).

    Attributes:
      scale: the named preset this config came from.
      dataset / arch: data and architecture (registry names, or csv:/npz: paths).
      members / non_members / shadows: split sizes per model and number of shadow models.
      epochs: training epochs (None: the architecture's default).
      schemes: table rows; `original` is always included first.
      mr_schemes: compressed models the multi-model attack stacks.
      seeds: the study is repeated once per seed.
      forest_trees: trees of every random forest (the reference uses 500).
      bootstrap: bootstrap replicates for confidence intervals.
      compress_epochs: fine-tuning epochs per compression (None: per-scheme defaults).
      nr_attacks: NR attacks to run (None: all whose inputs exist).
      table_name: folder name of the table and plots under `out`.
    """

    scale: Scale
    dataset: str
    arch: str
    members: int
    non_members: int
    shadows: int = 1
    epochs: int | None = None
    schemes: tuple[str, ...] = DEFAULT_SCHEMES
    mr_schemes: tuple[str, ...] = DEFAULT_MR_SCHEMES
    seeds: tuple[int, ...] = (0,)
    forest_trees: int = 500
    bootstrap: int = 1000
    compress_epochs: int | None = None
    nr_attacks: tuple[str, ...] | None = None
    out: Path = Path("tflite_artifacts")
    data_dir: str | None = None
    download: bool = False
    table_name: str | None = None

    def validate(self) -> None:
        """Raises CompleakError on settings that cannot make a table."""
        if "original" not in self.schemes:
            raise CompleakError("the schemes must include 'original' (every row is compared "
                                "with it)")
        compressed = [s for s in self.schemes if s != "original"]
        if not compressed:
            raise CompleakError("name at least one compressed scheme besides 'original'")
        missing = [s for s in self.mr_schemes if s not in self.schemes]
        if missing:
            raise CompleakError(f"MR schemes {missing} are not among the table's schemes; add "
                                "them to --schemes or change --mr-schemes")
        if self.mr_schemes and len(self.mr_schemes) < 2:
            raise CompleakError("MR needs at least two compressed schemes (--mr-schemes)")
        if not self.seeds:
            raise CompleakError("--seeds must be at least 1")
        from compleak_tf.compress.schemes import parse_schemes

        parse_schemes(list(self.schemes))

    def run_name(self, seed: int) -> str:
        """Run folder of one seed: the same '<dataset>-<arch>-seed<seed>' the other verbs use,
        so models trained by `train`, `demo` or an earlier study are reused when they match."""
        from compleak_tf.runs import default_run_name

        return default_run_name(self.dataset, self.arch, seed)

    @property
    def study_dir(self) -> Path:
        """Where the table and plots are written: '<out>/table3-<scale>' by default."""
        return Path(self.out) / (self.table_name or f"table3-{self.scale.value}")


def _text_dataset(data_dir: str | None) -> str:
    """tfds ag_news_subset when prepared under the data dir, else the AG News CSV."""
    from compleak_tf.data.tfds_loader import default_data_dir

    root = Path(data_dir) if data_dir else default_data_dir()
    if (root / "ag_news_subset").is_dir():
        return "ag_news_subset"
    if AG_NEWS_CSV.is_file():
        return f"csv:{AG_NEWS_CSV}"
    raise CompleakError(
        f"SCALE=text needs AG News: prepare tfds ag_news_subset under {root} (--download) or "
        f"put the CSV at {AG_NEWS_CSV}"
    )


def scale_config(scale: str, **overrides) -> StudyConfig:
    """The preset of a named scale, with any non-None overrides applied."""
    try:
        scale = Scale(scale)
    except ValueError:
        raise CompleakError(f"unknown scale {scale!r}; use one of: "
                            f"{', '.join(s.value for s in Scale)}") from None
    data_dir = overrides.get("data_dir")
    if scale is Scale.QUICK:
        config = StudyConfig(scale, "mnist5k", "cnn", members=500, non_members=1000,
                             seeds=(0, 1, 2))
    elif scale is Scale.TEXT:
        config = StudyConfig(scale, _text_dataset(data_dir), "bert", members=1500,
                             non_members=1500, seeds=(0, 1, 2))
    elif scale is Scale.PAPER:
        config = StudyConfig(scale, "cifar10", "resnet18", members=20000, non_members=10000)
    else:
        config = StudyConfig(scale, "digits", "cnn", members=300, non_members=300, epochs=30,
                             schemes=("original", "prune80", "ptq-int8"),
                             mr_schemes=("prune80", "ptq-int8"),
                             forest_trees=100, bootstrap=200, compress_epochs=2)
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    config.validate()
    return config
