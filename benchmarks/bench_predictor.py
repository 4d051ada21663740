"""The whole predictor on raw frames, one frame at a time as a live sensor delivers them: frames per second.

    python benchmarks/bench_predictor.py [--backbones vgg19 resnet50 resnet152] [--frames 60] [--flip-test]

For each trained model (``artifacts/models/<backbone>/model.keras``) and its ONNX export, ``Predictor.predict`` is
timed on raw depth frames of the study's cohort (``artifacts/raw``): preprocessing, the network, decoding, the
affinity ridge and the 3D lift, batch 1.  The Kinect v2 delivers 30 frames/s; the line says whether each runner keeps
up on this machine.  ``--flip-test`` also times each runner with the test-time flip (``evaluate.flip_test``: two
network passes per frame).  Nothing is asserted; numbers vary by machine (the committed ones are in the issue notes).
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
KINECT_FPS = 30.0


def frames_per_second(predictor, frames: list, n: int) -> float:
    predictor.predict({"warm-up": frames[0]})
    t0 = time.perf_counter()
    for i in range(n):
        predictor.predict({f"f{i}": frames[i % len(frames)]})
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    import platform

    from backsurface.core import contract
    from backsurface.net import export, model_file
    from backsurface.net.predictor import Predictor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbones", nargs="+", default=["vgg19", "resnet50", "resnet152"])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--flip-test", action="store_true", help="also time the test-time flip (two passes per frame)")
    args = ap.parse_args(argv)
    annotations, _ = contract.read_cohort(ROOT / "artifacts" / "raw")
    frames = [contract.read_depth(ROOT / "artifacts" / "raw" / a.image).astype(float) for a in annotations[:10]]
    print(f"{platform.machine()} CPU, {os.cpu_count()} cores; {args.frames} frames each, batch 1")
    for bb in args.backbones:
        path = ROOT / "artifacts" / "models" / bb / "model.keras"
        if not path.is_file():
            print(f"{bb}: no model at {path} (run dvc repro first)")
            continue
        model, codec = model_file.load(path)
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path = export.to_onnx(model, codec, Path(tmp) / "model.onnx")
            runs = [(name, file, flip) for flip in ([False, True] if args.flip_test else [False])
                    for name, file in (("Keras", path), ("ONNX Runtime", onnx_path))]
            for name, file, flip in runs:
                p = Predictor.from_file(file, batch_size=1, flip_test=flip)
                fps = frames_per_second(p, frames, args.frames)
                verdict = "keeps up with" if fps >= KINECT_FPS else "below"
                runner = name + (" + flip" if flip else "")
                print(f"{bb:9s} {runner:19s} {fps:6.1f} frames/s ({1000 / fps:5.1f} ms/frame), {verdict} the "
                      f"Kinect's {KINECT_FPS:g} frames/s")


if __name__ == "__main__":
    main()
