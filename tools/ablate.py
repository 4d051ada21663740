"""Training ablations on the study's labels: one backbone retrained with some ``train.*`` keys changed, scored on
the train and the test split with the evaluation's in-plane error, so under- and over-fitting show side by side
(each split scored in one pass and with the test-time flip).

    python tools/ablate.py run NAME [-S train.KEY=VALUE ...] [-S augment.KEY=VALUE ...] [--backbone resnet50]
    python tools/ablate.py table [--out reports/ablation/training.md]

``run`` reads params.yaml, applies the ``-S`` changes (YAML values; ``train.*`` keys, and the random training copies
``augment.{copies,hflip,rotate_deg,scale,depth_noise}``, which are drawn and labelled here and added to the training
labels on disk; the labels were made with every other key), trains ``--backbone`` on ``artifacts/labels/train.npz``
(checkpoints under ``build/ablation/NAME``: an interrupted run resumes), and writes
``reports/ablation/runs/NAME.json``: the changes, the training configuration, the commit, the machine, the training
time, and per split the in-plane mean (with its subject-bootstrap 95% CI), median, share within 10 mm, mean per
landmark, and the 3D error. When a run's configuration equals the pipeline model's card (``TrainConfig.same_run``) the
pipeline's model is scored instead of trained again (same configuration and data: same weights). ``table`` gathers
every run into one Markdown table. Needs ``dvc repro`` to have produced ``artifacts/labels``, ``artifacts/raw`` and
the models.
Bad input (an unknown or non-train key, a name that is not a safe file name): one line, exit 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from backsurface.core import contract  # noqa: E402
from backsurface.core.atomic import write_json, write_text  # noqa: E402
from backsurface.core.landmarks import KEYS  # noqa: E402
from backsurface.core.params import BACKBONES, ParamsError, deep_merge, read_yaml, validate  # noqa: E402

RUNS = ROOT / "reports" / "ablation" / "runs"


class AblationError(ValueError):
    """Bad command-line input; the message names the key or the run."""


AUGMENT_KEYS = ("copies", "hflip", "rotate_deg", "scale", "depth_noise")
"""The random training copies (``augment.*``) a run may vary: made here from ``artifacts/augmented/train.npz`` (the
paper's translations, which the labels on disk already hold, stay)."""


def parse_changes(pairs: list[str]) -> dict[str, object]:
    """``train.KEY=VALUE`` / ``augment.KEY=VALUE`` strings → ``{KEY: value, "augment.KEY": value}`` (values parsed
    as YAML scalars; a training key is stored by its bare name, as every earlier run's)."""
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        section, _, name = key.partition(".")
        if not sep or section not in ("train", "augment") or not name or "." in name:
            raise AblationError(f"-S {pair!r}: expected train.KEY=VALUE or augment.KEY=VALUE (only training keys and "
                                f"the random training copies vary on the labels on disk; data or label keys need "
                                f"their own `dvc exp run`)")
        if section == "augment" and name not in AUGMENT_KEYS:
            raise AblationError(f"-S {pair!r}: augment.{name} is not one of the random copies' keys "
                                f"({', '.join(AUGMENT_KEYS)}); the translations are in the labels on disk")
        changes[name if section == "train" else key] = yaml.safe_load(value)
    return changes


def _split(changes: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    train = {k: v for k, v in changes.items() if not k.startswith("augment.")}
    return train, {k.removeprefix("augment."): v for k, v in changes.items() if k.startswith("augment.")}


def study_params(changes: dict[str, object]):
    """params.yaml with the changes merged in, validated like any profile.  A run that changes ``augment.*`` must
    make copies (``copies`` > 0 with at least one kind on), and only on a study whose labels hold none yet."""
    train, aug = _split(changes)
    study = read_yaml(ROOT / "params.yaml")
    params = validate(deep_merge(study, {"train": train, "augment": aug}),
                      source="params.yaml + -S" if changes else "params.yaml")
    if aug:
        a = params.augment
        if study.get("augment", {}).get("copies", 0):
            raise AblationError("-S augment.*: params.yaml already makes random copies (augment.copies > 0), so the "
                                "labels on disk hold them; vary them with `dvc exp run -S augment.…` instead")
        if not (a.copies and (a.hflip or a.rotate_deg or a.scale or a.depth_noise)):
            raise AblationError(f"-S augment.*: makes no copies (copies {a.copies}, hflip {a.hflip}, rotate_deg "
                                f"{a.rotate_deg:g}, scale {a.scale:g}, depth_noise {a.depth_noise:g}): the run would "
                                f"be the committed default")
    return params


def training_data(params, codec, labels: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The training split's labels plus, when the run's ``augment`` asks for them, its random copies (flip with
    left/right swap, rotation and scale, depth noise) drawn from the study's seed and labelled with the codec."""
    from backsurface.core import arrayfile
    from backsurface.data import datasets

    a = params.augment
    base = arrayfile.load(ROOT / "artifacts" / "augmented" / "train.npz")
    extra = datasets.extra_augmentations(base, a.copies, a.hflip, a.rotate_deg, a.scale, a.depth_noise, params.seed)
    if len(extra["ids"]) == len(base["ids"]):
        return labels
    copies = datasets.take(extra, np.arange(len(extra["ids"])) >= len(base["ids"]))
    coded = codec.encode_dataset(copies, progress=False)
    return {k: np.concatenate([labels[k], coded[k]]) for k in labels if k in coded}


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "lib", "tools", "params.yaml"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def _machine() -> str:
    import tensorflow as tf  # noqa: PLC0415  (already loaded by the training)

    gpus = tf.config.list_physical_devices("GPU")
    return f"{platform.machine()} {'GPU x' + str(len(gpus)) if gpus else 'CPU'}, {platform.node()}"


def split_scores(loc_score: tuple) -> dict:
    loc, s = loc_score
    i, lo, hi = s["inplane_mre_mm_ci"]
    return {"inplane_mre_mm": i, "inplane_mre_mm_ci": [lo, hi], "inplane_median_mm": s["inplane"]["Total"]["median_mm"],
            "inplane_sdr_10mm_pct": s["inplane"]["Total"]["within_10mm"],
            "inplane_mre_mm_by_landmark": {k: s["inplane"][k]["mean_mm"] for k in KEYS},
            "mean_error_mm": s["mean_error_mm_ci"][0]}


def run(name: str, changes: dict[str, object], backbone: str) -> Path:
    from backsurface.evaluation import scoring
    from backsurface.net import inference, model_file
    from backsurface.net import train as training
    from backsurface.net.tfdata import load_split

    contract.check_id(name, "run name")
    params = study_params(changes)
    config = training.TrainConfig.from_params(params, backbone)
    pipeline_model = ROOT / "artifacts" / "models" / backbone / "model.keras"
    splits = {s: load_split(ROOT / "artifacts" / "labels" / f"{s}.npz") for s in ("train", "test")}
    card = model_file.read_card(pipeline_model) if pipeline_model.exists() else {}
    t0 = time.perf_counter()
    augmented = bool(_split(changes)[1])
    if not augmented and "config" in card and config.same_run(card["config"]):
        print(f"{name}: configuration of the pipeline's {backbone}: scoring {pipeline_model}")
        model, codec = model_file.load(pipeline_model)
        seconds, reused = card.get("train_seconds"), True
    else:
        from backsurface.codec.label_codec import LabelCodec

        # a row with a branch that learnt nothing is kept (it is the finding) and its share shows in the table
        codec = LabelCodec.from_params(params)
        data = training_data(params, codec, splits["train"]) if augmented else splits["train"]
        result = training.train(config, data, ROOT / "build" / "ablation" / name, max_baseline_share=None)
        model = result.model
        seconds, reused = sum(r["seconds"] for r in result.history), False
        card = {"health": {"worst": max(r["share"] for r in result.health)}}
    depths_ids = np.concatenate([d["ids"] for d in splits.values()])
    from backsurface.evaluation.scoring import raw_depths

    depths = raw_depths(ROOT / "artifacts" / "raw", depths_ids)
    out = {"name": name, "backbone": backbone, "changes": changes, "config": dataclasses.asdict(config),
           "commit": _commit(), "machine": _machine(),
           "train_seconds": seconds, "scored_pipeline_model": reused, "wall_seconds": time.perf_counter() - t0,
           "worst_branch_share": max(card.get("health", {}).values(), default=None)}
    for split, data in splits.items():  # one pass, and the test-time flip (evaluate.flip_test) on the same outputs
        _, heat, pafs = inference.final_outputs(model, data["images"], flip_test=False)
        flipped = inference.FlipTest(inference.KerasRunner(model)).average((heat, pafs), data["images"])
        for key, (h, p) in ((split, (heat, pafs)), (f"{split}_flip", flipped)):
            out[key] = split_scores(scoring.evaluate_outputs(h, p, data, depths, codec, params.evaluate, params.seed))
    path = write_json(RUNS / f"{name}.json", out)
    print(f"{name}: train {out['train']['inplane_mre_mm']:.2f} mm, test {out['test']['inplane_mre_mm']:.2f} mm "
          f"in-plane -> {path.relative_to(ROOT)}")
    return path


def table(out: Path) -> str:
    rows = []
    for path in sorted(RUNS.glob("*.json")):
        r = json.loads(path.read_text())
        change = ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "committed default"
        rows.append({"run": r["name"], "backbone": r["backbone"], "change": change,
                     "train in-plane mm": r["train"]["inplane_mre_mm"], "test in-plane mm": r["test"]["inplane_mre_mm"],
                     "test 95% CI": "{:.1f}–{:.1f}".format(*r["test"]["inplane_mre_mm_ci"]),
                     "test ≤10 mm %": r["test"]["inplane_sdr_10mm_pct"],
                     "test in-plane mm, flip test": r.get("test_flip", {}).get("inplane_mre_mm", float("nan")),
                     **{k: r["test"]["inplane_mre_mm_by_landmark"][k] for k in KEYS},
                     "worst branch × baseline": (float("nan") if r.get("worst_branch_share") is None
                                                 else r["worst_branch_share"]),
                     "train min": (r["train_seconds"] or float("nan")) / 60, "commit": r["commit"]})
    if not rows:
        raise AblationError(f"{RUNS}: no runs yet (python tools/ablate.py run NAME ...)")
    df = pd.DataFrame(rows)
    machines = sorted({json.loads(p.read_text())["machine"] for p in RUNS.glob("*.json")})
    md = ("Training ablations (`tools/ablate.py`): one backbone retrained on the study's labels with the training "
          "keys (or the random training copies, `augment.*`) of its row changed, same seed and data; in-plane error "
          "(mm) on the train and test split, the test "
          "split per landmark. 'worst branch × baseline': the largest last-epoch loss of a stage's branch as a share "
          "of the loss of an image-independent prediction (above 0.5 the pipeline fails the run: a branch that learnt "
          "nothing; blank for runs made before the check). 'flip test': the test split scored with each image's "
          "outputs averaged with its mirror image's (`evaluate.flip_test`, the pipeline's evaluation; blank for runs "
          "made before it); the other columns are one pass. "
          f"Machine: {'; '.join(machines)}.\n\n" + df.to_markdown(index=False, floatfmt=".1f") + "\n")
    write_text(out, md)
    return md


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/ablate.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("name")
    r.add_argument("-S", "--set", action="append", default=[], metavar="train.KEY=VALUE")
    r.add_argument("--backbone", default="resnet50", choices=BACKBONES)
    t = sub.add_parser("table")
    t.add_argument("--out", type=Path, default=ROOT / "reports" / "ablation" / "training.md")
    args = ap.parse_args(argv)
    try:
        if args.command == "run":
            run(args.name, parse_changes(args.set), args.backbone)
        else:
            print(table(args.out))
    except (AblationError, ParamsError, contract.ContractError) as exc:
        print(f"tools/ablate.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
