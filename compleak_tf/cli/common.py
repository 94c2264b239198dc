"""Options shared by the verbs, and the progress display for long stages."""
from __future__ import annotations

import sys
from typing import Any, Callable

import click

from compleak_tf.runs import DEFAULT_ROOT, Run, open_run


def run_options(func: Callable) -> Callable:
    """Adds the options that pick a run: data, architecture, seed, split sizes, folders."""
    options = [
        click.option("--dataset", default="mnist5k", show_default=True,
                     help="Registered name (see `compleak-tf datasets`), npz:PATH or csv:PATH."),
        click.option("--arch", default="cnn", show_default=True,
                     help="Architecture (see `compleak-tf datasets`)."),
        click.option("--seed", default=0, show_default=True, type=int,
                     help="Seed of the split and of training."),
        click.option("--run", "run_name", default=None,
                     help="Run folder name [default: <dataset>-<arch>-seed<seed>]."),
        click.option("--out", default=str(DEFAULT_ROOT), show_default=True,
                     type=click.Path(file_okay=False), help="Output root."),
        click.option("--data-dir", default=None, type=click.Path(file_okay=False),
                     help="TFDS data dir [default: $TFDS_DATA_DIR or ~/tensorflow_datasets]."),
        click.option("--download", is_flag=True, help="Let tfds download a missing dataset."),
        click.option("--members", default=None, type=int,
                     help="Members per model [default: per dataset]."),
        click.option("--non-members", default=None, type=int,
                     help="Non-members per model [default: per dataset]."),
        click.option("--shadows", default=None, type=int, help="Number of shadow models [1]."),
        click.option("--label-column", default="label", show_default=True,
                     help="CSV data: the label column."),
        click.option("--text-columns", default=None,
                     help="CSV data: comma-separated text columns [default: all but the label]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def open_run_from(options: dict[str, Any]) -> Run:
    """Opens the run that the `run_options` values name, consuming those keys."""
    text_columns = options.pop("text_columns", None)
    return open_run(
        dataset=options.pop("dataset"), arch=options.pop("arch"), seed=options.pop("seed"),
        run=options.pop("run_name"), out=options.pop("out"), data_dir=options.pop("data_dir"),
        download=options.pop("download"), members=options.pop("members"),
        non_members=options.pop("non_members"), shadows=options.pop("shadows"),
        label_column=options.pop("label_column"),
        text_columns=text_columns.split(",") if text_columns else None)


class Progress:
    """A progress bar on stderr for a stage of known length (epochs, batches, models)."""

    def __init__(self, label: str, total: int) -> None:
        self._bar = click.progressbar(length=total, label=label, file=sys.stderr,
                                      show_pos=True)
        self._bar.__enter__()
        self._done = 0

    def update(self, done: int) -> None:
        """Moves the bar to `done` units."""
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self._bar.__exit__(None, None, None)


def epoch_progress(label: str) -> Callable:
    """An `on_epoch` callback that draws a bar the first time it is called."""
    state: dict[str, Progress] = {}

    def on_epoch(epoch: int, total: int, logs: dict) -> None:
        if "bar" not in state:
            state["bar"] = Progress(label, total)
        state["bar"].update(epoch)
        if epoch >= total:
            state.pop("bar").close()

    return on_epoch


def echo(message: str = "") -> None:
    """Results go to stdout; progress and logs go to stderr."""
    click.echo(message)
