"""The whole predictor on raw frames, one frame at a time as a live sensor delivers them: frames per second.

    python benchmarks/bench_predictor.py [--backbones vgg19 resnet50 resnet152] [--frames 60] [--flip-test] [--int8]

For each trained model (``artifacts/models/<backbone>/model.keras``) and its ONNX export, ``Predictor.predict`` is
timed on raw depth frames of the study's cohort (``artifacts/raw``): preprocessing, the network, decoding, the
affinity ridge and the 3D lift, batch 1.  The Kinect v2 delivers 30 frames/s; the line says whether each runner keeps
up on this machine.  ``--flip-test`` also times each runner with the test-time flip (``evaluate.flip_test``: two
network passes per frame).  ``--int8`` also runs an int8 copy of the ONNX export (:mod:`backsurface.net.quantize`),
calibrated on raw frames of the training split (``reports/tables/split.json``), and every runner is scored on the
raw frames of the test split: in-plane error (mm, against the synthetic truth), and how far the int8 copy moves each
landmark from the float32 export's.  Nothing is asserted; numbers vary by machine (the committed ones are in the
issue notes).
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
sys.path.insert(0, str(Path(__file__).resolve().parent))
KINECT_FPS = 30.0


def frames_per_second(predictor, frames: list, n: int) -> float:
    predictor.predict({"warm-up": frames[0]})
    t0 = time.perf_counter()
    for i in range(n):
        predictor.predict({f"f{i}": frames[i % len(frames)]})
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    import platform

    import numpy as np
    import onnx_probe

    from backsurface.core import contract
    from backsurface.evaluation import metrics
    from backsurface.net import export, model_file, quantize
    from backsurface.net.predictor import Predictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["vgg19", "resnet50", "resnet152"])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--flip-test", action="store_true", help="also time the test-time flip (two passes per frame)")
    ap.add_argument("--int8", action="store_true", help="also an int8 copy of the ONNX export, calibrated on the "
                    "training split; every runner scored on the test split's raw frames")
    ap.add_argument("--calibration-frames", type=int, default=32, help="training-split frames that calibrate --int8")
    ap.add_argument("--full-range", action="store_true", help="--int8 with full 8-bit weights (VNNI/AMX CPUs only)")
    args = ap.parse_args(argv)
    raw = ROOT / "artifacts" / "raw"
    annotations, _ = contract.read_cohort(raw)
    frames = [contract.read_depth(raw / a.image).astype(float) for a in annotations[:10]]
    print(f"{platform.machine()} CPU, {os.cpu_count()} cores, int8 dot products: "
          f"{', '.join(quantize.cpu_int8_flags()) or 'none'}; {args.frames} frames each, batch 1")
    test = train = []
    if args.int8:
        train, test = onnx_probe.split_frames(annotations, ROOT / "reports" / "tables" / "split.json",
                                              args.calibration_frames)
        test_depth = {a.id: contract.read_depth(raw / a.image).astype(float) for a in test}
        true_px = np.stack([a.points() for a in test])
        true_z = np.stack([np.asarray(a.landmarks_mm, float)[:, 2] for a in test])
        print(f"int8 ({'8' if args.full_range else '7'}-bit weights) calibrated on {len(train)} training-split "
              f"frames; every runner scored on the {len(test)} raw frames of the test split (in-plane error, mm)")
    for bb in args.backbones:
        path = ROOT / "artifacts" / "models" / bb / "model.keras"
        if not path.is_file():
            print(f"{bb}: no model at {path} (run dvc repro first)")
            continue
        model, codec = model_file.load(path)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = export.to_onnx(model, codec, Path(tmp) / "model.onnx")
            files = [("Keras", path), ("ONNX Runtime", onnx_path)]
            if args.int8:
                calibration = np.stack([codec.preprocess(contract.read_depth(raw / a.image).astype(float),
                                                         name=a.id)[0] for a in train])
                files.append(("ONNX int8", quantize.to_onnx_int8(onnx_path, codec, Path(tmp) / "int8.onnx",
                                                                 calibration, reduce_range=not args.full_range)))
            runs = [(name, file, flip) for flip in ([False, True] if args.flip_test else [False])
                    for name, file in files]
            reference = {}  # flip → the float32 ONNX export's test-split points
            for name, file, flip in runs:
                p = Predictor.from_file(file, batch_size=1, flip_test=flip)
                fps = frames_per_second(p, frames, args.frames)
                verdict = "keeps up with" if fps >= KINECT_FPS else "below"
                runner = name + (" + flip" if flip else "")
                line = (f"{bb:9s} {runner:19s} {fps:6.1f} frames/s ({1000 / fps:5.1f} ms/frame), {verdict} the "
                        f"Kinect's {KINECT_FPS:g} frames/s")
                if test:
                    predicted = p.predict(test_depth)
                    px = np.stack([predicted[a.id].points_raw for a in test])
                    err = metrics.inplane_errors_mm(px, true_px, true_z)
                    line += f"; test split {np.nanmean(err):.2f} mm"
                    if name == "ONNX Runtime":
                        reference[flip] = px
                    elif name == "ONNX int8":
                        moved = metrics.inplane_errors_mm(px, reference[flip], true_z)
                        line += f", moved {np.nanmean(moved):.2f} mm from float32 (at most {np.nanmax(moved):.1f})"
                print(line)


if __name__ == "__main__":
    main()
