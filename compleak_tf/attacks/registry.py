"""The registry of CompLeakNR attacks: name -> attack class, each with its own small config."""
from __future__ import annotations

from typing import Any, Mapping

from compleak_tf.attacks.base import Attack
from compleak_tf.attacks.learned import NasrForest, NasrLogistic, ShokriForest, ShokriLogistic
from compleak_tf.attacks.metric_based import (ConfidenceAttack, CorrectnessAttack,
                                              EntropyAttack, LossAttack, ModifiedEntropyAttack)
from compleak_tf.attacks.reference import LiraOffline, LiraOnline, RmiaOffline
from compleak_tf.errors import CompleakError

# Adding an attack: write its class, then add it here. The order is the order of reports.
_ATTACKS: dict[str, type[Attack]] = {
    cls.name: cls
    for cls in (CorrectnessAttack, ConfidenceAttack, EntropyAttack, ModifiedEntropyAttack,
                LossAttack, ShokriLogistic, ShokriForest, NasrLogistic, NasrForest,
                RmiaOffline, LiraOffline, LiraOnline)
}


def attack_names() -> list[str]:
    """Every registered NR attack name, in report order."""
    return list(_ATTACKS)


def attack_class(name: str) -> type[Attack]:
    """The class registered as `name`; CompleakError listing the known names otherwise."""
    try:
        return _ATTACKS[name]
    except KeyError:
        raise CompleakError(
            f"unknown attack {name!r}; known attacks: {', '.join(_ATTACKS)}"
        ) from None


def make_attack(name: str, options: Mapping[str, Any] | None = None) -> Attack:
    """An attack instance with its config built and validated from `options`."""
    cls = attack_class(name)
    return cls(cls.config_class.from_options(options, attack=name))
