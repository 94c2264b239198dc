"""compleak-tf: how much more a compressed TensorFlow model leaks about its training data.

Importing the package selects the legacy tf_keras implementation for TensorFlow, which
tensorflow-model-optimization needs; this is the only place that choice is made.
"""
from __future__ import annotations

import os
import sys

__version__ = "0.1.0"

# tfmot wraps only tf_keras models; the variable is read once, when TensorFlow is imported.
os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if "tensorflow" in sys.modules:
    import warnings

    warnings.warn(
        "tensorflow was imported before compleak_tf; import compleak_tf first so that "
        "TF_USE_LEGACY_KERAS=1 takes effect",
        RuntimeWarning,
        stacklevel=2,
    )
