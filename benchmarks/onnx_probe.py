"""Helpers of benchmarks/bench_export.py: int8 static quantisation of an ONNX export and a per-part profile.

Benchmark-side only (the study's predictor runs the float32 export): these measure whether int8 or a lighter part
of the network would buy the Kinect's 30 frames/s on this CPU before the study changes its model.

- :func:`quantize` writes an int8 copy of an ONNX file (QDQ format, int8 weights per output channel, uint8
  activations; ``reduce_range`` on CPUs without VNNI, where the full 8-bit range saturates the AVX2 kernels),
  calibrated on the images it is given.
- :func:`time_by_part` runs an ONNX file with ONNX Runtime's profiler on and sums the node times by model part
  (the backbone cut, the feature reduction, each stage), from the layer names that :mod:`backsurface.net.model`
  gives and the export keeps.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np

PARTS = ((re.compile(r"_stride8"), "backbone"), (re.compile(r"/features_conv"), "feature reduction"),
         (re.compile(r"/s(\d+)_b\d"), "stage {}"))


def cpu_has_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(f in flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


def quantize(src: Path, dst: Path, images: np.ndarray) -> Path:
    """``dst``: ``src`` with int8 weights and activations, calibrated (min/max) on ``images`` (N, S, S)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static  # noqa: PLC0415
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    class Frames(CalibrationDataReader):
        def __init__(self):
            self._it = iter(np.asarray(images, np.float32)[:, None, ..., None])

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {"depth": x}

    pre = dst.with_suffix(".pre.onnx")
    quant_pre_process(str(src), str(pre))
    quantize_static(str(pre), str(dst), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=not cpu_has_vnni())
    pre.unlink()
    return dst


def part_of(node_name: str) -> str:
    for pattern, label in PARTS:
        m = pattern.search(node_name)
        if m:
            return label.format(*m.groups())
    return "other"


def time_by_part(path: Path, x: np.ndarray, runs: int) -> dict[str, float]:
    """Milliseconds per run of each model part: ONNX Runtime's node events averaged over every run of the session,
    the one warm-up run before the ``runs`` timed ones included (the profiler records from the session's start)."""
    import onnxruntime as ort  # noqa: PLC0415

    so = ort.SessionOptions()
    so.enable_profiling = True
    so.profile_file_prefix = str(path.with_suffix(""))
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.asarray(x, np.float32)}
    session.run(None, feed)
    for _ in range(runs):
        session.run(None, feed)
    trace = Path(session.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    totals: dict[str, float] = defaultdict(float)
    runs_seen = sum(1 for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            totals[part_of(e["name"])] += e["dur"] / 1000.0
    return {k: v / max(runs_seen, 1) for k, v in sorted(totals.items())}
