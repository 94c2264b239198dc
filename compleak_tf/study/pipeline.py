"""The whole study: split, train, compress, harvest, attack, per seed; then table and plots.

Every stage is keyed by a hash of what decides its output (data and split hashes, architecture,
scheme, seed, hyper-parameters, package versions). A stage whose recorded key matches is not
run again; files are written atomically and a stage's key is written last, so a run killed at
any point resumes without reading half-written files.
"""
from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from compleak_tf.errors import CompleakError
from compleak_tf.fileio import (load_npz, package_versions, read_json, save_npz, sha256_file,
                                sha256_json, write_json)
from compleak_tf.runs import Run, open_run
from compleak_tf.study.config import StudyConfig
from compleak_tf.study.evaluate import RunAttacks, RunScores

logger = logging.getLogger(__name__)

STAGES = ("train", "compress", "harvest", "attack")
SCORES_FILE = "study-scores.npz"
SCORES_RECORD = "study-scores.json"

StageLog = Callable[[str], None]


@dataclass
class SeedResult:
    """What one seed of the study produced."""

    seed: int
    run: Run
    scores: RunScores
    train_records: dict[str, dict[str, Any]]
    sidecars: dict[str, dict[str, Any]]  # victim's sidecar per scheme
    cached: dict[str, int]  # stage -> how many units were reused


@dataclass
class StudyResult:
    """All seeds, the config, and how long the study took."""

    config: StudyConfig
    seeds: list[SeedResult]
    seconds: float


def _check_force(force: set[str]) -> None:
    unknown = sorted(set(force) - set(STAGES))
    if unknown:
        raise CompleakError(f"unknown stage(s) for --force: {', '.join(unknown)}; stages: "
                            f"{', '.join(STAGES)}")


class Study:
    """Runs a StudyConfig stage by stage, reusing every stage whose key matches."""

    def __init__(self, config: StudyConfig, force: set[str] | None = None,
                 log: StageLog | None = None,
                 epoch_progress: Callable[[str], Any] | None = None) -> None:
        config.validate()
        self.config = config
        self.force = set(force or ())
        _check_force(self.force)
        self.log = log or (lambda message: logger.info("%s", message))
        self.epoch_progress = epoch_progress
        self.versions = package_versions()
        self._data = None  # loaded once in run(), shared by every seed

    def run(self) -> StudyResult:
        from compleak_tf.data import load_dataset

        started = time.perf_counter()
        c = self.config
        self._data = load_dataset(c.dataset, data_dir=c.data_dir, download=c.download)
        results = [self._seed(seed) for seed in self.config.seeds]
        return StudyResult(self.config, results, time.perf_counter() - started)

    # One seed.

    def _seed(self, seed: int) -> SeedResult:
        c = self.config
        run = open_run(dataset=c.dataset, arch=c.arch, seed=seed, run=c.run_name(seed),
                       out=c.out, data_dir=c.data_dir, download=c.download, members=c.members,
                       non_members=c.non_members, shadows=c.shadows, data=self._data)
        cached = {stage: 0 for stage in STAGES}
        train_keys, train_records = {}, {}
        for role in run.split.roles:
            train_keys[role], train_records[role] = self._train(run, role, cached)
        sidecars = {}
        for role in run.split.roles:
            for scheme in c.schemes:
                record = self._compress(run, role, scheme, train_keys[role], cached)
                if role == "victim":
                    sidecars[scheme] = record
        scores = self._attack(run, seed, cached)
        return SeedResult(seed, run, scores, train_records, sidecars, cached)

    def _say(self, run: Run, message: str) -> None:
        self.log(f"[{run.name}] {message}")

    def _train(self, run: Run, role: str, cached: dict[str, int]) -> tuple[str, dict]:
        from compleak_tf.training import train_role

        c = self.config
        key = sha256_json({"stage": "train", "split": run.split.fingerprint(), "role": role,
                           "arch": c.arch, "epochs": c.epochs, "seed": run.seed,
                           "versions": self.versions})
        path = run.paths.train_record(role)
        if "train" not in self.force and path.is_file() and run.paths.model(role).is_file():
            record = read_json(path)
            if record.get("stage_key") == key:
                cached["train"] += 1
                self._say(run, f"train {role}: cached")
                return key, record
        self._say(run, f"train {role} ...")
        progress = self.epoch_progress(f"train {role}") if self.epoch_progress else None
        record = train_role(run, role, epochs=c.epochs, on_epoch=progress,
                            record_extra={"stage_key": key})
        self._say(run, f"train {role}: train acc {record['train_accuracy']:.3f}, held-out "
                       f"{record['held_out_accuracy']:.3f} ({record['train_seconds']:.0f} s)")
        return key, record

    def _compress(self, run: Run, role: str, scheme: str, train_key: str,
                  cached: dict[str, int]) -> dict:
        from compleak_tf.compress import compress_role

        key = sha256_json({"stage": "compress", "train": train_key, "scheme": scheme,
                           "epochs": self.config.compress_epochs, "versions": self.versions})
        sidecar = run.paths.sidecar(role, scheme)
        if ("compress" not in self.force and sidecar.is_file()
                and run.paths.artifact(role, scheme).is_file()):
            record = read_json(sidecar)
            if record.get("stage_key") == key:
                cached["compress"] += 1
                return record
        self._say(run, f"compress {role} {scheme} ...")
        record = compress_role(run, role, scheme, epochs=self.config.compress_epochs)
        record["stage_key"] = key
        write_json(sidecar, record)
        return record

    def _attack(self, run: Run, seed: int, cached: dict[str, int]) -> RunScores:
        from compleak_tf.inference.harvest import Harvester

        c = self.config
        if "harvest" in self.force and run.paths.harvest_dir.is_dir():
            shutil.rmtree(run.paths.harvest_dir)
        artifacts = {f"{role}/{scheme}": sha256_file(run.paths.artifact(role, scheme))
                     for role in run.split.roles for scheme in c.schemes}
        encoders = {role: sha256_file(run.paths.encoder(role)) for role in run.split.roles}
        key = sha256_json({"stage": "attack", "split": run.split.fingerprint(),
                           "artifacts": artifacts, "encoders": encoders,
                           "schemes": c.schemes, "mr_schemes": c.mr_schemes,
                           "forest_trees": c.forest_trees, "nr_attacks": c.nr_attacks,
                           "seed": seed, "versions": self.versions})
        scores_path = run.paths.attacks_dir / SCORES_FILE
        record_path = run.paths.attacks_dir / SCORES_RECORD
        forced = {"attack", "harvest"} & self.force
        if not forced and record_path.is_file() and scores_path.is_file():
            record = read_json(record_path)
            if record.get("stage_key") == key:
                cached["attack"] += 1
                self._say(run, "attacks: cached")
                return RunScores.from_arrays(load_npz(scores_path), record["mr"],
                                             record["nr_skipped"])
        harvester = Harvester(run)
        self._say(run, "harvest through LiteRT and attack ...")
        started = time.perf_counter()
        scores = RunAttacks(harvester, forest_trees=c.forest_trees, seed=seed,
                            nr_attacks=c.nr_attacks).all(c.schemes, c.mr_schemes)
        cached["harvest"] += harvester.hits
        save_npz(scores_path, **scores.arrays())
        write_json(record_path, {"stage_key": key, "mr": scores.mr_info,
                                 "nr_skipped": scores.nr_skipped,
                                 "harvest": {"hits": harvester.hits,
                                             "misses": harvester.misses},
                                 "seconds": round(time.perf_counter() - started, 2)})
        self._say(run, f"attacks done in {time.perf_counter() - started:.0f} s "
                       f"(harvest cache {harvester.hits} hits, {harvester.misses} misses)")
        return scores


def config_record(config: StudyConfig) -> dict[str, Any]:
    """The config as JSON-ready data."""
    record = asdict(config)
    record["scale"] = config.scale.value
    record["out"] = str(config.out)
    return record

