"""Atomic writes, content hashes and small JSON helpers shared by every stage."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from compleak_tf.errors import CompleakError


def ensure_dir(path: str | os.PathLike) -> Path:
    """Creates a directory (and parents) or raises a CompleakError naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CompleakError(
            f"cannot create output directory {path}: {err.strerror}; "
            "choose a writable location with --out"
        ) from err
    if not os.access(path, os.W_OK):
        raise CompleakError(
            f"output directory {path} is not writable; choose a writable location with --out"
        )
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renames it onto `path` only on success.

    The temporary name keeps the final suffix, because some writers (Keras, NumPy) choose the
    format from it.
    """
    path = Path(path)
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}",
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes bytes atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Writes JSON atomically (NumPy values converted, non-finite floats as null)."""
    text = json.dumps(_to_jsonable(obj), indent=2, sort_keys=False) + "\n"
    return write_bytes(path, text.encode("utf-8"))


def read_json(path: str | os.PathLike) -> Any:
    """Reads JSON, raising a CompleakError that names a missing or corrupt file."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise CompleakError(f"{path} does not exist; run the stage that writes it first") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CompleakError(f"{path} is not valid JSON ({err}); delete it and rerun") from err


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Saves arrays to .npz atomically; object arrays are refused so loading needs no pickle."""
    for name, arr in arrays.items():
        if np.asarray(arr).dtype == object:
            raise ValueError(f"array {name!r} has dtype object; convert it before saving")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return Path(path)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Loads every array of an .npz file without pickle."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_json(obj: Any) -> str:
    """Hex SHA-256 of an object's canonical JSON form (for cache keys)."""
    text = json.dumps(_to_jsonable(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def package_versions() -> dict[str, str]:
    """Versions of the packages that decide a result, for records and cache keys."""
    from importlib import metadata

    names = ["compleak-tf", "tensorflow", "tf-keras", "tensorflow-model-optimization",
             "ai-edge-litert", "scikit-learn", "numpy", "keras-nlp"]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
