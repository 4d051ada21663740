"""Inference speed of a trained model: Keras vs its ONNX export under ONNX Runtime (frames per second, batch 1).

    python benchmarks/bench_export.py [--model artifacts/models/resnet152/model.keras] [--frames 30]

Without --model (or when the file is absent) a default-profile ResNet-152 network with random weights is timed:
speed does not depend on the weights.  Also prints the largest output difference between the two.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))


def fps(fn, x, frames: int) -> float:
    fn(x[:1])  # warm up / trace
    t0 = time.perf_counter()
    for i in range(frames):
        fn(x[i % len(x)][None])
    return frames / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    import numpy as np

    from backsurface.codec.label_codec import LabelCodec
    from backsurface.net import export, inference, model, model_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "artifacts/models/resnet152/model.keras"))
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args(argv)
    if Path(args.model).is_file():
        (m, c), name = model_file.load(args.model), args.model
    else:
        from backsurface.core.params import load_study

        params = load_study(ROOT / "params.yaml")
        c, t = LabelCodec.from_params(params), params.train
        m = model.build_model("resnet152", c.input_size, stages=t.stages, width=t.width,
                              refine_kernel=t.refine_kernel, feature_channels=t.feature_channels)
        name = "resnet152 (random weights, the default profile's network)"
    size = int(m.inputs[0].shape[1])
    x = np.random.default_rng(0).random((4, size, size, 1)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        onnx, _ = inference.open_model(export.to_onnx(m, c, Path(tmp) / "m.onnx"))
        keras_fps = fps(lambda b: m(b, training=False), x, args.frames)
        onnx_fps = fps(onnx, x, args.frames)
        diff = max(float(np.abs(np.asarray(a) - b).max()) for a, b in zip(m(x, training=False)[-2:], onnx(x)))
    print(f"model: {name}, input {size}²")
    print(f"Keras:        {keras_fps:6.2f} frames/s")
    print(f"ONNX Runtime: {onnx_fps:6.2f} frames/s  (x{onnx_fps / keras_fps:.2f})")
    print(f"largest output difference: {diff:.2e}")


if __name__ == "__main__":
    main()
