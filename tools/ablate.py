"""Training ablations on the study's data: one backbone retrained with some keys changed, scored on the train and
the test split with the evaluation's in-plane error, so under- and over-fitting show side by side (each split scored
in one pass and with the test-time flip).

    python tools/ablate.py run NAME [-S SECTION.KEY=VALUE ...] [--backbone resnet50] [--cohorts sway ...]
    python tools/ablate.py table [--out reports/ablation/training.md]

``run`` reads params.yaml and applies the ``-S`` changes (YAML values) to ``train``, ``preprocess``, ``augment`` or
``labels`` keys, or to ``acquire.cohort`` / ``acquire.sensor`` keys. A run of training keys only trains on the labels
on disk (``artifacts/labels``); a run that changes a data key builds its own train and test split from
``artifacts/raw`` with the pipeline's functions (preprocessing, the subject split, translations and random copies,
labels), so ``-S preprocess.crop=none`` or ``-S augment.copies=0`` needs no pipeline run. A run that changes an
``acquire`` key draws its own cohort with them (``build/ablation/NAME/raw``, the study's seed) and trains on that
cohort's training subjects (less any whose id is a study test subject; synthetic source and subject split only),
but is tested on the study's test split, so ``-S acquire.cohort.deformity_share=0``
measures what training on healthy backs alone costs on the study's test subjects.
It trains ``--backbone`` (checkpoints under ``build/ablation/NAME``: an
interrupted run resumes) and writes ``reports/ablation/runs/NAME.json``: the changes, the training configuration and
data keys, the commit, the machine, the training time, and per split the in-plane mean (with its subject-bootstrap
95% CI), median, share within 10 mm, mean per landmark, and the 3D error, each in the raw frame whatever the crop,
and the test split's flip-test outputs decoded with each scheme of ``labels.decoding`` (the decoding ablation: no
training needed). When a run's configuration equals the pipeline model's card (``TrainConfig.same_run``) and its
data are the study's, the pipeline's model is scored instead of trained again (same weights). ``--cohorts`` also
scores the model on those generalisation cohorts (``generalise.cohorts``, drawn as the generalisation stage draws
them) with the stage's scoring and the ratio to the run's test split. ``table`` gathers every run into one Markdown
table, and the runs that scored cohorts into a second. Needs ``dvc repro`` to have produced ``artifacts/labels``,
``artifacts/raw`` and the models.
Bad input (an unknown section or key, a bad value, a name that is not a safe file name): one line, exit 2.
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

from backsurface.codec.decode import METHODS as DECODINGS  # noqa: E402
from backsurface.core import contract  # noqa: E402
from backsurface.core.atomic import write_json, write_text  # noqa: E402
from backsurface.core.cpu import cpu_flags  # noqa: E402
from backsurface.core.landmarks import KEYS  # noqa: E402
from backsurface.core.params import BACKBONES, ParamsError, deep_merge, read_yaml, validate  # noqa: E402

RUNS = ROOT / "reports" / "ablation" / "runs"
DECODING_NAMES = {"logparabola": "log-parabola", "dark": "DARK"}  # a table column's name per labels.decoding


class AblationError(ValueError):
    """Bad command-line input; the message names the key or the run."""


DATA_SECTIONS = ("preprocess", "augment", "labels")
"""The sections a run may change besides ``train``: a run that changes any of them rebuilds its own data from
``artifacts/raw`` with the pipeline's functions (:func:`study_data`); a run of training keys only trains on the labels
on disk."""
ACQUIRE_GROUPS = ("cohort", "sensor")
"""The parts of ``acquire`` a run may change (``-S acquire.cohort.KEY=VALUE``): it then draws its own training cohort
and is tested on the study's test split."""


def parse_changes(pairs: list[str]) -> dict[str, object]:
    """``SECTION.KEY=VALUE`` strings → ``{KEY: value}`` for ``train`` keys (stored by the bare name, as every earlier
    run's), ``{"SECTION.KEY": value}`` for the data sections and ``{"acquire.GROUP.KEY": value}`` for the cohort and
    sensor; values are parsed as YAML scalars."""
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        section, _, name = key.partition(".")
        group, _, leaf = name.partition(".")
        acquire = bool(sep) and section == "acquire" and group in ACQUIRE_GROUPS and bool(leaf) and "." not in leaf
        if not acquire and (not sep or section not in ("train", *DATA_SECTIONS) or not name or "." in name):
            raise AblationError(f"-S {pair!r}: expected SECTION.KEY=VALUE with SECTION one of train, "
                                f"{', '.join(DATA_SECTIONS)}, or acquire.cohort.KEY / acquire.sensor.KEY (the split "
                                f"and evaluation need their own `dvc exp run`)")
        changes[name if section == "train" else key] = yaml.safe_load(value)
    return changes


def _by_section(changes: dict[str, object]) -> dict[str, dict[str, object]]:
    """``{"augment.scale": 0.1, "epochs": 13, "acquire.cohort.sway_deg": 6}`` → the nested params overlay."""
    out: dict[str, dict] = {}
    for key, value in changes.items():
        *path, name = key.split(".")
        node = out
        for part in path or ["train"]:
            node = node.setdefault(part, {})
        node[name] = value
    return out


def study_params(changes: dict[str, object]):
    """params.yaml with the changes merged in, validated like any profile, and whether the run's data differ from
    the study's (then :func:`study_data` builds them anew)."""
    study = read_yaml(ROOT / "params.yaml")
    source = "params.yaml + -S" if changes else "params.yaml"
    params = validate(deep_merge(study, _by_section(changes)), source=source)
    base = validate(study, source="params.yaml")
    rebuild = any(getattr(params, s).model_dump() != getattr(base, s).model_dump()
                  for s in (*DATA_SECTIONS, "acquire"))
    return params, rebuild


def redraws(params) -> bool:
    """Whether the run's cohort or sensor differ from params.yaml's: its training subjects are drawn anew."""
    return params.acquire.model_dump() != validate(read_yaml(ROOT / "params.yaml"), source="params.yaml"
                                                   ).acquire.model_dump()


def with_study_acquire(params):
    """The run's params with params.yaml's ``acquire``: what its test split and its generalisation cohorts are drawn
    from, whatever cohort it trained on."""
    base = validate(read_yaml(ROOT / "params.yaml"), source="params.yaml")
    return params.model_copy(update={"acquire": base.acquire})


def draw_training_cohort(params, out_dir: Path) -> Path:
    """The run's own cohort (its ``acquire`` values, the study's seed) written to ``out_dir`` through the acquire
    stage's writer; a cohort already there from an interrupted run of the same values is kept."""
    from backsurface.acquisition import acquire as acq

    if params.acquire.source != "synthetic":
        raise AblationError(f"acquire.source is {params.acquire.source!r}: a run can draw a cohort of its own only "
                            f"from the synthetic source, not change the {params.acquire.source} recordings")
    if params.split.mode != "subject":
        raise AblationError(f"split.mode is {params.split.mode!r}: a run that draws its own cohort needs the subject "
                            f"split, so that none of its training subjects is a study test subject")
    stamp = out_dir.parent / "acquire.json"
    wanted = {"acquire": params.acquire.model_dump(), "seed": params.seed}
    if out_dir.is_dir() and stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return out_dir
    acq.write_cohort(acq.open_source(params, ROOT), out_dir)
    write_json(stamp, wanted)
    return out_dir


def study_data(params, codec, train_raw: Path = ROOT / "artifacts" / "raw") -> dict[str, dict[str, np.ndarray]]:
    """The train and test split labelled from ``artifacts/raw`` under the run's ``preprocess``, ``split``,
    ``augment`` and ``labels`` values: the functions and order of the pipeline's stages 02-04 (preprocess, split by
    subject and translate, random copies on the training side, encode).  With another ``train_raw`` (a cohort of its
    own) the training side is that cohort's training subjects, the test side still the study's test split."""
    from backsurface.data import datasets, split

    a, s = params.augment, params.split
    frames = datasets.preprocess_cohort(ROOT / "artifacts" / "raw", params.preprocess)
    train, test = split.split_protocol(frames, s.mode, s.n_test_subjects, a.shift_px, params.seed)
    if Path(train_raw) != ROOT / "artifacts" / "raw":
        drawn = datasets.preprocess_cohort(train_raw, params.preprocess)
        train, _ = split.split_protocol(drawn, s.mode, s.n_test_subjects, a.shift_px, params.seed)
        train = without_test_subjects(train, test)
    train = datasets.extra_augmentations(train, a.copies, a.hflip, a.rotate_deg, a.scale, a.depth_noise, params.seed)
    return {"train": codec.encode_dataset(train), "test": codec.encode_dataset(test)}


def without_test_subjects(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A drawn cohort's training side less any subject id of the study's test split: drawn from the same seed, a
    subject of that id is (most of) the same body, so a cohort of another size, whose own split holds out other ids,
    would otherwise train on the people it is tested on."""
    from backsurface.data import datasets

    keep = ~np.isin(train["subject_ids"], np.unique(test["subject_ids"]))
    if not keep.all():
        dropped = sorted(set(train["subject_ids"][~keep]))
        print(f"dropped {len(dropped)} training subjects that are study test subjects ({', '.join(dropped[:5])}"
              f"{', ...' if len(dropped) > 5 else ''})")
    if not keep.any():
        raise AblationError("the drawn cohort has no training subject outside the study's test split")
    return datasets.take(train, keep)


def _check_labels_on_disk(splits: dict[str, dict[str, np.ndarray]], params, codec,
                          raw_dir: Path = ROOT / "artifacts" / "raw") -> None:
    """The labels on disk must be those of params.yaml (else a run of training keys would train on stale data): as
    many random copies per training image as ``augment`` makes, the codec's grid, and its preprocessing (crop, input
    size, background cut: the first frame's transform re-derived from its raw frame in ``raw_dir``)."""
    from backsurface.data.datasets import makes_random_copies
    from backsurface.evaluation.scoring import raw_depths, with_raw_map

    a = params.augment
    per_image = 1 + (a.copies if makes_random_copies(a.copies, a.hflip, a.rotate_deg, a.scale, a.depth_noise) else 0)
    train = splits["train"]
    n_kept, n_all = len(with_raw_map(train)["ids"]), len(train["ids"])
    if n_all != n_kept * per_image:
        raise AblationError(f"artifacts/labels/train.npz holds {n_all} images for {n_kept} frames and translations, "
                            f"params.yaml's augment makes {per_image} per image: run `dvc repro labels` first")
    if tuple(train["heatmaps"].shape[1:3]) != (codec.output_size,) * 2:
        raise AblationError(f"artifacts/labels/train.npz has {train['heatmaps'].shape[1]}² heatmaps, params.yaml's "
                            f"codec {codec.output_size}²: run `dvc repro labels` first")
    # the crop, input size and background cut: the first frame's transform re-derived from its raw frame
    first = int(np.flatnonzero(train["augmentation"] == "original")[0])
    frame_id = str(train["ids"][first])
    depth = raw_depths(raw_dir, np.array([frame_id]))[frame_id]
    _, transform = codec.preprocess(depth.astype(float), name=frame_id)
    if not np.allclose(transform.to_row(), train["transforms"][first], rtol=0, atol=1e-6):
        raise AblationError(f"artifacts/labels/train.npz: frame {frame_id} was not preprocessed with params.yaml's "
                            f"preprocess (crop {codec.crop!r}, input {codec.input_size}): run `dvc repro labels` "
                            f"first")


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


ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "avx512_bf16", "amx_bf16")
"""The CPU flags that decide TensorFlow's and ONNX Runtime's kernels (recorded so a reader can tell machines apart)."""


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Float32 matrix-product throughput of this machine (GFLOP/s, best of ``repeats``): one number that tells a fast
    machine from a slow one, recorded with each run so the 'train min' of runs on different machines can be read."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def machine_detail(cpuinfo: str | None = None) -> dict[str, object]:
    """The CPU model, core count, ISA flags and :func:`matmul_gflops` of this machine (``cpuinfo``: the text of
    /proc/cpuinfo, read when None; empty where there is none)."""
    import os  # noqa: PLC0415

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            cpuinfo = ""
    model = next((line.partition(":")[2].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor() or platform.machine())
    flags = cpu_flags(cpuinfo)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": model, "cores": cores, "isa": [f for f in ISA_FLAGS if f in flags],
            "matmul_gflops": round(matmul_gflops(), 1)}


def split_scores(loc_score: tuple) -> dict:
    loc, s = loc_score
    i, lo, hi = s["inplane_mre_mm_ci"]
    return {"inplane_mre_mm": i, "inplane_mre_mm_ci": [lo, hi], "inplane_median_mm": s["inplane"]["Total"]["median_mm"],
            "inplane_sdr_10mm_pct": s["inplane"]["Total"]["within_10mm"],
            "inplane_mre_mm_by_landmark": {k: s["inplane"][k]["mean_mm"] for k in KEYS},
            "inplane_relative_mre_mm": s["inplane_relative_mre_mm_ci"][0],
            "inplane_relative_mre_mm_by_landmark": {k: s["inplane_relative"][k]["mean_mm"] for k in KEYS},
            "mean_error_mm": s["mean_error_mm_ci"][0]}


def cohort_scores(model, codec, params, names: list[str], root: Path = ROOT) -> dict[str, dict]:
    """The model on the generalisation cohorts ``names`` (``generalise.cohorts``: drawn and rendered as the
    generalisation stage draws them, ``generalise.n_subjects`` each), scored through the stage's own
    :func:`~backsurface.evaluation.generalise.score_on_cohort` with the evaluation's flip setting: per cohort the
    in-plane mean (CI), median, share within 10 mm, per landmark, for all frames and healthy / deformed apart."""
    from backsurface.acquisition import acquire as acq
    from backsurface.core.params import shifted_cohort_params
    from backsurface.evaluation import generalise
    from backsurface.net import inference
    from backsurface.net.predictor import Predictor

    runner = inference.KerasRunner(model)
    predictor = Predictor(inference.FlipTest(runner) if params.evaluate.flip_test else runner, codec)
    out = {}
    for cohort in names:
        records = list(acq.open_source(shifted_cohort_params(params, cohort), root))
        scores, _, _ = generalise.score_on_cohort(predictor, records, params.evaluate.bootstrap, params.seed)
        out[cohort] = generalise.metrics_json({cohort: {"model": scores}})[cohort]["model"]
        print(f"  cohort {cohort}: {out[cohort]['inplane_mre_mm']:.2f} mm in-plane ({len(records)} frames)")
    return out


def _check_cohorts(names: list[str], params) -> None:
    unknown = [c for c in names if c not in params.generalise.cohorts]
    if unknown:
        raise AblationError(f"--cohorts {' '.join(unknown)}: not in params.yaml's generalise.cohorts "
                            f"({', '.join(params.generalise.cohorts)})")


def run(name: str, changes: dict[str, object], backbone: str, cohorts: list[str] = ()) -> Path:
    from backsurface.codec.label_codec import LabelCodec
    from backsurface.evaluation import scoring
    from backsurface.net import inference, model_file
    from backsurface.net import train as training
    from backsurface.net.tfdata import load_split

    contract.check_id(name, "run name")
    params, rebuild = study_params(changes)
    _check_cohorts(list(cohorts), params)
    config = training.TrainConfig.from_params(params, backbone)
    pipeline_model = ROOT / "artifacts" / "models" / backbone / "model.keras"
    codec = LabelCodec.from_params(params)
    t0 = time.perf_counter()
    train_raw = ROOT / "artifacts" / "raw"
    if rebuild and redraws(params):
        print(f"{name}: drawing its own training cohort ({', '.join(k for k in changes if k.startswith('acquire.'))})")
        train_raw = draw_training_cohort(params, ROOT / "build" / "ablation" / name / "raw")
    if rebuild:
        print(f"{name}: building its own data from {train_raw.relative_to(ROOT)} (preprocess, split, augment, labels)")
        splits = study_data(params, codec, train_raw)
    else:
        splits = {s: load_split(ROOT / "artifacts" / "labels" / f"{s}.npz") for s in ("train", "test")}
        _check_labels_on_disk(splits, params, codec)
    card = model_file.read_card(pipeline_model) if pipeline_model.exists() else {}
    n_images = len(splits["train"]["ids"])
    if (not rebuild and "config" in card and config.same_run(card["config"])
            and LabelCodec.for_model(pipeline_model) == codec):
        print(f"{name}: configuration of the pipeline's {backbone}: scoring {pipeline_model}")
        model, codec = model_file.load(pipeline_model)
        seconds, reused = card.get("train_seconds"), True
    else:
        # a row with a branch that learnt nothing is kept (it is the finding) and its share shows in the table
        result = training.train(config, splits["train"], ROOT / "build" / "ablation" / name,
                                max_baseline_share=None)
        model = result.model
        seconds, reused = sum(r["seconds"] for r in result.history), False
        card = {"health": {"worst": max(r["share"] for r in result.health)}}
    splits = {s: scoring.with_raw_map(d) for s, d in splits.items()}  # scored: frames and translations
    from backsurface.evaluation.scoring import raw_depths

    raw_of = {"train": train_raw, "test": ROOT / "artifacts" / "raw"}  # a drawn cohort trains; the study's tests
    depths = {s: raw_depths(raw_of[s], d["ids"]) for s, d in splits.items()}
    out = {"name": name, "backbone": backbone, "changes": changes, "config": dataclasses.asdict(config),
           "data": {"preprocess": params.preprocess.model_dump(), "augment": params.augment.model_dump(),
                    "labels": params.labels.model_dump(), "rebuilt": rebuild,
                    "training_cohort": params.acquire.model_dump() if redraws(params) else "the study's"},
           "train_images": int(n_images),
           "seed": params.seed, "commit": _commit(), "machine": _machine(), "machine_detail": machine_detail(),
           "train_seconds": seconds, "scored_pipeline_model": reused, "wall_seconds": time.perf_counter() - t0,
           "worst_branch_share": max(card.get("health", {}).values(), default=None)}
    for split, data in splits.items():  # one pass, and the test-time flip (evaluate.flip_test) on the same outputs
        _, heat, pafs = inference.final_outputs(model, data["images"], flip_test=False)
        flipped = inference.FlipTest(inference.KerasRunner(model)).average((heat, pafs), data["images"])
        for key, (h, p) in ((split, (heat, pafs)), (f"{split}_flip", flipped)):
            out[key] = split_scores(scoring.evaluate_outputs(h, p, data, depths[split], codec, params.evaluate,
                                                             params.seed))
        if split == "test":  # the same flip-test outputs under every decoding scheme: the decoding ablation
            out["test_flip_by_decoding"] = {
                method: out["test_flip"] if method == codec.decoding else
                split_scores(scoring.evaluate_outputs(*flipped, data, depths[split],
                                                      dataclasses.replace(codec, decoding=method),
                                                      params.evaluate, params.seed))
                for method in DECODINGS}
    if cohorts:  # the generalisation cohorts, scored as the stage scores them (with evaluate.flip_test)
        out["cohorts"] = cohort_scores(model, codec, with_study_acquire(params), list(cohorts))
        out["cohort_ratio_reference"] = reference = "test_flip" if params.evaluate.flip_test else "test"
        for c in out["cohorts"].values():
            c["to_test_ratio"] = c["inplane_mre_mm"] / out[reference]["inplane_mre_mm"]
    path = write_json(RUNS / f"{name}.json", out)
    print(f"{name}: train {out['train']['inplane_mre_mm']:.2f} mm, test {out['test']['inplane_mre_mm']:.2f} mm "
          f"in-plane -> {path.relative_to(ROOT)}")
    return path


def _run_copies(run: dict) -> dict[str, object]:
    """A run's random training copies; runs made before its data were recorded made only those their changes asked
    for (the default profile made none then)."""
    if "data" in run:
        return run["data"]["augment"]
    asked = {k.removeprefix("augment."): v for k, v in run["changes"].items() if k.startswith("augment.")}
    return {k: asked.get(k, 0) for k in ("copies", "hflip", "rotate_deg", "scale", "depth_noise")} if asked else {}


def _describe_copies(copies: dict[str, object]) -> str:
    """``{copies: 1, hflip: True, rotate_deg: 5, ...}`` → ``1× flip, rot ±5°``; ``none`` when no copy is made."""
    from backsurface.data.datasets import makes_random_copies

    if not copies or not makes_random_copies(*(copies.get(k, 0) for k in ("copies", "hflip", "rotate_deg", "scale",
                                                                           "depth_noise"))):
        return "none"
    kinds = [name for name, on in (("flip", copies.get("hflip")), (f"rot ±{copies.get('rotate_deg', 0):g}°",
                                                                 copies.get("rotate_deg")),
                                   (f"scale ±{copies.get('scale', 0):g}", copies.get("scale")),
                                   (f"noise {copies.get('depth_noise', 0):g}", copies.get("depth_noise"))) if on]
    return f"{copies['copies']}× " + ", ".join(kinds)


def _describe_cpu(run: dict) -> str | None:
    """``AMD EPYC, 2 cores, AVX-512 VNNI, 216 GFLOP/s``; None for a run made before :func:`machine_detail`."""
    d = run.get("machine_detail")
    if not d:
        return None
    isa = ("AVX-512 VNNI" if "avx512_vnni" in d["isa"] else "AVX-512" if "avx512f" in d["isa"] else
           "AVX2" if "avx2" in d["isa"] else "no AVX2")
    if "amx_bf16" in d["isa"] or "amx_tile" in d["isa"]:  # runs before the bf16 flags were recorded: amx_tile
        isa += " AMX"
    elif "avx512_bf16" in d["isa"]:
        isa += " BF16"
    return f"{d['cpu']}, {d['cores']} cores, {isa}, {d['matmul_gflops']:.0f} GFLOP/s"


def table(out: Path) -> str:
    rows = []
    for path in sorted(RUNS.glob("*.json")):
        r = json.loads(path.read_text())
        change = ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "none (the default then)"
        c = r["config"]
        schedule = (f"constant {c['learning_rate']:g}" if c["lr_schedule"] == "constant" else
                    f"{c['lr_schedule']} from {c['learning_rate']:g}, {c['warmup_epochs']} warm-up")
        crop = r.get("data", {}).get("preprocess", {}).get("crop", "none")  # every run before the record: none
        rows.append({"run": r["name"], "backbone": r["backbone"], "change": change, "crop": crop,
                     "epochs": c["epochs"], "learning rate": schedule,
                     "precision": c.get("precision", "float32"),  # a run before the key trained in float32
                     "random copies": _describe_copies(_run_copies(r)),
                     "train in-plane mm": r["train"]["inplane_mre_mm"], "test in-plane mm": r["test"]["inplane_mre_mm"],
                     "test 95% CI": "{:.1f}–{:.1f}".format(*r["test"]["inplane_mre_mm_ci"]),
                     "test ≤10 mm %": r["test"]["inplane_sdr_10mm_pct"],
                     "test in-plane mm, flip test": r.get("test_flip", {}).get("inplane_mre_mm", float("nan")),
                     **{f"flip, {DECODING_NAMES[m]}": r.get("test_flip_by_decoding", {}).get(m, {}).get(
                         "inplane_mre_mm", float("nan")) for m in DECODINGS},
                     **{f"RPSIS flip, {DECODING_NAMES[m]}": r.get("test_flip_by_decoding", {}).get(m, {}).get(
                         "inplane_mre_mm_by_landmark", {}).get("RPSIS", float("nan")) for m in DECODINGS},
                     "test relative mm, flip": r.get("test_flip", {}).get("inplane_relative_mre_mm", float("nan")),
                     **{k: r["test"]["inplane_mre_mm_by_landmark"][k] for k in KEYS},
                     "worst branch × baseline": (float("nan") if r.get("worst_branch_share") is None
                                                 else r["worst_branch_share"]),
                     "train min": (r["train_seconds"] or float("nan")) / 60,
                     "CPU": _describe_cpu(r),
                     "commit": r["commit"]})
    if not rows:
        raise AblationError(f"{RUNS}: no runs yet (python tools/ablate.py run NAME ...)")
    df = pd.DataFrame(rows)
    df = df.astype(object).where(df.notna(), None)  # a value a run did not record is a blank cell, not "nan"
    machines = sorted({json.loads(p.read_text())["machine"] for p in RUNS.glob("*.json")})
    md = ("Training ablations (`tools/ablate.py`): one backbone retrained with the keys of its row changed "
          "(training keys on the study's labels; data keys on its own data built from the raw frames), same seed; "
          "in-plane error (mm, measured in the raw frame whatever the crop) on the train and test split, the test "
          "split per landmark. 'worst branch × baseline': the largest last-epoch loss of a stage's branch as a share "
          "of the loss of an image-independent prediction (above 0.5 the pipeline fails the run: a branch that learnt "
          "nothing; blank for runs made before the check). 'flip test': the test split scored with each image's "
          "outputs averaged with its mirror image's (`evaluate.flip_test`, the pipeline's evaluation; blank for runs "
          "made before it); 'flip, log-parabola' and 'flip, DARK': the same flip-test outputs decoded with each "
          "scheme (`labels.decoding`; the run's own is in 'test in-plane mm, flip test'; blank for runs made before "
          "both were scored), 'RPSIS flip, …' the same for the landmark with the largest error; 'test relative mm, "
          "flip': the flip-test in-plane error once each image's common offset is removed (the part not shared by "
          "its landmarks; blank for runs made before it was recorded); the other columns are one pass. 'change': "
          "the keys the run set on top of params.yaml at its commit (an `acquire.…` key: the run trained on a "
          "cohort of its own drawn with it, and was tested on the study's test split: its train columns score that "
          "drawn cohort's training subjects, none of them a study test subject); 'crop' to 'random copies': "
          "what it then "
          "trained with ('precision': `train.precision`) (a random copy "
          "is one more image per training image, so it doubles an epoch's images and time). 'train min' depends on "
          "the machine: 'CPU' is the run's CPU model, cores, widest vector instructions and float32 matrix-product "
          "throughput (GFLOP/s, measured with the run; blank for runs made before it was recorded, whose machine is "
          f"known only as: {'; '.join(machines)}).\n\n"
          + df.to_markdown(index=False, floatfmt=".1f", missingval="") + "\n")
    md += cohort_table([json.loads(p.read_text()) for p in sorted(RUNS.glob("*.json"))])
    write_text(out, md)
    return md


def _cohort_cell(scores: dict) -> str:
    """'4.5 (1.11)': a cohort's in-plane mean and its ratio to the test split; where the subject finder missed
    frames, the share found as well (the mean is over those only)."""
    cell = f"{scores['inplane_mre_mm']:.1f} ({scores['to_test_ratio']:.2f})"
    found = scores.get("found_pct", 100.0)
    return cell if found >= 100.0 else f"{cell}, {found:.1f} % found"


def cohort_table(runs: list[dict]) -> str:
    """The runs that scored generalisation cohorts (``--cohorts``): per cohort the in-plane mean and its ratio to
    the run's own test split; '' when no run did."""
    rows = [{"run": r["name"], "change": ", ".join(f"{k}={v}" for k, v in r["changes"].items()) or "none",
             "test in-plane mm": r[r["cohort_ratio_reference"]]["inplane_mre_mm"],
             **{f"{c} mm (× test)": _cohort_cell(v) for c, v in r["cohorts"].items()}}
            for r in runs if r.get("cohorts")]
    if not rows:
        return ""
    df = pd.DataFrame(rows)
    df = df.astype(object).where(df.notna(), None)
    return ("\nGeneralisation of the runs that scored cohorts (`--cohorts`): in-plane mean (mm) on each new cohort "
            "(`generalise.cohorts`, the generalisation stage's draw and scoring, with the evaluation's flip "
            "setting) and its ratio to the run's own test split (the issue's goal: within 1.5×); where frames had no "
            "subject in front of the background cut, the share found (the mean is over the frames found).\n\n"
            + df.to_markdown(index=False, floatfmt=".1f", missingval="") + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tools/ablate.py", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("name")
    r.add_argument("-S", "--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    r.add_argument("--backbone", default="resnet50", choices=BACKBONES)
    r.add_argument("--cohorts", nargs="+", default=[], metavar="COHORT",
                   help="also score these generalisation cohorts (generalise.cohorts), as the stage does")
    t = sub.add_parser("table")
    t.add_argument("--out", type=Path, default=ROOT / "reports" / "ablation" / "training.md")
    args = ap.parse_args(argv)
    try:
        if args.command == "run":
            run(args.name, parse_changes(args.set), args.backbone, args.cohorts)
        else:
            print(table(args.out))
    except (AblationError, ParamsError, contract.ContractError) as exc:
        print(f"tools/ablate.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
