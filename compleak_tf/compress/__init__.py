"""Compression of trained models into verified .tflite files: pruning, clustering, quantization.

`schemes` parses the scheme grammar, `keras_stage` runs the tfmot steps, `export` converts to
.tflite, `inspect` reads the file back and checks the claims, `pipeline` ties them together.
"""
from __future__ import annotations

from compleak_tf.compress.schemes import (
    GRAMMAR,
    Quantization,
    Scheme,
    Step,
    StepKind,
    parse_scheme,
    parse_schemes,
)

__all__ = ["GRAMMAR", "Quantization", "Scheme", "Step", "StepKind", "parse_scheme",
           "parse_schemes", "compress_model", "compress_model_file", "compress_role",
           "compress_roles"]


def __getattr__(name: str):
    # The pipeline imports TensorFlow; the grammar alone does not need it.
    if name in ("compress_model", "compress_model_file", "compress_role", "compress_roles"):
        from compleak_tf.compress import pipeline

        return getattr(pipeline, name)
    raise AttributeError(name)
