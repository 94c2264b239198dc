"""Times harvesting through LiteRT against Keras `predict`, and against bare interpreter calls.

Run: .venv/bin/python benchmarks/bench_harvest.py [--out tflite_artifacts] [--repeats 5]

Uses the mnist5k CNN run (`<out>/mnist5k-cnn-seed0`), training its victim and exporting the
"original" and "ptq-int8" .tflite files first when they are missing. On the dataset's first
5,000 inputs it prints, for the float32 and the int8 file: samples per second of
`TFLiteModel.predict` and of the Keras model's `predict` (both at batch 256) with their
ratio, and the time of `predict` over a loop that only sets, invokes and reads the
interpreter on pre-quantized batches (the harvest's own overhead). Times are the best of
`--repeats` runs after one warm-up. The attack timings live in bench_attacks.py.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Callable

import numpy as np

import compleak_tf  # noqa: F401  (chooses legacy Keras before TensorFlow loads)
from compleak_tf.compress import compress_role
from compleak_tf.inference.litert import TFLiteModel
from compleak_tf.models import load_encoder, load_model
from compleak_tf.runs import DEFAULT_ROOT, open_run
from compleak_tf.training import train_role

NUM_INPUTS = 5000
BATCH = 256
SCHEMES = ("original", "ptq-int8")


def best_of(func: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of `repeats` calls, after one untimed warm-up call."""
    func()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def best_of_interleaved(first: Callable[[], object], second: Callable[[], object],
                        repeats: int) -> tuple[float, float]:
    """Best times of two calls timed in alternation, so that load from other processes on a
    shared machine affects both alike."""
    first()
    second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for func, kept in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            func()
            kept.append(time.perf_counter() - started)
    return min(times[0]), min(times[1])


def bare_loop(model: TFLiteModel, batches: list[np.ndarray]) -> Callable[[], None]:
    """Only set_tensor / invoke / get_tensor over already quantized, full-size batches."""
    interpreter = model._interpreter  # the bare baseline has to reach the interpreter itself

    def loop() -> None:
        model._resize(len(batches[0]))
        input_index = model._input["index"]
        output_index = model._output["index"]
        for batch in batches:
            interpreter.set_tensor(input_index, batch)
            interpreter.invoke()
            interpreter.get_tensor(output_index)

    return loop


def prepare(out: str) -> "object":
    """The mnist5k CNN run with a trained victim and both exported schemes."""
    run = open_run(dataset="mnist5k", arch="cnn", out=out)
    if not run.paths.model("victim").is_file():
        print("training the mnist5k CNN victim (one-off) ...", flush=True)
        train_role(run, "victim")
    for scheme in SCHEMES:
        if not run.paths.artifact("victim", scheme).is_file():
            print(f"exporting victim/{scheme} ...", flush=True)
            compress_role(run, "victim", scheme)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_ROOT), help="Output root of the run.")
    parser.add_argument("--repeats", type=int, default=5, help="Timed runs (best is kept).")
    parser.add_argument("--threads", type=int, action="append", default=None,
                        help="LiteRT interpreter threads, repeatable [default: LiteRT's choice "
                        "(one thread) and the CPU count].")
    args = parser.parse_args()

    run = prepare(args.out)
    encoder = load_encoder(run.paths.encoder("victim"))
    inputs = encoder.transform(run.dataset.x[:NUM_INPUTS])
    n = len(inputs)
    keras_model = load_model(run.paths.model("victim"))
    keras_seconds = best_of(lambda: keras_model.predict(inputs, batch_size=BATCH, verbose=0),
                            args.repeats)

    rows = []
    threads = args.threads or [None, os.cpu_count()]
    for scheme, num_threads in ((s, t) for s in SCHEMES for t in threads):
        model = TFLiteModel(run.paths.artifact("victim", scheme), num_threads=num_threads)
        quantized = model._quantize_input(inputs)
        usable = n - n % BATCH
        batches = [quantized[s:s + BATCH] for s in range(0, usable, BATCH)]
        litert_seconds = best_of(lambda: model.predict(inputs, batch_size=BATCH), args.repeats)
        # Overhead on the same full batches, so that the padded last batch is not counted.
        full = inputs[:usable]
        harvest_full, bare_full = best_of_interleaved(
            lambda: model.predict(full, batch_size=BATCH), bare_loop(model, batches),
            2 * args.repeats)
        rows.append((scheme, model.input_dtype.name, num_threads or "default",
                     n / litert_seconds, n / keras_seconds, keras_seconds / litert_seconds,
                     harvest_full / bare_full - 1.0))

    print(f"\nHarvest throughput on {run.name}, victim, {n} inputs, batch {BATCH}, best of "
          f"{args.repeats} ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; Keras uses all of them)\n")
    print("| scheme | input | LiteRT threads | LiteRT samples/s | Keras samples/s | LiteRT / Keras "
          "| predict overhead over bare invoke |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for scheme, dtype, num_threads, litert_rate, keras_rate, ratio, overhead in rows:
        print(f"| {scheme} | {dtype} | {num_threads} | {litert_rate:,.0f} | {keras_rate:,.0f} "
              f"| {ratio:.1f}x | {100 * overhead:+.1f} % |")
    print("\nTargets: LiteRT / Keras >= 4x; overhead <= 10 %. The Keras column is the float32 "
          "Keras model in both rows (the int8 file has no Keras counterpart).")


if __name__ == "__main__":
    main()
