"""Command line of the study's library.

    python -m backsurface predict DEPTH.png [DEPTH.png ...] --model artifacts/models/resnet152/model.keras \\
        --out landmarks.json [--overlay overlay.png]
    python -m backsurface export --model artifacts/models/resnet152/model.keras --onnx model.onnx \\
        [--savedmodel saved_model/]

``predict`` writes the paper's annotation format (raw 512×424 pixel landmarks, -1 for a landmark it could
not place) with confidences, link scores, 3D points and the posture indices of :mod:`backsurface.clinical`
as extension fields, and an overlay picture per frame.  The model file (``.keras``, or an exported
``.onnx``) carries its label codec, so input size, crop, background threshold and stride come from it.
A bad file gives one message naming it and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _overlay_path(base: Path, frame_id: str, many: bool) -> Path:
    return base.with_name(f"{base.stem}_{frame_id}{base.suffix}") if many else base


def predict(args) -> int:
    import numpy as np  # noqa: PLC0415

    from backsurface.clinical import cohort as assessment  # noqa: PLC0415
    from backsurface.codec.label_codec import CodecError  # noqa: PLC0415
    from backsurface.core import contract  # noqa: PLC0415
    from backsurface.data.preprocess import PreprocessError  # noqa: PLC0415
    from backsurface.figures import common as figures  # noqa: PLC0415
    from backsurface.figures import evaluation as figures_evaluation  # noqa: PLC0415
    from backsurface.net.model import ModelError  # noqa: PLC0415
    from backsurface.net.predictor import Predictor  # noqa: PLC0415

    try:
        frames = {Path(p).stem: contract.read_depth(p).astype(float) for p in args.depth}
        if len(frames) != len(args.depth):
            raise contract.ContractError("two input files share a name; frame ids must be unique")
        predictor = Predictor.from_file(args.model)
        predicted = predictor.predict(frames)
    except (contract.ContractError, ModelError, CodecError, PreprocessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    ids = list(frames)
    px = np.stack([predicted[i].points_raw for i in ids])
    mm = np.stack([predicted[i].points_mm for i in ids])
    clinic = assessment.assess([frames[i] for i in ids], px, mm, predictor.codec.threshold_mm,
                               [predicted[i].spine_prior_x for i in ids])
    base = predictor.annotate(frames, {i: str(args.depth[n]) for n, i in enumerate(ids)}, predicted)
    records = []
    for n, (i, record) in enumerate(zip(ids, base)):
        p = predicted[i]
        values = {k: (None if not np.isfinite(v) else round(float(v), 3)) for k, v in clinic.indices.iloc[n].items()}
        records.append(record.model_copy(update={"indices": values, "indices_not_computed": clinic.reasons[n],
                                                 "model": str(args.model)}))
        if args.overlay:
            none = np.full_like(p.points_raw, np.nan)
            fig = figures_evaluation.prediction_overlays([(f"{i}: predicted landmarks", frames[i], none,
                                                           p.points_raw)], cols=1)
            figures.save(fig, _overlay_path(Path(args.overlay), i, len(ids) > 1))
    contract.write_annotations(args.out, records)
    print(f"{len(records)} frame(s) → {args.out}")
    return 0


def export(args) -> int:
    from backsurface.net import export as ex  # noqa: PLC0415
    from backsurface.net import model_file  # noqa: PLC0415
    from backsurface.net.model import ModelError  # noqa: PLC0415

    try:
        model, codec = model_file.load(args.model)
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.onnx:
        print(f"ONNX → {ex.to_onnx(model, codec, args.onnx)}")
    if args.savedmodel:
        print(f"SavedModel → {ex.to_savedmodel(model, codec, args.savedmodel)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backsurface", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="landmarks on raw Kinect v2 depth frames (16-bit PNG, mm)")
    p.add_argument("depth", nargs="+", help="raw depth PNG files (512x424, uint16 mm)")
    p.add_argument("--model", required=True,
                   help="trained model (.keras, or an exported .onnx) with its .codec.json beside it")
    p.add_argument("--out", required=True, help="annotations JSON to write (the paper's format)")
    p.add_argument("--overlay", help="overlay picture (PNG); with several frames, one per frame: NAME_<id>.png")
    p.set_defaults(func=predict)
    e = sub.add_parser("export", help="export a trained model to ONNX and/or a SavedModel (codec beside each)")
    e.add_argument("--model", required=True)
    e.add_argument("--onnx", help="ONNX file to write")
    e.add_argument("--savedmodel", help="SavedModel directory to write")
    e.set_defaults(func=export)
    args = ap.parse_args(argv)
    if args.command == "export" and not (args.onnx or args.savedmodel):
        ap.error("export needs --onnx and/or --savedmodel")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
