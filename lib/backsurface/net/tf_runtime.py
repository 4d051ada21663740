"""Start TensorFlow once, without its C++ start-up noise (:mod:`backsurface.core.startup_noise`)."""

from __future__ import annotations

import contextlib
import os
import sys

from backsurface.core.startup_noise import filtered_stderr

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_started = False


def start_tensorflow() -> None:
    """Import TensorFlow and initialise its devices (where cuInit runs) with the start-up noise filtered."""
    global _started
    if _started or "tensorflow" in sys.modules:
        _started = True
        return
    with filtered_stderr():
        import tensorflow as tf  # noqa: PLC0415

        tf.config.list_physical_devices()
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.list_logical_devices()
    _started = True
