"""The `reproduce` verb: the whole study in one command, with table, plots and cache."""
from __future__ import annotations

import sys
import time

import click

from compleak_tf.cli.common import echo, epoch_progress


def _csv(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


@click.command("reproduce")
@click.option("--scale", default="quick", show_default=True,
              help="quick (mnist5k CNN, offline), text (AG News transformer), paper "
                   "(CIFAR-10 ResNet-18 via tfds), or tiny (digits, for tests).")
@click.option("--seeds", default=None, type=int,
              help="Repeat the whole study with seeds 0..N-1 [default: 3 for quick and "
                   "text, 1 for paper and tiny].")
@click.option("--schemes", default=None, help="Comma-separated table rows (with original).")
@click.option("--mr-schemes", default=None, help="Comma-separated schemes MR stacks.")
@click.option("--epochs", default=None, type=int, help="Training epochs [per architecture].")
@click.option("--members", default=None, type=int, help="Members per model [per scale].")
@click.option("--non-members", default=None, type=int,
              help="Non-members per model [per scale].")
@click.option("--shadows", default=None, type=int,
              help="Shadow models (references for LiRA / RMIA) [1].")
@click.option("--trees", default=None, type=int, help="Trees of every random forest [500].")
@click.option("--bootstrap", default=None, type=int, help="Bootstrap resamples [1000].")
@click.option("--out", default="tflite_artifacts", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--data-dir", default=None, type=click.Path(file_okay=False),
              help="TFDS data dir (text and paper scales).")
@click.option("--download", is_flag=True, help="Let tfds download a missing dataset.")
@click.option("--force", multiple=True,
              help="Recompute a stage even when cached: train, compress, harvest, attack.")
def reproduce_cmd(scale, seeds, schemes, mr_schemes, epochs, members, non_members, shadows,
                  trees, bootstrap, out, data_dir, download, force) -> None:
    """Run the whole study: split, train, compress, harvest, NR / SR / MR, table and plots."""
    from compleak_tf.report.plots import write_plots
    from compleak_tf.report.table import build_table, markdown, write_table
    from compleak_tf.study.config import scale_config
    from compleak_tf.study.pipeline import Study, config_record

    started = time.perf_counter()
    config = scale_config(
        scale, seeds=tuple(range(seeds)) if seeds else None, schemes=_csv(schemes),
        mr_schemes=_csv(mr_schemes), epochs=epochs, members=members, non_members=non_members,
        shadows=shadows, forest_trees=trees, bootstrap=bootstrap,
        out=out, data_dir=data_dir, download=download or None)
    study = Study(config, force=set(force),
                  log=lambda message: click.echo(message, err=True),
                  epoch_progress=epoch_progress if sys.stderr.isatty() else None)
    result = study.run()
    click.echo("building the table and plots ...", err=True)
    table = build_table(result.seeds, list(config.schemes), config.bootstrap)
    cached = {stage: sum(s.cached[stage] for s in result.seeds) for stage in result.seeds[0].cached}
    seconds = time.perf_counter() - started
    extra = {"config": config_record(config), "seconds": round(seconds, 1),
             "runs": [str(s.run.paths.root) for s in result.seeds], "cached": cached}
    files = write_table(table, config.study_dir, extra)
    plots = write_plots(result.seeds[0], table, config.study_dir)
    echo(markdown(table))
    echo(f"study {config.scale.value}: {len(config.seeds)} seed(s) in {seconds:.0f} s "
         f"(reused: {cached['train']} trained models, {cached['compress']} compressed models, "
         f"{cached['attack']} attack stages)")
    echo(f"table: {files['md']}, {files['csv']}, {files['json']}")
    echo(f"plots: {', '.join(str(p) for p in plots.values())}")


DEMO_SCHEMES = ("original", "prune80", "cluster16", "ptq-int8")


@click.command("demo")
@click.option("--out", default="tflite_artifacts", show_default=True,
              type=click.Path(file_okay=False))
def demo_cmd(out: str) -> None:
    """A short study on the embedded default (mnist5k, cnn): train victim and shadow, compress
    with three schemes, attack, and print accuracy, size and leakage."""
    from compleak_tf.report.table import build_table, markdown, write_table
    from compleak_tf.study.config import scale_config
    from compleak_tf.study.pipeline import Study

    started = time.perf_counter()
    config = scale_config("quick", schemes=DEMO_SCHEMES, mr_schemes=DEMO_SCHEMES[1:],
                          forest_trees=100, bootstrap=200, out=out, table_name="demo")
    result = Study(config, log=lambda message: click.echo(message, err=True),
                   epoch_progress=epoch_progress if sys.stderr.isatty() else None).run()
    seed = result.seeds[0]
    echo(f"run {seed.run.paths.root}: {config.members} members / {config.non_members} "
         "non-members per model")
    for role, record in seed.train_records.items():
        echo(f"  {role:<8} train acc {record['train_accuracy']:.3f}  held-out "
             f"{record['held_out_accuracy']:.3f}  gap {record['gap']:.3f}")
    echo("")
    echo(f"{'victim scheme':<14} {'member acc':>10} {'held-out acc':>12} {'.tflite KB':>10} "
         f"{'gzip KB':>8}")
    for scheme, sidecar in seed.sidecars.items():
        echo(f"{scheme:<14} {sidecar['accuracy']['members']:>10.3f} "
             f"{sidecar['accuracy']['non_members']:>12.3f} {sidecar['size_bytes'] / 1024:>10.0f} "
             f"{sidecar['gzip_bytes'] / 1024:>8.0f}")
    table = build_table(result.seeds, list(config.schemes), config.bootstrap)
    files = write_table(table, config.study_dir)
    echo("")
    echo(markdown(table))
    echo(f"demo finished in {time.perf_counter() - started:.0f} s; models and .tflite files "
         f"under {seed.run.paths.root}, tables under {files['md'].parent}")
    echo("next: compleak-tf compress --scheme cluster8, compleak-tf attack --variant sr, "
         "make reproduce-table3")


COMMANDS = [reproduce_cmd, demo_cmd]
