"""Command line of the study's library.

    python -m backsurface predict DEPTH.png [DEPTH.png ...] --model artifacts/models/resnet152/model.keras \\
        --out landmarks.json [--overlay overlay.png] [--no-flip-test]
    python -m backsurface export --model artifacts/models/resnet152/model.keras --onnx model.onnx \\
        [--savedmodel saved_model/] [--onnx-int8 model.int8.onnx --calibrate TRAIN.png [TRAIN.png ...]]
    python -m backsurface report DEPTH.png --model artifacts/models/resnet50/model.keras --out report.pdf \\
        [--out report.html] [--reference reports/clinical/reference.json] [--flip-test | --no-flip-test]

Both run the model with the test-time flip (each frame's outputs averaged with its mirror image's, as the study's
evaluation does with ``evaluate.flip_test``) unless told otherwise; ``report`` follows the reference, whose
calibration and cut-offs were tuned on landmarks predicted one way or the other, and refuses the other way.

``predict`` writes the paper's annotation format (raw 512×424 pixel landmarks, -1 for a landmark it could
not place) with confidences, link scores, 3D points and the posture indices of :mod:`backsurface.clinical`
as extension fields, and an overlay picture per frame.  The model file (``.keras``, or an exported
``.onnx``) carries its label codec, so input size, crop, background threshold and stride come from it.
A bad file gives one message naming it and exit status 2.

``export --onnx-int8`` writes an int8 copy of the ONNX export (:mod:`backsurface.net.quantize`), calibrated on the
``--calibrate`` frames (raw depth PNGs the model was trained on, never those it will be scored on); it is faster than
the float32 export only on a CPU with VNNI or AMX.

``report`` writes a one-page report of one frame (PDF and/or self-contained HTML): the landmarks and spine line,
the curve-angle estimate with its uncertainty, every index against the healthy range, the screening calls, the
model used; the reference ranges, the angle calibration and the cut-offs come from the clinical stage's
``reports/clinical/reference.json`` (or ``--reference``).  Outputs are checked and written as ``predict``'s.

Before any model is loaded, every output path is checked: ``--out`` names a ``.json`` file and ``--overlay``
a ``.png`` (one per frame, ``NAME_<id>.png``, with several frames); no output may be one of the inputs (the
depth frames, the model, its codec and card: resolved paths and inodes compared), two outputs may not share a
path, and each must be writable.  Frame ids (the input file names without ``.png``) must be safe ids
(:func:`backsurface.core.contract.id_problem`).

Writing (``predict``): every output is first written under a hidden temporary name in its target folder
(``.NAME.*.tmp``); then the overlays are renamed into place and the JSON **last**.  The JSON is the run's
commit mark: if it is new, every overlay of the run is new.  A run that fails or is killed (``kill -9``)
before the renames leaves every earlier output as it was (a killed run leaves its hidden temporaries); one
killed during the renames (a few microseconds) may leave some new overlays beside the old JSON.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _overlay_path(base: Path, frame_id: str, many: bool) -> Path:
    return base.with_name(f"{base.stem}_{frame_id}{base.suffix}") if many else base


def _fail(exc: BaseException) -> int:
    print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
    return 2


def _model_inputs(model: Path) -> list[Path]:
    """The files a model run reads: the model, and beside it its codec and card."""
    from backsurface.codec.label_codec import LabelCodec  # noqa: PLC0415
    from backsurface.net.model_file import card_path  # noqa: PLC0415

    return [model, LabelCodec.sidecar(model), card_path(model)]


def _frame_ids(depth: list[str]) -> list[str]:
    """The frame id of each input (its file name without the suffix): safe ids, one per input."""
    from backsurface.core import contract  # noqa: PLC0415

    ids: dict[str, str] = {}
    for p in depth:
        stem = Path(p).stem
        contract.check_id(stem, f"{p}: frame id {contract._short(stem)} (the file name)")
        if stem.lower() in ids:
            raise contract.ContractError(f"{p}: the frame id {stem!r} is also the id of {ids[stem.lower()]}; input "
                                         f"file names must differ (ignoring case)")
        ids[stem.lower()] = p
    return [Path(p).stem for p in depth]


def _predict_outputs(args, ids: list[str]) -> list[tuple[str, Path]]:
    """(label, path) of every output of ``predict``, overlays first and the JSON last, checked before any work."""
    from backsurface.core.atomic import OutputError, check_outputs  # noqa: PLC0415

    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise OutputError(f"--out {args.out}: the landmarks are written as JSON; name a .json file")
    outputs = []
    if args.overlay is not None:
        overlay = Path(args.overlay)
        if overlay.suffix.lower() != ".png" or not overlay.stem:
            raise OutputError(f"--overlay {args.overlay}: overlays are PNG pictures; name a .png file")
        outputs = [(f"--overlay ({i})" if len(ids) > 1 else "--overlay", _overlay_path(overlay, i, len(ids) > 1))
                   for i in ids]
    outputs.append(("--out", out))
    check_outputs([(label, path, "file") for label, path in outputs],
                  [*map(Path, args.depth), *_model_inputs(Path(args.model))])
    return outputs


def predict(args) -> int:
    import numpy as np  # noqa: PLC0415

    from backsurface.clinical import cohort as assessment  # noqa: PLC0415
    from backsurface.codec.label_codec import CodecError  # noqa: PLC0415
    from backsurface.core import contract  # noqa: PLC0415
    from backsurface.core.atomic import OutputError, atomic_files  # noqa: PLC0415
    from backsurface.data.preprocess import PreprocessError  # noqa: PLC0415
    from backsurface.figures import common as figures  # noqa: PLC0415
    from backsurface.figures import evaluation as figures_evaluation  # noqa: PLC0415
    from backsurface.net.model import ModelError  # noqa: PLC0415
    from backsurface.net.predictor import Predictor  # noqa: PLC0415

    try:
        ids = _frame_ids(args.depth)
        outputs = _predict_outputs(args, ids)  # before the expensive work: nothing is loaded yet
        frames = {i: contract.read_depth(p).astype(float) for i, p in zip(ids, args.depth)}
        predictor = Predictor.from_file(args.model, flip_test=args.flip_test)
        predicted = predictor.predict(frames)
    except (contract.ContractError, OutputError, ModelError, CodecError, PreprocessError, OSError) as exc:
        return _fail(exc)
    px = np.stack([predicted[i].points_raw for i in ids])
    mm = np.stack([predicted[i].points_mm for i in ids])
    clinic = assessment.assess([frames[i] for i in ids], px, mm, [predicted[i].cut_mm for i in ids],
                               [predicted[i].spine_prior_x for i in ids])
    base = predictor.annotate(frames, {i: str(args.depth[n]) for n, i in enumerate(ids)}, predicted)
    records = []
    for n, record in enumerate(base):
        values = {k: (None if not np.isfinite(v) else round(float(v), 3)) for k, v in clinic.indices.iloc[n].items()}
        records.append(record.model_copy(update={"indices": values, "indices_not_computed": clinic.reasons[n],
                                                 "model": str(args.model)}))
    with atomic_files([path for _, path in outputs]) as tmps:  # renamed in together at the end, the JSON last
        for i, tmp in zip(ids if args.overlay is not None else [], tmps):
            p = predicted[i]
            none = np.full_like(p.points_raw, np.nan)
            fig = figures_evaluation.prediction_overlays([(f"{i}: predicted landmarks", frames[i], none,
                                                           p.points_raw, p.cut_mm)], cols=1)
            figures.save(fig, tmp)
        contract.write_annotations(tmps[-1], records)
    print(f"{len(records)} frame(s) → {args.out}")
    return 0


DEFAULT_REFERENCE = "reports/clinical/reference.json"


def _reference_path(args) -> Path:
    if args.reference is not None:
        return Path(args.reference)
    from backsurface.core.paths import project_root  # noqa: PLC0415

    try:
        return project_root() / DEFAULT_REFERENCE
    except FileNotFoundError:
        return Path(DEFAULT_REFERENCE)


def report(args) -> int:
    from backsurface.clinical.reference import Reference, ReferenceError, require_model_scheme  # noqa: PLC0415
    from backsurface.clinical.subject import assess_subject  # noqa: PLC0415
    from backsurface.codec.label_codec import CodecError, LabelCodec  # noqa: PLC0415
    from backsurface.core import contract  # noqa: PLC0415
    from backsurface.core.atomic import OutputError, atomic_files, check_outputs  # noqa: PLC0415
    from backsurface.data.preprocess import PreprocessError  # noqa: PLC0415
    from backsurface.figures import report as page  # noqa: PLC0415
    from backsurface.net import model_file  # noqa: PLC0415
    from backsurface.net.model import ModelError  # noqa: PLC0415
    from backsurface.net.predictor import Predictor  # noqa: PLC0415

    try:
        (frame_id,) = _frame_ids([args.depth])
        reference_path = _reference_path(args)
        outputs = [Path(o) for o in args.out]
        for o in outputs:
            if o.suffix.lower() not in page.FORMATS or not o.stem:
                raise OutputError(f"--out {o}: a report is written as {' or '.join(page.FORMATS)}; name such a file")
        check_outputs([("--out", o, "file") for o in outputs],
                      [Path(args.depth), *_model_inputs(Path(args.model)), reference_path])
        reference = Reference.load(reference_path)  # before the model: a missing reference costs nothing
        card = model_file.read_card(args.model)
        if not isinstance(card, dict):
            raise ModelError(f"{model_file.card_path(args.model)}: a model card is a JSON object")
        if card.get("backbone") != reference.backbone:
            raise ModelError(f"{args.model}: the model is {card.get('backbone')!r} but {reference_path} was tuned on "
                             f"{reference.backbone!r} landmarks (calibration and cut-offs); use that model or its "
                             f"own reference")
        require_model_scheme(reference, LabelCodec.for_model(args.model), str(args.model))
        depth = contract.read_depth(args.depth).astype(float)
        flip = reference.flip_test if args.flip_test is None else args.flip_test
        if flip != reference.flip_test:
            raise ReferenceError(f"{reference_path} was tuned on landmarks predicted "
                                 f"{'with' if reference.flip_test else 'without'} the test-time flip; drop "
                                 f"--{'no-' if reference.flip_test else ''}flip-test or use a reference tuned "
                                 f"{'without' if reference.flip_test else 'with'} it")
        predictor = Predictor.from_file(args.model, flip_test=flip)
        p = predictor.predict({frame_id: depth})[frame_id]
    except (contract.ContractError, OutputError, ModelError, CodecError, PreprocessError, ReferenceError,
            OSError) as exc:
        return _fail(exc)
    result = assess_subject(depth, p.points_raw, p.points_mm, p.cut_mm, p.spine_prior_x,
                            reference)
    model_line = (f"Model {args.model}: {card.get('backbone', '?')}, weights {card.get('weights', '?')}; reference "
                  f"{reference_path} ({reference.provenance})")
    with atomic_files(outputs) as tmps:
        for out, tmp in zip(outputs, tmps):
            page.write_report(tmp, f"Back-surface report: {frame_id}", depth, p.points_raw,
                              result, model_line, suffix=out.suffix)
    print(f"report of {frame_id} → {', '.join(map(str, outputs))}")
    return 0


def _export_outputs(args) -> None:
    """Refuse, before the model loads, export targets that are or hold an input, or cannot be written.

    The codec written beside an export is the model's own: it may be the model's codec file itself (e.g.
    ``--onnx model.onnx`` beside ``model.keras``), which is then rewritten with the same content."""
    from backsurface.codec.label_codec import LabelCodec  # noqa: PLC0415
    from backsurface.core.atomic import OutputError, check_outputs, same_file  # noqa: PLC0415

    model = Path(args.model)
    inputs = _model_inputs(model)
    outputs = []
    if args.onnx:
        if Path(args.onnx).suffix.lower() != ".onnx":
            raise OutputError(f"--onnx {args.onnx}: name a .onnx file (the predictor opens ONNX models by suffix)")
        outputs.append(("--onnx", Path(args.onnx), "file"))
    if args.savedmodel:
        outputs.append(("--savedmodel", Path(args.savedmodel), "dir"))
    if args.onnx_int8:
        if Path(args.onnx_int8).suffix.lower() != ".onnx":
            raise OutputError(f"--onnx-int8 {args.onnx_int8}: name a .onnx file (the predictor opens ONNX models by "
                              f"suffix)")
        outputs.append(("--onnx-int8", Path(args.onnx_int8), "file"))
        inputs = [*inputs, *map(Path, args.calibrate)]
    check_outputs(outputs, inputs)
    sidecars: list[tuple[str, Path, str]] = []
    for label, path, _ in outputs:  # one codec, written once per distinct sidecar path
        side = LabelCodec.sidecar(path)
        if not same_file(side, inputs[1]) and not any(same_file(side, s) for _, s, _ in sidecars):
            sidecars.append((f"the codec of {label} {path}", side, "file"))
    check_outputs(sidecars, [inputs[0], *inputs[2:], *(path for _, path, _ in outputs)])


def export(args) -> int:
    import tempfile  # noqa: PLC0415

    from backsurface.core import contract  # noqa: PLC0415
    from backsurface.core.atomic import OutputError  # noqa: PLC0415
    from backsurface.data.preprocess import PreprocessError  # noqa: PLC0415
    from backsurface.net import export as ex  # noqa: PLC0415
    from backsurface.net import model_file, quantize  # noqa: PLC0415
    from backsurface.net.model import ModelError  # noqa: PLC0415

    try:
        _export_outputs(args)
        model, codec = model_file.load(args.model)
        calibration = None
        if args.onnx_int8:  # every calibration frame read and preprocessed before anything is written
            calibration = quantize.check_calibration(
                [codec.preprocess(contract.read_depth(p).astype(float), name=p)[0] for p in args.calibrate],
                codec.input_size)
    except (ModelError, OutputError, contract.ContractError, PreprocessError, quantize.QuantizeError,
            OSError) as exc:
        return _fail(exc)
    if args.onnx:
        print(f"ONNX → {ex.to_onnx(model, codec, args.onnx)}")
    if args.savedmodel:
        print(f"SavedModel → {ex.to_savedmodel(model, codec, args.savedmodel)}")
    if args.onnx_int8:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(args.onnx) if args.onnx else ex.to_onnx(model, codec, Path(tmp) / "model.onnx")
            out = quantize.to_onnx_int8(src, codec, args.onnx_int8, calibration, reduce_range=not args.full_range)
        print(f"ONNX int8 ({'8' if args.full_range else '7'}-bit weights, calibrated on {len(calibration)} "
              f"frame(s)) → {out}")
    return 0


FLIP_HELP = ("average each frame's outputs with its mirror image's, as the study's evaluation does "
             "(evaluate.flip_test; twice the inference time); --no-flip-test: one pass")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m backsurface", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="landmarks on raw Kinect v2 depth frames (16-bit PNG, mm)")
    p.add_argument("depth", nargs="+", help="raw depth PNG files (512x424, uint16 mm)")
    p.add_argument("--model", required=True,
                   help="trained model (.keras, or an exported .onnx) with its .codec.json beside it")
    p.add_argument("--out", required=True, help="annotations JSON (.json) to write (the paper's format)")
    p.add_argument("--overlay", help="overlay picture (PNG); with several frames, one per frame: NAME_<id>.png")
    p.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=True, help=FLIP_HELP)
    p.set_defaults(func=predict)
    e = sub.add_parser("export", help="export a trained model to ONNX and/or a SavedModel (codec beside each)")
    e.add_argument("--model", required=True)
    e.add_argument("--onnx", help="ONNX file to write")
    e.add_argument("--savedmodel", help="SavedModel directory to write")
    e.add_argument("--onnx-int8", help="int8 ONNX file to write (static quantisation; faster only with VNNI or AMX)")
    e.add_argument("--calibrate", nargs="+", default=[], metavar="DEPTH.png",
                   help="raw depth frames of the training cohort that calibrate --onnx-int8's activation ranges")
    e.add_argument("--full-range", action="store_true", help="--onnx-int8 with full 8-bit weights, for a CPU with VNNI "
                   "or AMX only (default: 7-bit, correct on every CPU)")
    e.set_defaults(func=export)
    r = sub.add_parser("report", help="one-page report of one frame: landmarks, curve angle, indices, screening")
    r.add_argument("depth", help="raw depth PNG file (512x424, uint16 mm)")
    r.add_argument("--model", required=True, help="trained model (.keras or .onnx) with its codec and card beside it")
    r.add_argument("--out", required=True, action="append", help="report to write: .pdf or .html (repeatable)")
    r.add_argument("--reference", help=f"the clinical stage's reference file (default: {DEFAULT_REFERENCE} of the "
                                       f"project)")
    r.add_argument("--flip-test", action=argparse.BooleanOptionalAction, default=None,
                   help="average the frame's outputs with its mirror image's; default: as the reference's landmarks "
                        "were predicted (the clinical stage's evaluate.flip_test); the other choice is refused")
    r.set_defaults(func=report)
    args = ap.parse_args(argv)
    if args.command == "export" and not (args.onnx or args.savedmodel or args.onnx_int8):
        ap.error("export needs --onnx, --savedmodel and/or --onnx-int8")
    if args.command == "export" and bool(args.onnx_int8) != bool(args.calibrate):
        ap.error("--onnx-int8 and --calibrate go together: the int8 copy is calibrated on training frames")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
