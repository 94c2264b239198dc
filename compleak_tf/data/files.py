"""A user's own data: arrays in an .npz file, or labelled text in a CSV file."""
from __future__ import annotations

import csv
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from compleak_tf.data.dataset import Dataset, Modality
from compleak_tf.errors import CompleakError


def _encode_labels(raw: np.ndarray, source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Maps arbitrary label values onto 0..K-1 in sorted order and keeps their names."""
    values = np.unique(raw)
    if len(values) < 2:
        raise CompleakError(f"{source}: labels hold a single class; at least 2 are needed")
    index = np.searchsorted(values, raw).astype(np.int64)
    return index, tuple(str(v) for v in values)


def load_npz(path: str | Path) -> Dataset:
    """Loads arrays `x` (inputs) and `y` (labels) from an .npz file without pickle.

    1-D or 2-D float inputs are tabular; 3-D inputs are single-channel images and 4-D inputs
    images. Integer labels 0..K-1 are kept as they are; other label values are renumbered.
    """
    path = Path(path)
    if not path.is_file():
        raise CompleakError(f"{path} does not exist; give the path of an .npz with x and y")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("x", "y") if k not in data.files]
            if missing:
                raise CompleakError(
                    f"{path} has arrays {sorted(data.files)} but lacks {missing}; save it with "
                    "np.savez(path, x=inputs, y=labels)"
                )
            x, y = data["x"], data["y"]
    except (ValueError, OSError, zipfile.BadZipFile) as err:
        if isinstance(err, CompleakError):
            raise
        raise CompleakError(
            f"{path} is not a readable .npz file ({err}); save it with np.savez(path, x=.., y=..)"
        ) from err
    if len(x) != len(y):
        raise CompleakError(
            f"{path}: x has {len(x)} rows but y has {len(y)}; give one label per example"
        )
    if y.ndim != 1:
        raise CompleakError(f"{path}: y must be 1-D, got shape {y.shape}")
    if not np.issubdtype(x.dtype, np.number):
        raise CompleakError(f"{path}: x must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim == 1:
        x = x[:, None]
    modality = Modality.IMAGE if x.ndim == 4 else Modality.TABULAR
    if modality is Modality.IMAGE and x.size and x.max() > 1.0:
        x = x / 255.0 if x.max() <= 255.0 else x / x.max()
    if np.issubdtype(y.dtype, np.integer) and y.min() >= 0 and len(np.unique(y)) == y.max() + 1:
        labels, names = y.astype(np.int64), tuple(str(v) for v in range(int(y.max()) + 1))
    else:
        labels, names = _encode_labels(y, str(path))
    return Dataset(f"npz:{path}", x, labels, len(names), modality, names)


def load_csv(path: str | Path, label_column: str = "label",
             text_columns: Sequence[str] | None = None) -> Dataset:
    """Loads labelled text from a CSV file with a header row.

    Args:
      path: the CSV file.
      label_column: column holding the class label; its distinct values become classes 0..K-1
        in sorted order (numerically when all are integers).
      text_columns: columns joined with ". " into one text; by default every other column.
    """
    path = Path(path)
    if not path.is_file():
        raise CompleakError(f"{path} does not exist; give the path of a CSV file with a header")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as err:
        raise CompleakError(f"{path} is not a readable UTF-8 CSV file ({err})") from err
    if not rows:
        raise CompleakError(f"{path} has no data rows")
    header = list(rows[0].keys())
    if label_column not in header:
        raise CompleakError(
            f"{path} has no column {label_column!r} (columns: {', '.join(header)}); "
            "name the label column with --label-column"
        )
    columns = list(text_columns) if text_columns else [c for c in header if c != label_column]
    unknown = [c for c in columns if c not in header]
    if unknown:
        raise CompleakError(
            f"{path} has no column(s) {unknown} (columns: {', '.join(header)}); "
            "fix --text-columns"
        )
    texts = [". ".join((row[c] or "").strip() for c in columns).replace("\\", " ")
             for row in rows]
    raw_labels = [row[label_column] for row in rows]
    try:
        raw = np.array([int(v) for v in raw_labels])
    except (TypeError, ValueError):
        raw = np.array(raw_labels)
    labels, names = _encode_labels(raw, str(path))
    return Dataset(f"csv:{path}", np.array(texts, dtype=np.str_), labels, len(names),
                   Modality.TEXT, names)
