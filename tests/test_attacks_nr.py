"""CompLeakNR attacks on real LiteRT outputs of small digits CNNs, and on constructed inputs.

Four small models are trained once per module on scikit-learn's digits with pixel noise added
(which makes 300 members easy to memorise and the held-out accuracy low, so membership leaks
clearly): the victim, a shadow on disjoint data, and two reference models on complementary
halves of a pool holding the victim's members, its non-members and further unseen examples.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import compleak_tf  # noqa: F401  (must precede TensorFlow)
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from compleak_tf import metrics
from compleak_tf.attacks import (AttackInputs, ModelOutputs, attack_names, make_attack,
                                 run_nr_attacks)
from compleak_tf.attacks import signals
from compleak_tf.attacks.results import compare, read_scores_npz, save_results
from compleak_tf.errors import CompleakError

MEMBERS = 300
EPOCHS = 80
NOISE = 0.35
FAST = {"shokri_rf": {"n_estimators": 60}, "nasr_rf": {"n_estimators": 60}}
QUICK_METRICS = metrics.MetricsConfig(n_bootstrap=100, seed=0)


@dataclass
class Study:
    """Inputs for the leaky target and for a null target the victim never trained on."""

    leaky: AttackInputs
    null: AttackInputs
    single_reference: AttackInputs


def _train_tflite(x, y, seed: int, path):
    from compleak_tf.inference import TFLiteModel
    from compleak_tf.tfcompat import keras, set_seed, tf

    layers = keras().layers
    set_seed(seed)
    model = keras().Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.Flatten(),
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras().optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=EPOCHS, batch_size=32, verbose=0)
    path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(model).convert())
    return TFLiteModel(path, num_threads=1)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    from compleak_tf.data.embedded import load_digits

    folder = tmp_path_factory.mktemp("nr_models")
    digits = load_digits()
    noise = np.random.default_rng(1).normal(0, NOISE, digits.x.shape).astype(np.float32)
    x, y = np.clip(digits.x + noise, 0, 1), digits.y
    order = np.random.default_rng(0).permutation(len(y))
    victim_in, victim_out, shadow_in, shadow_out, unseen = np.split(
        order[:5 * MEMBERS], 5)
    pool = np.concatenate([victim_in, victim_out, unseen])
    pool_half = np.random.default_rng(2).permutation(len(pool)) < len(pool) // 2
    ref_train = [pool[pool_half], pool[~pool_half]]

    victim = _train_tflite(x[victim_in], y[victim_in], 1, folder / "victim.tflite")
    shadow = _train_tflite(x[shadow_in], y[shadow_in], 2, folder / "shadow.tflite")
    refs = [_train_tflite(x[idx], y[idx], 3 + i, folder / f"ref{i}.tflite")
            for i, idx in enumerate(ref_train)]

    def outputs(model, indices, membership, name):
        return ModelOutputs(model.predict(x[indices]), y[indices], membership, indices, name)

    def target_inputs(indices, membership, name):
        target = outputs(victim, indices, membership, name)
        references = [outputs(shadow, indices, np.zeros(len(indices), bool), "shadow-ref")]
        masks = [np.zeros(len(indices), bool)]
        for i, model in enumerate(refs):
            in_mask = np.isin(indices, ref_train[i])
            references.append(outputs(model, indices, in_mask, f"ref{i}"))
            masks.append(in_mask)
        return target, references, masks

    shadow_idx = np.concatenate([shadow_in, shadow_out])
    shadow_membership = np.isin(shadow_idx, shadow_in)
    shadow_outputs = outputs(shadow, shadow_idx, shadow_membership, "shadow")
    population_target = outputs(victim, shadow_idx, np.zeros(len(shadow_idx), bool), "pop")
    population_refs = [shadow_outputs] + [outputs(m, shadow_idx, np.zeros(len(shadow_idx), bool),
                                                  f"pop-ref{i}") for i, m in enumerate(refs)]

    leaky_idx = np.concatenate([victim_in, victim_out])
    target, references, masks = target_inputs(leaky_idx, np.isin(leaky_idx, victim_in),
                                              "victim")
    leaky = AttackInputs(target, shadow_outputs, references, masks, population_target,
                         population_refs)
    single = AttackInputs(target, shadow_outputs, references[:1], None, population_target,
                          population_refs[:1])

    # Null target: victim non-members and unseen examples, half of them labelled "members".
    null_idx = np.concatenate([victim_out, unseen])
    fake = np.random.default_rng(5).permutation(len(null_idx)) < len(null_idx) // 2
    target, references, masks = target_inputs(null_idx, fake, "victim-null")
    null = AttackInputs(target, shadow_outputs, references, masks, population_target,
                        population_refs)
    return Study(leaky, null, single)


@pytest.fixture(scope="module")
def leaky_results(study):
    return run_nr_attacks(study.leaky, options=FAST, metrics_config=QUICK_METRICS)


def test_every_attack_beats_chance_on_the_overfit_model(study, leaky_results):
    membership = study.leaky.target.membership
    train_acc = signals.correctness(study.leaky.target.probs, study.leaky.target.labels)
    assert train_acc[membership].mean() - train_acc[~membership].mean() > 0.1
    assert list(leaky_results.results) == attack_names()
    for name, result in leaky_results.results.items():
        auc = result.metrics.auc
        assert auc.ci_low > 0.55, (name, auc)
        assert auc.value == pytest.approx(roc_auc_score(membership, result.scores), abs=1e-12)


def test_reference_attacks_with_one_offline_reference(study):
    results = run_nr_attacks(study.single_reference, ["rmia", "lira_offline"],
                             metrics_config=QUICK_METRICS)
    for name in ("rmia", "lira_offline"):
        assert results.results[name].metrics.auc.ci_low > 0.55, name
    everything = run_nr_attacks(study.single_reference, options=FAST,
                                metrics_config=metrics.MetricsConfig(n_bootstrap=0))
    assert "lira_online" in everything.skipped
    with pytest.raises(CompleakError, match="lira_online cannot run"):
        run_nr_attacks(study.single_reference, ["lira_online"])


def test_every_attack_is_near_chance_when_nobody_is_a_member(study):
    results = run_nr_attacks(study.null, options=FAST,
                             metrics_config=metrics.MetricsConfig(n_bootstrap=0))
    assert list(results.results) == attack_names()
    for name, result in results.results.items():
        # 600 examples: the AUC's standard error is about 0.024.
        assert abs(result.metrics.auc.value - 0.5) < 0.1, (name, result.metrics.auc.value)


def test_fixed_seed_gives_identical_scores_and_figures(study, leaky_results):
    again = run_nr_attacks(study.leaky, options=FAST, metrics_config=QUICK_METRICS)
    for name, result in leaky_results.results.items():
        np.testing.assert_array_equal(result.scores, again.results[name].scores)
        assert result.metrics == again.results[name].metrics


def test_scores_files_recompute_every_figure(study, leaky_results, tmp_path):
    paths = save_results(leaky_results, tmp_path)
    arrays = read_scores_npz(paths["scores_npz"])
    table = np.genfromtxt(paths["scores_csv"], delimiter=",", names=True)
    report = json.loads(paths["metrics_json"].read_text())
    np.testing.assert_array_equal(arrays["index"], study.leaky.target.indices)
    for name, entry in report["attacks"].items():
        np.testing.assert_array_equal(table[name], arrays[name])
        recomputed = metrics.roc_auc(arrays[name], arrays["membership"])
        assert entry["metrics"]["auc"]["value"] == pytest.approx(recomputed, abs=1e-15)
        tpr = metrics.tpr_at_fpr(table[name], table["membership"].astype(bool), 0.01)
        assert entry["metrics"]["tpr_at_fpr"][1]["tpr"]["value"] == tpr.tpr.value
    assert report["attacks"]["rmia"]["paper"].startswith("Zarifzadeh")


def test_paired_comparison_of_two_targets(study, leaky_results):
    same = compare(leaky_results, leaky_results, "loss", n_bootstrap=50)
    assert same.difference.value == 0.0 and same.difference.ci_high == 0.0
    null = run_nr_attacks(study.null, ["loss"], metrics_config=metrics.MetricsConfig(
        n_bootstrap=0))
    with pytest.raises(CompleakError, match="different examples"):
        compare(leaky_results, null, "loss")


# ----------------------------------------------------------------------------- constructed


def _outputs(probs, labels, membership=None, name="t", indices=None):
    probs = np.asarray(probs, dtype=np.float64)
    n = len(probs)
    membership = np.zeros(n, bool) if membership is None else np.asarray(membership)
    indices = np.arange(n) if indices is None else indices
    return ModelOutputs(probs, np.asarray(labels), membership, indices, name)


def _synthetic(n: int, seed: int, classes: int = 10, boost: float = 2.0, name: str = "t",
               labels: np.ndarray | None = None):
    """Softmax outputs whose true-class logit is raised by `boost` on members."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n) if labels is None else labels
    membership = rng.random(n) < 0.5
    logits = rng.normal(size=(n, classes))
    logits[np.arange(n), labels] += 1.0 + boost * membership
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return _outputs(probs / probs.sum(axis=1, keepdims=True), labels, membership, name)


def test_losses_stay_ordered_where_float32_confidence_rounds_to_one():
    others = np.array([1e-9, 1e-12, 1e-15, 1e-20])
    probs = np.zeros((4, 3))
    probs[:, 1] = others
    probs[:, 0] = (1.0 - others).astype(np.float32)  # what a float32 softmax returns
    assert np.all(probs[:, 0] == 1.0)
    loss = signals.cross_entropy(probs, np.zeros(4, int))
    np.testing.assert_allclose(loss, others, rtol=1e-6)
    assert np.all(np.diff(loss) < 0)
    assert np.all(np.diff(signals.logit_confidence(probs, np.zeros(4, int))) > 0)
    assert np.all(np.diff(signals.modified_entropy(probs, np.zeros(4, int))) < 0)


def test_signals_match_their_definitions():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    labels = np.array([0, 2])
    np.testing.assert_allclose(signals.cross_entropy(probs, labels), -np.log([0.7, 0.6]))
    np.testing.assert_allclose(signals.entropy(probs, labels),
                               -(probs * np.log(probs)).sum(axis=1))
    expected = [-(0.3 * np.log(0.7)) - 0.2 * np.log(0.8) - 0.1 * np.log(0.9),
                -(0.4 * np.log(0.6)) - 0.1 * np.log(0.9) - 0.3 * np.log(0.7)]
    np.testing.assert_allclose(signals.modified_entropy(probs, labels), expected)
    np.testing.assert_allclose(signals.logit_confidence(probs, labels),
                               np.log([0.7 / 0.3, 0.6 / 0.4]))


def test_identical_target_rows_get_identical_learned_scores():
    shadow = _synthetic(600, 1, name="shadow")
    target = _synthetic(200, 2)
    # Each member row also appears as a non-member row.
    probs = np.concatenate([target.probs, target.probs])
    labels = np.concatenate([target.labels, target.labels])
    membership = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    doubled = _outputs(probs, labels, membership)
    inputs = AttackInputs(doubled, shadow)
    for name in ("shokri_lr", "shokri_rf", "nasr_lr", "nasr_rf", "loss", "modified_entropy"):
        scores = make_attack(name, FAST.get(name)).run(inputs)
        np.testing.assert_array_equal(scores[:200], scores[200:])
        assert metrics.roc_auc(scores, membership) == 0.5


def test_metric_thresholds_are_class_wise_and_signed():
    shadow = _synthetic(2000, 3, name="shadow")
    target = _synthetic(500, 4)
    attack = make_attack("loss")
    scores = attack.run(AttackInputs(target, shadow))
    assert attack.thresholds.shape == (10,)
    assert len(np.unique(attack.thresholds)) > 1
    expected = -signals.cross_entropy(target.probs, target.labels) \
        - attack.thresholds[target.labels]
    np.testing.assert_array_equal(scores, expected)
    single = make_attack("loss", {"class_wise": False})
    single.run(AttackInputs(target, shadow))
    assert len(np.unique(single.thresholds)) == 1


def test_lira_online_separates_in_from_out_references():
    target = _synthetic(1000, 5, boost=3.0)
    references = [_synthetic(1000, 10 + seed, boost=3.0, name=f"ref{seed}",
                             labels=target.labels) for seed in range(4)]
    inputs = AttackInputs(target, None, references, AttackInputs.membership_of(references))
    for variance in ("global", "auto"):
        scores = make_attack("lira_online", {"variance": variance}).run(inputs)
        assert metrics.roc_auc(scores, target.membership) > 0.75
    with pytest.raises(CompleakError, match="per-example variances"):
        make_attack("lira_online", {"variance": "per_example"}).run(inputs)
    offline = make_attack("lira_offline").run(AttackInputs(target, None, references))
    assert metrics.roc_auc(offline, target.membership) > 0.75


def test_registry_and_config_errors():
    with pytest.raises(CompleakError, match="unknown attack 'nope'; known attacks: correct"):
        make_attack("nope")
    with pytest.raises(CompleakError, match="has no option trees; known options: n_estimators"):
        make_attack("shokri_rf", {"trees": 3})
    with pytest.raises(CompleakError, match="RMIA a is 2"):
        make_attack("rmia", {"a": 2})
    with pytest.raises(CompleakError, match="variance 'wide' is unknown"):
        make_attack("lira_offline", {"variance": "wide"})
    for name in attack_names():
        cls = type(make_attack(name))
        assert cls.paper and "20" in cls.__doc__, name


def test_bad_inputs_are_one_line_errors():
    target = _synthetic(100, 6)
    shadow4 = _synthetic(100, 7, classes=4)
    with pytest.raises(CompleakError, match="4 outputs per example but the dataset has 10"):
        AttackInputs(target, shadow4)
    with pytest.raises(CompleakError, match="10 outputs per example but the dataset has 12"):
        AttackInputs(target, num_classes=12)
    broken = target.probs.copy()
    broken[3, 2] = np.nan
    with pytest.raises(CompleakError, match="NaN or infinite"):
        AttackInputs(_outputs(broken, target.labels, target.membership))
    with pytest.raises(CompleakError, match="labels reach"):
        _outputs(target.probs[:, :5], target.labels)
    moved = _outputs(target.probs, target.labels, indices=np.arange(100) + 1, name="ref")
    with pytest.raises(CompleakError, match="cover different examples"):
        AttackInputs(target, references_on_target=[moved])
    with pytest.raises(CompleakError, match="1 reference membership masks for 0"):
        AttackInputs(target, reference_membership_on_target=[np.zeros(100, bool)])
    with pytest.raises(CompleakError, match="needs at least 1000 non-members"):
        run_nr_attacks(AttackInputs(target, _synthetic(100, 8)), ["loss"],
                       metrics_config=metrics.MetricsConfig(n_bootstrap=0, strict=True))
    with pytest.raises(CompleakError, match="attack confidence cannot run: it needs shadow"):
        run_nr_attacks(AttackInputs(target), ["confidence"])
