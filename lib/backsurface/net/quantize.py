"""An int8 copy of an ONNX export (ONNX Runtime static quantisation), calibrated on frames the model was trained on.

The copy keeps the export's float32 input ``depth`` and outputs ``heatmaps`` and ``pafs`` (QDQ format: quantise /
dequantise pairs around int8 convolutions), and carries the model's label codec beside it, so
:func:`backsurface.net.inference.open_model` and the :class:`~backsurface.net.predictor.Predictor` open it as any
ONNX export.  Weights are int8 per output channel, activations uint8 with ranges from min/max calibration.

It is faster only where ONNX Runtime's int8 convolutions beat its float32 ones: CPUs with VNNI (AVX-512 VNNI,
AVX-VNNI) or AMX; on an AVX2-only CPU it ran at 0.98x the float32 export.  Weights are 7-bit by default
(``reduce_range``: full 8-bit products saturate the AVX2 kernels, and one export should give the same file on
every machine); :func:`cpu_int8_flags` says whether this CPU has the int8 kernels.  Calibrate on training frames,
never on the frames the copy is then scored on; ``benchmarks/bench_predictor.py --int8`` measures both its speed
and its error against the float32 export on the test split.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from backsurface.codec.label_codec import LabelCodec
from backsurface.core.atomic import atomic_file
from backsurface.core.cpu import cpu_flags

INT8_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")


class QuantizeError(ValueError):
    """Calibration images that cannot calibrate the network (wrong shape, none at all, not finite)."""


def cpu_int8_flags(cpuinfo: str | None = None) -> list[str]:
    """The int8 dot-product extensions this CPU reports (``/proc/cpuinfo``; empty where it cannot be read)."""
    flags = cpu_flags(cpuinfo)
    return [f for f in INT8_FLAGS if f in flags]


def check_calibration(images: np.ndarray, size: int) -> np.ndarray:
    """``images`` as float32 (N, size, size), or :class:`QuantizeError` saying what is wrong with them."""
    x = np.asarray(images, dtype=np.float32)
    if x.size == 0:
        raise QuantizeError("no calibration images: give the codec's preprocessed inputs of some training frames")
    if x.ndim != 3 or x.shape[1:] != (size, size):
        raise QuantizeError(f"calibration images must be (N, {size}, {size}) preprocessed inputs, got {x.shape}")
    if not np.isfinite(x).all():
        raise QuantizeError("calibration images hold NaN or inf: give the codec's preprocessed inputs")
    return x


def to_onnx_int8(onnx_path: str | Path, codec: LabelCodec, path: str | Path, images: np.ndarray,
                 reduce_range: bool = True) -> Path:
    """``path``: the float32 ONNX export ``onnx_path`` with int8 weights and activations, calibrated on ``images``
    ((N, S, S), the codec's preprocessed inputs of training frames); written whole or not at all, with the codec
    beside it.  ``reduce_range`` (the default): 7-bit weights, correct on every CPU, so that one export gives the
    same file wherever it runs; ``False``: full 8-bit weights, for a CPU with :data:`INT8_FLAGS` only (on AVX2
    alone the 8-bit products saturate)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static  # noqa: PLC0415
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    x = check_calibration(images, codec.input_size)

    class Frames(CalibrationDataReader):
        def __init__(self):
            self._it = iter(x[:, None, ..., None])

        def get_next(self):
            frame = next(self._it, None)
            return None if frame is None else {"depth": frame}

    with tempfile.TemporaryDirectory() as tmp:
        pre, out = Path(tmp) / "pre.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(onnx_path), str(pre))
        quantize_static(str(pre), str(out), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=reduce_range)
        with atomic_file(path, "wb") as fh:
            fh.write(out.read_bytes())
    codec.save(path)
    return Path(path)
