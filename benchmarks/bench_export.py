"""Inference speed of a trained model: Keras vs its ONNX export under ONNX Runtime (frames per second, batch 1).

    python benchmarks/bench_export.py [--model artifacts/models/resnet50/model.keras] [--frames 30]
    python benchmarks/bench_export.py --backbone resnet50 --int8 --parts

Without --model (or when the file is absent) a default-profile network of ``--backbone`` with random weights is
timed: speed does not depend on the weights.  Also prints the largest output difference between the two.
``--int8`` also times an int8 copy of the export (static quantisation, QDQ; :mod:`backsurface.net.quantize`),
calibrated on the training split's preprocessed raw frames when a trained model, ``artifacts/raw`` and the split are
there (on random images otherwise), and says how far its decoded landmarks move from the float32 ones on the test
split's frames (input pixels; only meaningful for a trained model).  ``--parts`` prints ONNX Runtime's time per
model part (backbone, feature reduction, each stage); ``--refine-kernel`` and ``--input-size`` time a variant of
the default network before anyone trains it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def fps(fn, x, frames: int) -> float:
    fn(x[:1])  # warm up / trace
    t0 = time.perf_counter()
    for i in range(frames):
        fn(x[i % len(x)][None])
    return frames / (time.perf_counter() - t0)


def study_images(codec, n: int):
    """The study's raw frames through the codec's preprocessing: up to ``n`` of the training split (to calibrate
    on) and those of the test split (to measure on), or None without ``artifacts/raw`` and the split."""
    import numpy as np
    import onnx_probe

    from backsurface.core import contract

    raw, split = ROOT / "artifacts" / "raw", ROOT / "reports" / "tables" / "split.json"
    if not (raw / contract.ANNOTATIONS).is_file() or not split.is_file():
        return None
    annotations, _ = contract.read_cohort(raw)
    return tuple(np.stack([codec.preprocess(contract.read_depth(raw / a.image).astype(float), name=a.id)[0]
                           for a in part]) for part in onnx_probe.split_frames(annotations, split, n))


def main(argv: list[str] | None = None) -> None:
    import numpy as np
    import onnx_probe

    from backsurface.codec.label_codec import LabelCodec
    from backsurface.net import export, inference, model, model_file, quantize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "artifacts/models/resnet50/model.keras"))
    ap.add_argument("--backbone", default="resnet50", help="the random-weights network's backbone, without --model")
    ap.add_argument("--refine-kernel", type=int, help="the random-weights network's refinement kernel "
                    "(default: params.yaml's train.refine_kernel)")
    ap.add_argument("--input-size", type=int, help="the random-weights network's input (default: params.yaml's)")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--int8", action="store_true", help="also time an int8 (static, QDQ) copy of the ONNX export")
    ap.add_argument("--parts", action="store_true", help="ONNX Runtime time per model part")
    args = ap.parse_args(argv)
    trained = Path(args.model).is_file()
    if trained:
        (m, c), name = model_file.load(args.model), args.model
    else:
        from backsurface.core.params import load_study

        params = load_study(ROOT / "params.yaml")
        c, t = LabelCodec.from_params(params), params.train
        if args.input_size:
            c = dataclasses.replace(c, input_size=args.input_size)
        kernel = args.refine_kernel or t.refine_kernel
        m = model.build_model(args.backbone, c.input_size, stages=t.stages, width=t.width,
                              refine_kernel=kernel, feature_channels=t.feature_channels, stride=c.stride)
        name = (f"{args.backbone} (random weights, the default profile's network"
                + (f", refinement kernel {kernel}" if kernel != t.refine_kernel else "") + ")")
    size = int(m.inputs[0].shape[1])
    study = study_images(c, 32) if trained else None
    calibration = "training-split frames" if study is not None else "random images"
    if study is None:
        images = np.random.default_rng(0).random((16, size, size)).astype(np.float32)
        study = (images, images)
    images, measured = study  # calibrated on the first, timed and compared on the second
    x = measured[..., None].astype(np.float32)
    int8_flags = ", ".join(quantize.cpu_int8_flags()) or "none (AVX2 at most)"
    print(f"{platform.machine()} CPU, {os.cpu_count()} cores, int8 dot products: {int8_flags}")
    print(f"model: {name}, input {size}²")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export.to_onnx(m, c, Path(tmp) / "m.onnx")
        onnx, _ = inference.open_model(onnx_path)
        keras_fps = fps(lambda b: m(b, training=False), x, args.frames)
        onnx_fps = fps(onnx, x, args.frames)
        diff = max(float(np.abs(np.asarray(a) - b).max()) for a, b in zip(m(x[:4], training=False)[-2:], onnx(x[:4])))
        print(f"Keras:        {keras_fps:6.2f} frames/s")
        print(f"ONNX Runtime: {onnx_fps:6.2f} frames/s  (x{onnx_fps / keras_fps:.2f})")
        print(f"largest output difference: {diff:.2e}")
        files = [("float32", onnx_path)]
        if args.int8:
            int8_path = quantize.to_onnx_int8(onnx_path, c, Path(tmp) / "m.int8.onnx", images)
            int8, _ = inference.open_model(int8_path)
            int8_fps = fps(int8, x, args.frames)
            ref, got = c.decode(onnx(x)[0])[0], c.decode(int8(x)[0])[0]
            shift = np.linalg.norm(got - ref, axis=-1)
            print(f"ONNX int8:    {int8_fps:6.2f} frames/s  (x{int8_fps / onnx_fps:.2f} the float32 export; calibrated"
                  f" on {len(images)} {calibration}); decoded landmarks moved {np.nanmean(shift):.2f} input px on"
                  f" average, {np.nanmax(shift):.2f} at most" + (f" on the {len(x)} test-split frames" if trained
                                                                 else " (random weights: no meaning)"))
            files.append(("int8", int8_path))
        if args.parts:
            for label, path in files:
                parts = onnx_probe.time_by_part(path, x[:1], args.frames)
                total = sum(parts.values())
                print(f"{label} time per part (ms per frame, ONNX Runtime's profiler, {total:.1f} ms of kernels): "
                      + ", ".join(f"{k} {v:.1f} ({100 * v / total:.0f}%)" for k, v in parts.items()))


if __name__ == "__main__":
    main()
