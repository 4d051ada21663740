"""Native libraries' start-up noise on a machine without a GPU: filtered out, every other message kept.

TensorFlow and Warp (the body model's skinning kernels) write start-up lines from C++ straight to file
descriptor 2 — past Python's logging and ``TF_CPP_MIN_LOG_LEVEL`` — into the console and the executed
notebooks: ``WARNING: All log messages before absl::InitializeLog() is called …``, absl INFO lines
(``I0000 … cudart_stub.cc … Could not find cuda drivers``), ``E0000 … failed call to cuInit: … (303)``,
``Warp CUDA warning: Could not find or load the NVIDIA CUDA driver``.  :func:`filtered_stderr` captures
descriptor 2 around the start-up and writes back every captured line that is not such noise, so a real
error (or a message about a GPU that is there) still reaches the user.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$"),
    re.compile(r"^I\d{4} [\d:.]+\s+\d+ \S+\] "),  # absl INFO lines (cudart stub, oneDNN, CPU features)
    re.compile(r"^E\d{4} [\d:.]+\s+\d+ cuda_(platform|executor|diagnostics)\.cc:\d+\] "
               r"(failed call to cuInit|.*CUDA_ERROR_NO_DEVICE|.*no CUDA-capable device)"),
    re.compile(r"^Warp CUDA warning: Could not find or load the NVIDIA CUDA driver\. GPU execution will not be "
               r"available\.$"),
)


def is_startup_noise(line: str) -> bool:
    """True for one of the known start-up lines of a native library on a machine without a usable GPU."""
    return any(p.search(line) for p in NOISE)


def filter_startup_noise(text: str) -> str:
    """``text`` without the start-up noise lines (everything else kept, in order)."""
    return "".join(line for line in text.splitlines(keepends=True) if not is_startup_noise(line.rstrip("\n")))


@contextlib.contextmanager
def filtered_stderr():
    """Capture file descriptor 2 (C++ writes go there directly) and write back what is not noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            rest = filter_startup_noise(capture.read().decode("utf-8", errors="replace"))
            if rest:
                sys.stderr.write(rest)
                sys.stderr.flush()
