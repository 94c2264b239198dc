"""Where a run's files live, and opening a run: dataset, verified split, architecture."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from compleak_tf.data import Dataset, SplitManifest, SplitSizes, default_sizes, load_dataset
from compleak_tf.data.splits import make_split, parse_role
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import ensure_dir
from compleak_tf.models import Architecture, architecture, check_fits

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("tflite_artifacts")


def default_run_name(dataset: str, arch: str, seed: int) -> str:
    """'<dataset>-<arch>-seed<seed>', with a file dataset named by its file's stem."""
    if ":" in dataset or dataset.endswith(".npz"):
        dataset = Path(dataset.split(":", 1)[-1]).stem
    dataset = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset)
    return f"{dataset}-{arch}-seed{seed}"


@dataclass(frozen=True)
class RunPaths:
    """The file layout of one run folder."""

    root: Path

    @property
    def split(self) -> Path:
        return self.root / "split.json"

    def role_dir(self, role: str) -> Path:
        parse_role(role)
        return self.root / role

    def model(self, role: str) -> Path:
        return self.role_dir(role) / "model.keras"

    def train_record(self, role: str) -> Path:
        return self.role_dir(role) / "train.json"

    def encoder(self, role: str) -> Path:
        return self.role_dir(role) / "encoder.json"

    def artifact(self, role: str, scheme: str) -> Path:
        return self.role_dir(role) / f"{scheme}.tflite"

    def sidecar(self, role: str, scheme: str) -> Path:
        return self.role_dir(role) / f"{scheme}.json"

    @property
    def harvest_dir(self) -> Path:
        return self.root / "harvest"

    @property
    def attacks_dir(self) -> Path:
        return self.root / "attacks"


@dataclass(frozen=True)
class Run:
    """An opened run: its data, its verified split, its architecture and its folder."""

    name: str
    dataset: Dataset
    split: SplitManifest
    arch: Architecture
    paths: RunPaths
    seed: int


def open_run(dataset: str = "mnist5k", arch: str = "cnn", seed: int = 0,
             run: str | None = None, out: str | Path = DEFAULT_ROOT,
             data_dir: str | Path | None = None, download: bool = False,
             members: int | None = None, non_members: int | None = None,
             shadows: int | None = None, label_column: str = "label",
             text_columns: Sequence[str] | None = None, data: Dataset | None = None) -> Run:
    """Loads the dataset and the run's split, creating the split on first use.

    An existing split is verified against the data; asking for other sizes than it was made
    with is an error rather than a silent reuse. `data`, when given, is the already loaded
    `dataset` (a study opens one run per seed on the same data).
    """
    arch_spec = architecture(arch)
    if data is None:
        data = load_dataset(dataset, data_dir=data_dir, download=download,
                            label_column=label_column, text_columns=text_columns)
    check_fits(arch_spec, data)
    name = run or default_run_name(dataset, arch, seed)
    paths = RunPaths(ensure_dir(Path(out) / name))

    defaults = default_sizes(dataset, len(data))
    sizes = SplitSizes(members or defaults.members, non_members or defaults.non_members,
                       shadows or defaults.num_shadows)
    if paths.split.exists():
        manifest = SplitManifest.load(paths.split, data)
        asked = {"members": members, "non_members": non_members, "num_shadows": shadows}
        have = {"members": manifest.sizes.members, "non_members": manifest.sizes.non_members,
                "num_shadows": manifest.sizes.num_shadows}
        differs = {k: v for k, v in asked.items() if v is not None and v != have[k]}
        if differs:
            raise CompleakError(
                f"run {name} already has a split with {have}; asked for {differs}. Use another "
                "--run name, or delete the run folder to start over"
            )
    else:
        manifest = make_split(data, sizes, seed)
        manifest.save(paths.split)
        logger.info("wrote split %s (%d members / %d non-members per model, %d shadows)",
                    paths.split, sizes.members, sizes.non_members, sizes.num_shadows)
    return Run(name, data, manifest, arch_spec, paths, seed)
