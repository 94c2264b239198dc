"""Benchmark of every compression scheme on the mnist5k CNN victim: time, size, accuracy.

Trains the victim first when the run lacks it. Prints a Markdown table: fine-tune and
conversion seconds, raw and gzip size relative to `original`, and member / non-member
accuracy measured through LiteRT.

    .venv/bin/python benchmarks/bench_compress.py [--out DIR] [--role victim]
"""
from __future__ import annotations

import argparse
import logging
import time

import compleak_tf  # noqa: F401  (selects tf_keras before TensorFlow loads)

logger = logging.getLogger(__name__)

SCHEMES = ("original", "prune50", "prune80", "prune90", "cluster8", "cluster16", "qat-int8",
           "ptq-int8", "ptq-float16", "ptq-dynamic", "prune80+ptq-int8", "prune50+cluster8",
           "prune80+cluster16+qat-int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tflite_artifacts")
    parser.add_argument("--role", default="victim")
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    args = parser.parse_args()

    from compleak_tf.compress import compress_role
    from compleak_tf.runs import open_run
    from compleak_tf.training import train_role

    run = open_run(dataset="mnist5k", arch="cnn", seed=0, out=args.out)
    if not run.paths.model(args.role).exists():
        train_role(run, args.role)
    records = []
    for scheme in args.schemes.split(","):
        started = time.perf_counter()
        record = compress_role(run, args.role, scheme)
        record["wall"] = time.perf_counter() - started
        records.append(record)

    base = next((r for r in records if r["scheme"]["name"] == "original"), records[0])
    print(f"mnist5k CNN, role {args.role}, {records[0]['members']} members / "
          f"{records[0]['non_members']} non-members; accuracy through LiteRT\n")
    print("| scheme | fine-tune s | convert s | size KB | size ratio | gzip KB | gzip ratio "
          "| member acc | non-member acc |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in records:
        seconds = r["seconds"]
        print(f"| {r['scheme']['name']} | {seconds['fine_tune']:.1f} | {seconds['convert']:.1f} "
              f"| {r['size_bytes'] / 1024:.0f} | {r['size_bytes'] / base['size_bytes']:.2f} "
              f"| {r['gzip_bytes'] / 1024:.0f} | {r['gzip_bytes'] / base['gzip_bytes']:.2f} "
              f"| {r['accuracy']['members']:.3f} | {r['accuracy']['non_members']:.3f} |")


if __name__ == "__main__":
    main()
