"""Membership-inference attacks on model outputs: inputs, the NR attacks, and running them."""
from compleak_tf.attacks.base import Attack, AttackConfig, AttackInputs
from compleak_tf.attacks.data import ModelOutputs
from compleak_tf.attacks.registry import attack_class, attack_names, make_attack
from compleak_tf.attacks.results import AttackResult, NRResults, run_nr_attacks

__all__ = ["Attack", "AttackConfig", "AttackInputs", "AttackResult", "ModelOutputs",
           "NRResults", "attack_class", "attack_names", "make_attack", "run_nr_attacks"]
