"""TensorFlow's and Warp's start-up noise is filtered from the console; every other message still gets through."""

import os

from backsurface.core.startup_noise import filter_startup_noise, filtered_stderr, is_startup_noise

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796119547.152276    4347 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used.",
    "I0000 00:00:1796119547.151871    4347 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1796119551.228569    4347 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
    "call to cuInit: UNKNOWN ERROR (303)",
    "Warp CUDA warning: Could not find or load the NVIDIA CUDA driver. GPU execution will not be available.",
]
REAL = [
    "E0000 00:00:1796119551.228569    4347 bfc_allocator.cc:485] Allocator ran out of memory trying to allocate 4GiB",
    "Traceback (most recent call last):",
    "W0000 00:00:1796119551.2 4347 op_level_cost_estimator.cc:699] Error in PredictCost() for the op",
    "ValueError: input_size must be a multiple of 8",
]


def test_known_start_up_lines_are_noise_and_real_messages_are_not():
    assert all(is_startup_noise(line) for line in NOISE)
    assert not any(is_startup_noise(line) for line in REAL)
    assert filter_startup_noise("\n".join(NOISE + REAL) + "\n") == "\n".join(REAL) + "\n"


def test_filtered_stderr_drops_noise_written_by_native_code_and_keeps_the_rest(capfd):
    with filtered_stderr():
        for line in NOISE[:2] + REAL[:1] + NOISE[3:]:
            os.write(2, (line + "\n").encode())  # as C++ writes: straight to file descriptor 2
    err = capfd.readouterr().err
    assert err == REAL[0] + "\n"


def test_importing_the_network_layer_prints_no_start_up_noise():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import backsurface.net.model"], capture_output=True, text=True,
                         check=True, env={k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert not any(is_startup_noise(line) for line in out.stderr.splitlines()), out.stderr
    assert "cuInit" not in out.stderr and "absl::InitializeLog" not in out.stderr
