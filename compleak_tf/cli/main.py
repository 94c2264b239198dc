"""Entry point: the `compleak-tf` group, logging set-up and the exit-status-2 error path."""
from __future__ import annotations

import logging
import sys

import click

from compleak_tf import __version__
from compleak_tf.errors import CompleakError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="compleak-tf")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """Measure how much compressed TensorFlow / TF-Lite models leak about their training data."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("compleak_tf").setLevel(level)
    if verbose < 2:
        from compleak_tf.tfcompat import import_quietly

        import_quietly()


def _register() -> None:
    import importlib

    for module in ("train", "compress", "attack", "study"):
        for command in importlib.import_module(f"compleak_tf.cli.{module}").COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Runs the CLI; a CompleakError becomes one line on stderr and exit status 2."""
    try:
        cli.main(args=argv, prog_name="compleak-tf", standalone_mode=False)
    except CompleakError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)


if __name__ == "__main__":
    main()
