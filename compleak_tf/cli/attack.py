"""The `attack` verb: NR, SR or MR attacks on a run's exported .tflite models.

The models may also be a user's own .tflite files, copied into the run under a scheme name;
the run's split then says which examples each of them was trained on.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import click

from compleak_tf.cli.common import echo, open_run_from, run_options
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

_SCHEME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def _produced(run) -> list[str]:
    """Schemes the victim and every shadow of the run have a .tflite for."""
    roles = list(run.split.roles)
    schemes = [p.stem for p in sorted(run.paths.role_dir("victim").glob("*.tflite"))]
    return [s for s in schemes if all(run.paths.artifact(r, s).is_file() for r in roles)]


def _chosen(run, schemes: tuple[str, ...]) -> list[str]:
    produced = _produced(run)
    wanted = [s.strip() for value in schemes for s in value.split(",") if s.strip()]
    missing = [s for s in wanted if s not in produced]
    if missing:
        raise CompleakError(
            f"run {run.name} has no {', '.join(missing)} for the victim and every shadow; it has: "
            f"{', '.join(produced) or 'nothing yet'} (export with compleak-tf compress)"
        )
    return wanted or produced


def _check_user_tflite(run, role: str, path: Path, scheme: str):
    """Validates a user's .tflite for `role`; returns (bytes, encoder to write or None)."""
    from compleak_tf.data.dataset import Modality
    from compleak_tf.fileio import sha256_file
    from compleak_tf.inference.litert import TFLiteModel
    from compleak_tf.models import load_encoder
    from compleak_tf.models.encoders import IdentityEncoder

    model = TFLiteModel(path)
    encoder_path = run.paths.encoder(role)
    encoder = None
    if encoder_path.is_file():
        expected = load_encoder(encoder_path).model_input_shape
    elif run.dataset.modality is Modality.TEXT:
        raise CompleakError(
            f"{path}: text models need the tokenizer they were trained with, and {role} of run "
            f"{run.name} has none; train and export text models with compleak-tf train/compress"
        )
    else:
        encoder = IdentityEncoder(run.dataset.input_shape)
        expected = encoder.model_input_shape
    if model.input_shape != tuple(expected):
        raise CompleakError(
            f"{path} takes inputs of shape {model.input_shape} per example but {run.dataset.name}"
            f" gives {tuple(expected)}; export the model for this dataset's input shape"
        )
    if model.num_classes != run.dataset.num_classes:
        raise CompleakError(
            f"{path} outputs {model.num_classes} classes but {run.dataset.name} has "
            f"{run.dataset.num_classes}; give a model trained on this dataset"
        )

    target = run.paths.artifact(role, scheme)
    if (target.is_file() and run.paths.sidecar(role, scheme).is_file()
            and sha256_file(target) != sha256_file(path)):
        raise CompleakError(
            f"run {run.name} already has {role}/{scheme}.tflite from compleak-tf compress; "
            "import under another name with --as-scheme, or use another --run"
        )
    return Path(path).read_bytes(), encoder


def import_user_tflite(run, victim: str | None, shadows: tuple[str, ...], scheme: str) -> None:
    """Copies a user's victim and shadow .tflite files into the run as `scheme`.

    Every file is validated before any is copied: it parses, takes the dataset's input shape
    and outputs the dataset's class count. The K-th shadow file becomes role shadowK.
    """
    from compleak_tf.fileio import write_bytes

    if not _SCHEME_NAME.fullmatch(scheme):
        raise CompleakError(f"--as-scheme {scheme!r} is not a usable file name; use letters, "
                            "digits and - _ . +")
    roles = run.split.shadow_roles
    if len(shadows) > len(roles):
        raise CompleakError(
            f"{len(shadows)} --shadow-tflite files given but run {run.name} has {len(roles)} "
            f"shadow role(s); create the run with --shadows {len(shadows)} (or another --run)"
        )
    wanted = ([("victim", Path(victim))] if victim else [])
    wanted += [(role, Path(path)) for role, path in zip(roles, shadows)]
    checked = [(role, path, *_check_user_tflite(run, role, path, scheme))
               for role, path in wanted]
    for role, path, data, encoder in checked:
        write_bytes(run.paths.artifact(role, scheme), data)
        if encoder is not None:
            encoder.save(run.paths.encoder(role))
        logger.info("imported %s as %s/%s", path, role, scheme)


def _line(name: str, figures) -> str:
    tprs = {round(t.target_fpr, 6): t.tpr for t in figures.tpr_at_fpr}

    def ci(estimate) -> str:
        if estimate.ci_low is None:
            return f"{estimate.value:.3f}"
        return f"{estimate.value:.3f} [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"

    return (f"{name:<34} {ci(figures.auc):<22} {figures.balanced_accuracy.value:>8.3f} "
            f"{tprs[0.001].value:>11.4f} {tprs[0.01].value:>10.4f}")


_HEADER = (f"{'attack':<34} {'AUC [95% CI]':<22} {'bal.acc':>8} {'TPR@0.1%':>11} "
           f"{'TPR@1%':>10}  AUC gain over the SR control (SR, MR)")


def _gain(scores, control, membership, bootstrap: int, name: str) -> str:
    """'  +0.012 [-0.004, +0.027]': paired bootstrap of AUC against the label-aware control."""
    from compleak_tf.metrics import paired_bootstrap

    if scores is control or "control" in name:
        return ""
    diff = paired_bootstrap(scores, control, membership, "auc",
                            n_bootstrap=max(1, bootstrap)).difference
    verdict = "" if diff.ci_low > 0 or diff.ci_high < 0 else "  (no measurable difference)"
    return f"  {diff.value:+.3f} [{diff.ci_low:+.3f}, {diff.ci_high:+.3f}]{verdict}"


_HELP = """Attack the run's victim through its .tflite files; print, write JSON, plot ROC.

\b
The run's models are those that compleak-tf train/compress exported, or a user's own:
  --victim-tflite v.tflite --shadow-tflite s0.tflite [--shadow-tflite s1.tflite ...]
copies them into the run as <run>/victim/<scheme>.tflite and <run>/shadowK/<scheme>.tflite
(scheme from --as-scheme, default original) and attacks them. The run's split says what each
was trained on: the victim on the victim role's members, the K-th shadow on shadowK's
(`compleak-tf split` with the same run options prints and writes it). Each file must take
the dataset's input shape and output its class count; image and tabular models get an
identity input encoder, text models need a run whose roles were trained by compleak-tf.
"""


@click.command("attack", help=_HELP)
@run_options
@click.option("--variant", type=click.Choice(["nr", "sr", "mr"]), default="nr",
              show_default=True, help="One model, original + one compressed, or several.")
@click.option("--scheme", "schemes", multiple=True,
              help="Scheme(s) to attack (repeat or comma-separate) [default: all exported].")
@click.option("--schemes", "schemes_csv", default=None,
              help="Comma-separated schemes (same as --scheme a,b; for MR).")
@click.option("--attack", "attacks", multiple=True,
              help="NR attack(s) to run [default: all whose inputs exist].")
@click.option("--no-original", is_flag=True, help="MR without the original model.")
@click.option("--features", default="sr2", show_default=True,
              type=click.Choice(["sr1", "sr2", "loss-pair", "difference"]),
              help="SR features: sorted posteriors of both models (sr1), plus the one-hot "
                   "label (sr2), the two losses, or the sorted difference.")
@click.option("--classifier", default="forest", show_default=True,
              type=click.Choice(["forest", "logreg", "mlp"]), help="SR classifier.")
@click.option("--trees", default=500, show_default=True, help="Trees of random forests.")
@click.option("--bootstrap", default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--victim-tflite", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your own victim .tflite, trained on the split's victim members.")
@click.option("--shadow-tflite", "shadow_tflites", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Your own shadow .tflite; repeat for shadow0, shadow1, ... in order.")
@click.option("--as-scheme", default="original", show_default=True,
              help="Scheme name your .tflite files are filed and reported under.")
def attack_cmd(variant, schemes, schemes_csv, attacks, no_original, features, classifier,
               trees, bootstrap, victim_tflite, shadow_tflites, as_scheme, **options) -> None:
    from compleak_tf.attacks.registry import attack_names
    from compleak_tf.fileio import save_npz, write_json
    from compleak_tf.inference.harvest import Harvester
    from compleak_tf.metrics import MetricsConfig, evaluate
    from compleak_tf.report.plots import roc_curves_plot
    from compleak_tf.study.evaluate import RunAttacks, mr_name

    unknown = [a for a in attacks if a not in attack_names()]
    if unknown:
        raise CompleakError(f"unknown attack(s) {', '.join(unknown)}; known: "
                            f"{', '.join(attack_names())}")
    run = open_run_from(options)
    if victim_tflite or shadow_tflites:
        import_user_tflite(run, victim_tflite, shadow_tflites, as_scheme)
    chosen = _chosen(run, schemes + ((schemes_csv,) if schemes_csv else ()))
    runner = RunAttacks(Harvester(run), forest_trees=trees, seed=run.seed,
                        nr_attacks=list(attacks) or None, sr_features=features,
                        sr_classifier=classifier)
    config = MetricsConfig(n_bootstrap=bootstrap)
    evaluation = runner.evaluation("original" if "original" in _produced(run) else chosen[0])
    membership = evaluation.membership
    results: dict[str, object] = {}
    curves = []
    echo(_HEADER)
    if variant == "nr":
        for scheme in chosen:
            nr = runner.nr(scheme)
            for name, result in nr.results.items():
                figures = evaluate(result.scores, membership, attack=name, config=config,
                                   threshold=result.decision_threshold, warn=False)
                echo(_line(f"{scheme}: {name}", figures))
                results[f"{scheme}/{name}"] = (result.scores, figures)
            best = max(nr.results, key=lambda n: nr.results[n].metrics.auc.value)
            curves.append((f"{scheme}: {best}", nr.results[best].scores))
    elif variant == "sr":
        compressed = [s for s in chosen if s != "original"]
        if not compressed:
            raise CompleakError("SR needs a compressed scheme besides original; export one with "
                                "compleak-tf compress")
        control = runner.control()
        named = [("control (original twice)", control)]
        named += [(f"SR {s}", runner.sr(s)) for s in compressed]
        for name, scores in named:
            figures = evaluate(scores, membership, attack=name, config=config, threshold=0.5)
            echo(_line(name, figures) + _gain(scores, control, membership, bootstrap, name))
            results[name] = (scores, figures)
            curves.append((name, scores))
    else:
        compressed = [s for s in chosen if s != "original"]
        result = runner.mr(compressed, with_original=not no_original)
        name = mr_name(compressed, not no_original)
        control = runner.control()
        for label, scores in ((name, result.scores), ("SR control", control)):
            figures = evaluate(scores, membership, attack=label, config=config)
            echo(_line(label, figures) + _gain(scores, control, membership, bootstrap, label))
            results[label] = (scores, figures)
            curves.append((label, scores))
        echo(f"meta-classifier: {result.meta_classifier} (shadow CV AUC "
             f"{result.cv_auc[result.meta_classifier]:.3f}); stacked: {', '.join(result.models)}")
        results["mr_info"] = result.summary()

    stem = f"attack-{variant}"
    directory = run.paths.attacks_dir
    arrays = {"index": evaluation.indices, "label": evaluation.labels,
              "membership": membership}
    arrays.update({k: v[0] for k, v in results.items() if isinstance(v, tuple)})
    save_npz(directory / f"{stem}_scores.npz", **arrays)
    write_json(directory / f"{stem}.json", {
        "run": run.name, "variant": variant, "schemes": chosen,
        "results": {k: (v[1].to_dict() if isinstance(v, tuple) else v)
                    for k, v in results.items()}})
    plot = roc_curves_plot(curves, membership, directory / f"{stem}_roc.png",
                           f"{variant.upper()} on {run.name}")
    echo(f"wrote {directory / (stem + '.json')}, {directory / (stem + '_scores.npz')}, {plot}")


COMMANDS = [attack_cmd]
