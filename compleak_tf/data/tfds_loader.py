"""Datasets served by tensorflow-datasets, read from a local data dir (download on request)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

# name -> (modality, text feature names joined in order, or None for images)
TFDS_DATASETS: dict[str, tuple[Modality, tuple[str, ...] | None]] = {
    "cifar10": (Modality.IMAGE, None),
    "cifar100": (Modality.IMAGE, None),
    "svhn_cropped": (Modality.IMAGE, None),
    "fashion_mnist": (Modality.IMAGE, None),
    "ag_news_subset": (Modality.TEXT, ("title", "description")),
    "imdb_reviews": (Modality.TEXT, ("text",)),
}


def default_data_dir() -> Path:
    """The TFDS convention: $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return Path(os.environ.get("TFDS_DATA_DIR", Path.home() / "tensorflow_datasets"))


def load_tfds(name: str, data_dir: str | Path | None = None, download: bool = False) -> Dataset:
    """Loads every split of a TFDS dataset and pools them.

    Without `download`, a dataset that is not already prepared under `data_dir` fails at once:
    offline, tfds would otherwise retry its downloads for minutes before giving up.
    """
    from compleak_tf.tfcompat import tf

    tf()
    import tensorflow_datasets as tfds

    modality, text_features = TFDS_DATASETS[name]
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    builder = tfds.builder(name, data_dir=str(data_dir))
    if not Path(builder.data_dir).is_dir():
        if not download:
            raise CompleakError(
                f"dataset {name} is not prepared under data dir {data_dir}; pass --download to "
                f"fetch it there, or point --data-dir at a folder that holds {name}/"
            )
        logger.info("downloading %s into %s", name, data_dir)
        try:
            builder.download_and_prepare()
        except Exception as err:  # tfds raises many unrelated types for network failures
            raise CompleakError(
                f"downloading {name} into {data_dir} failed ({type(err).__name__}); check the "
                "network, or copy a prepared dataset into --data-dir"
            ) from err
    splits = list(builder.info.splits.keys())
    xs, ys = [], []
    for split in sorted(splits):
        arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        ys.append(np.asarray(arrays["label"], dtype=np.int64))
        if text_features is None:
            xs.append(np.asarray(arrays["image"], dtype=np.float32) / 255.0)
        else:
            parts = [[v.decode("utf-8") for v in arrays[f]] for f in text_features]
            xs.append(np.array([". ".join(p) for p in zip(*parts)], dtype=np.str_))
    label_feature = builder.info.features["label"]
    names = tuple(label_feature.names) if hasattr(label_feature, "names") else ()
    y = np.concatenate(ys)
    num_classes = len(names) if names else int(y.max()) + 1
    return Dataset(name, np.concatenate(xs), y, num_classes, modality, names)
