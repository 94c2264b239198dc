"""Verbs that prepare models: `datasets`, `split` and `train`."""
from __future__ import annotations

import click

from compleak_tf.cli.common import echo, epoch_progress, open_run_from, run_options
from compleak_tf.errors import CompleakError


@click.command("datasets")
def datasets_cmd() -> None:
    """List the registered datasets and architectures."""
    from compleak_tf.data import describe_datasets
    from compleak_tf.models import architecture, architecture_names

    echo("Datasets (also npz:PATH with arrays x, y; csv:PATH with a label column):")
    for name, modality, description in describe_datasets():
        echo(f"  {name:<16} {modality:<8} {description}")
    echo("Architectures:")
    for name in architecture_names():
        arch = architecture(name)
        kinds = ",".join(sorted(m.value for m in arch.modalities))
        echo(f"  {name:<16} {kinds:<14} {arch.description}")


@click.command("split")
@run_options
def split_cmd(**options) -> None:
    """Create (or verify) the run's member / non-member split and print its sizes."""
    run = open_run_from(options)
    manifest = run.split
    echo(f"split {run.paths.split}: seed {manifest.seed}, data hash {manifest.data_hash[:12]}")
    for role in manifest.roles:
        echo(f"  {role:<8} members {len(manifest.members(role)):>6}  "
             f"non-members {len(manifest.non_members(role)):>6}")
    echo(f"  population {len(manifest.population)}")


def resolve_role(role: str, index: int | None) -> str:
    """'shadow' with --index K, or 'shadowK', or 'victim'."""
    if role == "shadow":
        return f"shadow{index or 0}"
    if index is not None and role == "victim":
        raise CompleakError("--index applies to --role shadow only")
    return role


@click.command("train")
@run_options
@click.option("--role", default="victim", show_default=True,
              help="victim, shadow (with --index), shadowK, or all.")
@click.option("--index", default=None, type=int, help="Shadow index for --role shadow.")
@click.option("--epochs", default=None, type=int, help="Epochs [default: per architecture].")
@click.option("--batch-size", default=None, type=int)
@click.option("--learning-rate", default=None, type=float)
def train_cmd(role: str, index: int | None, epochs, batch_size, learning_rate, **options) -> None:
    """Train the victim or a shadow model on its members only."""
    from compleak_tf.training import train_role

    run = open_run_from(options)
    roles = list(run.split.roles) if role == "all" else [resolve_role(role, index)]
    for name in roles:
        record = train_role(run, name, epochs=epochs, batch_size=batch_size,
                            learning_rate=learning_rate, on_epoch=epoch_progress(f"train {name}"))
        echo(f"{name}: train acc {record['train_accuracy']:.3f}, held-out acc "
             f"{record['held_out_accuracy']:.3f}, gap {record['gap']:.3f}, "
             f"{record['train_seconds']:.0f} s -> {run.paths.model(name)}")


COMMANDS = [datasets_cmd, split_cmd, train_cmd]
