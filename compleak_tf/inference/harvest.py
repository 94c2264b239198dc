"""Confidence vectors of deployed .tflite models on split roles, cached by content hash.

A cache entry is keyed by the SHA-256 of the .tflite bytes, of the model's input encoder and
of the example indices, so a re-exported artifact is harvested again and an unchanged one is
read back from `<run>/harvest/` instead.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import load_npz, save_npz, sha256_file
from compleak_tf.inference.litert import TFLiteModel
from compleak_tf.models import load_encoder
from compleak_tf.runs import Run

logger = logging.getLogger(__name__)

CACHE_FORMAT = "1"


class Harvester:
    """Harvests one run's artifacts through LiteRT, counting cache hits and misses."""

    def __init__(self, run: Run, batch_size: int = 256, num_threads: int | None = None) -> None:
        self.run = run
        self.batch_size = int(batch_size)
        self.num_threads = num_threads
        self.hits = 0
        self.misses = 0
        self._encoders: dict[str, object] = {}
        self._file_hashes: dict[tuple[str, int, int], str] = {}

    def artifact(self, role: str, scheme: str) -> Path:
        """The .tflite path of (role, scheme), with an error that says how to make it."""
        path = self.run.paths.artifact(role, scheme)
        if not path.is_file():
            raise CompleakError(
                f"{path} does not exist; export it first: compleak-tf compress --scheme {scheme}"
                f" --dataset {self.run.dataset.name} --arch {self.run.arch.name} --role {role}"
            )
        return path

    def _encoder(self, role: str):
        if role not in self._encoders:
            self._encoders[role] = load_encoder(self.run.paths.encoder(role))
        return self._encoders[role]

    def outputs(self, role: str, scheme: str, indices: np.ndarray, part: str) -> ModelOutputs:
        """Probabilities of (role, scheme) on dataset `indices`, with that model's membership.

        Args:
          role: the model that answers ("victim", "shadow0", ...).
          scheme: the compression scheme ("original", "prune80", ...).
          indices: dataset indices to query, in the order wanted.
          part: a short name for the example set, used in cache file names.
        """
        indices = np.asarray(indices, dtype=np.int64)
        path = self.artifact(role, scheme)
        key = self._key(path, role, indices)
        cache = self.run.paths.harvest_dir / f"{role}-{scheme}-{part}-{key[:16]}.npz"
        membership = np.isin(indices, self.run.split.members(role))
        labels = self.run.dataset.y[indices]
        name = f"{role}/{scheme}"
        if cache.is_file():
            stored = load_npz(cache)
            if str(stored.get("key")) == key and np.array_equal(stored["indices"], indices):
                self.hits += 1
                return ModelOutputs(stored["probs"], labels, membership, indices, name)
            logger.warning("ignoring stale harvest cache %s", cache)
        self.misses += 1
        probs = self._predict(path, role, indices)
        save_npz(cache, probs=probs, indices=indices, key=np.array(key))
        return ModelOutputs(probs, labels, membership, indices, name)

    def _predict(self, path: Path, role: str, indices: np.ndarray) -> np.ndarray:
        model = TFLiteModel(path, num_threads=self.num_threads)
        if model.num_classes != self.run.dataset.num_classes:
            raise CompleakError(
                f"{path} outputs {model.num_classes} classes but {self.run.dataset.name} has "
                f"{self.run.dataset.num_classes}; harvest it with the dataset it was trained on"
            )
        inputs = self._encoder(role).transform(self.run.dataset.x[indices])
        logger.info("harvesting %s on %d examples", path, len(indices))
        return model.predict(inputs, batch_size=self.batch_size)

    def _sha256(self, path: Path) -> str:
        """A file's SHA-256, computed once per version of the file (path, mtime, size): the
        attack stage asks for the same artifact's outputs many times."""
        stat = path.stat()
        version = (str(path), stat.st_mtime_ns, stat.st_size)
        if version not in self._file_hashes:
            self._file_hashes[version] = sha256_file(path)
        return self._file_hashes[version]

    def _key(self, path: Path, role: str, indices: np.ndarray) -> str:
        digest = hashlib.sha256(CACHE_FORMAT.encode())
        digest.update(self._sha256(path).encode())
        digest.update(self._sha256(self.run.paths.encoder(role)).encode())
        digest.update(self.run.split.data_hash.encode())
        digest.update(np.ascontiguousarray(indices).tobytes())
        return digest.hexdigest()

    # The example sets the attacks need.

    def own(self, role: str, scheme: str) -> ModelOutputs:
        """The model on its own members followed by its own non-members."""
        split = self.run.split
        indices = np.concatenate([split.members(role), split.non_members(role)])
        return self.outputs(role, scheme, indices, "own")

    def on_victim_examples(self, role: str, scheme: str) -> ModelOutputs:
        """The model on the victim's members and non-members (the evaluation examples)."""
        split = self.run.split
        indices = np.concatenate([split.members("victim"), split.non_members("victim")])
        return self.outputs(role, scheme, indices, "victim-examples")

    def on_population(self, role: str, scheme: str) -> ModelOutputs:
        """The model on the population pool (reference-based attacks' z samples)."""
        return self.outputs(role, scheme, self.run.split.population, "population")
