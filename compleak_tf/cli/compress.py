"""The `compress` verb: prune, cluster and quantize trained models into verified .tflite files."""
from __future__ import annotations

import logging

import click

from compleak_tf.cli.common import echo, open_run_from, run_options
from compleak_tf.compress.schemes import GRAMMAR, parse_schemes
from compleak_tf.errors import CompleakError

logger = logging.getLogger(__name__)

_HELP = ("Compress trained models into .tflite files whose claims (zeros, shared values, "
         "dtypes) are verified by reading the file back.\n\n"
         "By default every role of the run (victim and all shadows) is compressed with "
         "identical settings; fine-tuning uses each role's members only.\n\n"
         "\b\nSchemes:\n" + GRAMMAR)


def _size(num_bytes: int) -> str:
    return f"{num_bytes / 1024:.0f} KB" if num_bytes < 10 * 1024 * 1024 else \
        f"{num_bytes / 1024 / 1024:.1f} MB"


def _accuracy(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(records: list[dict]) -> None:
    header = (f"{'scheme':<28} {'role':<8} {'member acc':>10} {'non-member acc':>14} "
              f"{'size':>9} {'gzip':>9} {'time s':>7}")
    echo(header)
    echo("-" * len(header))
    for r in records:
        seconds = r["seconds"]["fine_tune"] + r["seconds"]["convert"]
        echo(f"{r['scheme']['name']:<28} {r.get('role') or 'model':<8} "
             f"{_accuracy(r['accuracy']['members']):>10} "
             f"{_accuracy(r['accuracy']['non_members']):>14} {_size(r['size_bytes']):>9} "
             f"{_size(r['gzip_bytes']):>9} {seconds:>7.1f}")


@click.command("compress", help=_HELP)
@run_options
@click.option("--scheme", "schemes", multiple=True, required=True,
              help="Scheme (see above); repeat or comma-separate for several.")
@click.option("--role", default="all", show_default=True,
              help="victim, shadowK, or all (victim and every shadow).")
@click.option("--epochs", default=None, type=int,
              help="Fine-tuning epochs of every step [default: per step].")
@click.option("--learning-rate", default=None, type=float,
              help="Fine-tuning learning rate of every step [default: per step].")
@click.option("--batch-size", default=None, type=int,
              help="Fine-tuning batch size [default: the architecture's].")
@click.option("--model", "model_path", default=None, type=click.Path(dir_okay=False),
              help="Compress your own tf_keras model file instead of a run's models; "
                   "--dataset is taken as its training data.")
@click.option("--held-out", default=None,
              help="With --model: a dataset the model never saw, for non-member accuracy.")
def compress_cmd(schemes: tuple[str, ...], role: str, epochs: int | None,
                 learning_rate: float | None, batch_size: int | None, model_path: str | None,
                 held_out: str | None, **options) -> None:
    parsed = parse_schemes(list(schemes))
    settings = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size}
    if model_path is not None:
        from compleak_tf.compress.pipeline import compress_model_file, model_output_dir

        if role != "all":
            raise CompleakError("--role applies to a run's models, not to --model; drop it")
        records = [compress_model_file(model_path, options["dataset"], scheme,
                                       out=options["out"], held_out=held_out,
                                       seed=options["seed"], data_dir=options["data_dir"],
                                       download=options["download"], **settings)
                   for scheme in parsed]
        _table(records)
        echo(f"files under {model_output_dir(model_path, options['out'])}")
        return
    if held_out is not None:
        raise CompleakError("--held-out applies to --model only; a run has its own non-members")

    from compleak_tf.compress.pipeline import compress_roles

    run = open_run_from(options)
    roles = None if role == "all" else [role]
    records = compress_roles(run, parsed, roles, **settings)
    _table(records)
    echo(f"files under {run.paths.root}")


COMMANDS = [compress_cmd]
