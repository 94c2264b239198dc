"""Seeded member / non-member partitions for the victim, shadow models and a population pool.

Every example is pooled first; one seeded permutation then gives the victim its members and
non-members, gives the attacker a disjoint shadow pool of the same size, and leaves the rest as
a population pool for reference-based attacks. The first shadow model takes the shadow pool in
the same proportions as the victim; further shadows redraw members from that pool, so each
shadow example is a member of some shadows and a non-member of others (what LiRA needs).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compleak_tf.data.dataset import Dataset
from compleak_tf.errors import CompleakError
from compleak_tf.fileio import read_json, sha256_json, write_json

_ROLE = re.compile(r"^(victim|shadow(\d+))$")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SplitSizes:
    """How many examples each model trains on (members) and holds out (non-members)."""

    members: int
    non_members: int
    num_shadows: int = 1
    population: int | None = None  # None: every example left after victim and shadows

    def validate(self, num_examples: int) -> None:
        """Raises CompleakError when the sizes do not fit `num_examples`."""
        if self.members < 1 or self.non_members < 1:
            raise CompleakError("split sizes must be positive; set --members and --non-members")
        if self.num_shadows < 1:
            raise CompleakError("at least one shadow model is needed; set --shadows to 1 or more")
        needed = 2 * (self.members + self.non_members) + (self.population or 0)
        if needed > num_examples:
            raise CompleakError(
                f"split needs {needed} examples (victim and shadow pool of {self.members} "
                f"members + {self.non_members} non-members each"
                + (f", population {self.population}" if self.population else "")
                + f") but the dataset has {num_examples}; lower --members / --non-members"
            )


def parse_role(role: str) -> tuple[str, int]:
    """Splits 'victim' or 'shadowK' into (kind, K); raises CompleakError otherwise."""
    match = _ROLE.match(role)
    if not match:
        raise CompleakError(f"unknown role {role!r}; use 'victim' or 'shadowK' (shadow0, ...)")
    return ("victim", 0) if match.group(1) == "victim" else ("shadow", int(match.group(2)))


def role_name(kind: str, index: int = 0) -> str:
    """The role's folder name: 'victim' or 'shadowK'."""
    if kind == "victim":
        return "victim"
    if kind == "shadow":
        return f"shadow{int(index)}"
    raise CompleakError(f"unknown role {kind!r}; use 'victim' or 'shadow'")


@dataclass(frozen=True)
class SplitManifest:
    """Indices of every role, with the seed and the hash of the data they index."""

    dataset: str
    data_hash: str
    num_examples: int
    seed: int
    sizes: SplitSizes
    roles: dict[str, dict[str, np.ndarray]]
    population: np.ndarray

    @property
    def shadow_roles(self) -> list[str]:
        """Names of the shadow roles, in index order."""
        return [r for r in self.roles if r != "victim"]

    def members(self, role: str) -> np.ndarray:
        """Indices of the examples `role` trains on."""
        return self._role(role)["members"]

    def non_members(self, role: str) -> np.ndarray:
        """Indices `role` never sees in training."""
        return self._role(role)["non_members"]

    def _role(self, role: str) -> dict[str, np.ndarray]:
        parse_role(role)
        if role not in self.roles:
            raise CompleakError(
                f"split has no role {role!r} (roles: {', '.join(self.roles)}); create the split "
                "with more shadows (--shadows)"
            )
        return self.roles[role]

    def content(self) -> dict:
        """The manifest as JSON-ready data (indices as lists)."""
        return {
            "format": FORMAT_VERSION,
            "dataset": self.dataset,
            "data_hash": self.data_hash,
            "num_examples": self.num_examples,
            "seed": self.seed,
            "sizes": {"members": self.sizes.members, "non_members": self.sizes.non_members,
                      "num_shadows": self.sizes.num_shadows,
                      "population": self.sizes.population},
            "roles": {r: {k: v.tolist() for k, v in parts.items()}
                      for r, parts in self.roles.items()},
            "population": self.population.tolist(),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the manifest's content."""
        return sha256_json(self.content())

    def validate(self) -> None:
        """Checks index ranges and that no role leaks into another; raises CompleakError."""
        n = self.num_examples
        victim = self.roles.get("victim")
        if victim is None:
            raise CompleakError("split manifest has no victim role; recreate the split")
        arrays = [a for parts in self.roles.values() for a in parts.values()] + [self.population]
        for arr in arrays:
            if len(arr) and (arr.min() < 0 or arr.max() >= n):
                raise CompleakError(f"split indices fall outside 0..{n - 1}; recreate the split")
        for role, parts in self.roles.items():
            overlap = np.intersect1d(parts["members"], parts["non_members"])
            if len(overlap):
                raise CompleakError(
                    f"split role {role}: {len(overlap)} examples are both members and "
                    "non-members; recreate the split"
                )
        victim_all = np.union1d(victim["members"], victim["non_members"])
        attacker = [self.population] + [a for r, p in self.roles.items() if r != "victim"
                                        for a in p.values()]
        for arr in attacker:
            if len(np.intersect1d(victim_all, arr)):
                raise CompleakError(
                    "split overlap: the victim's examples also appear in shadow or population "
                    "roles; recreate the split"
                )
        shadow_pool = np.concatenate([a for r, p in self.roles.items() if r != "victim"
                                      for a in p.values()])
        if len(np.intersect1d(shadow_pool, self.population)):
            raise CompleakError("split overlap: shadow and population examples intersect; "
                                "recreate the split")

    def verify_against(self, dataset: Dataset) -> None:
        """Raises CompleakError when the manifest was made for other data."""
        if dataset.fingerprint() != self.data_hash or len(dataset) != self.num_examples:
            raise CompleakError(
                f"split manifest was made for other data ({self.dataset}, "
                f"{self.num_examples} examples) than {dataset.name} ({len(dataset)} examples); "
                "use a new --run or delete the run folder"
            )

    def save(self, path: str | Path) -> Path:
        """Writes the manifest as JSON (atomically), with its own fingerprint."""
        content = self.content()
        content["split_hash"] = self.fingerprint()
        return write_json(path, content)

    @classmethod
    def load(cls, path: str | Path, dataset: Dataset | None = None) -> "SplitManifest":
        """Reads and validates a manifest; verifies it against `dataset` when given."""
        raw = read_json(path)
        try:
            sizes = SplitSizes(**raw["sizes"])
            roles = {r: {k: np.asarray(v, dtype=np.int64) for k, v in parts.items()}
                     for r, parts in raw["roles"].items()}
            manifest = cls(raw["dataset"], raw["data_hash"], int(raw["num_examples"]),
                           int(raw["seed"]), sizes, roles,
                           np.asarray(raw["population"], dtype=np.int64))
        except (KeyError, TypeError, ValueError) as err:
            raise CompleakError(f"{path} is not a split manifest ({err}); recreate it") from err
        if raw.get("split_hash") != manifest.fingerprint():
            raise CompleakError(f"{path} was edited after it was written (hash mismatch); "
                                "recreate the split")
        manifest.validate()
        if dataset is not None:
            manifest.verify_against(dataset)
        return manifest


def make_split(dataset: Dataset, sizes: SplitSizes, seed: int) -> SplitManifest:
    """Partitions `dataset` into victim, shadow and population roles with one seed."""
    n = len(dataset)
    sizes.validate(n)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    per_model = sizes.members + sizes.non_members

    victim_members = order[:sizes.members]
    victim_non_members = order[sizes.members:per_model]
    shadow_pool = order[per_model:2 * per_model]
    rest = order[2 * per_model:]
    population = rest if sizes.population is None else rest[:sizes.population]

    roles = {"victim": {"members": np.sort(victim_members),
                        "non_members": np.sort(victim_non_members)}}
    for k in range(sizes.num_shadows):
        pool = shadow_pool if k == 0 else rng.permutation(shadow_pool)
        roles[f"shadow{k}"] = {"members": np.sort(pool[:sizes.members]),
                               "non_members": np.sort(pool[sizes.members:])}
    manifest = SplitManifest(dataset.name, dataset.fingerprint(), n, int(seed), sizes, roles,
                             np.sort(population))
    manifest.validate()
    return manifest
