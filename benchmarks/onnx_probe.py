"""Helpers of the inference benchmarks: the frames an int8 copy is calibrated and scored on, and ONNX Runtime's
time per model part.

They measure whether an int8 copy (:mod:`backsurface.net.quantize`) or a lighter part of the network would buy the
Kinect's 30 frames/s on a CPU.

- :func:`split_frames`: the annotations of the training split (to calibrate on) and of the test split (to score
  on), from the study's ``reports/tables/split.json``; never the same subject on both sides.
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
         (re.compile(r"/features_up"), "upsampling to stride 4"), (re.compile(r"/s(\d+)_b\d"), "stage {}"))


def split_frames(annotations: list, split_path: Path, n_calibration: int) -> tuple[list, list]:
    """Up to ``n_calibration`` annotations of training-split subjects and every annotation of a test-split subject
    (a record's subject: its ``subject_id``, else its id, as the split was made)."""
    split = json.loads(Path(split_path).read_text())
    train_ids, test_ids = set(split["train"]), set(split["test"])
    if train_ids & test_ids:
        raise SystemExit(f"{split_path}: subjects on both sides (split.mode image?): the int8 copy would be scored on "
                         f"frames it was calibrated on; use a subject split")
    subject = {a.id: str(a.subject.get("subject_id", a.id)) for a in annotations}
    train = [a for a in annotations if subject[a.id] in train_ids][:n_calibration]
    test = [a for a in annotations if subject[a.id] in test_ids]
    if not train or not test:
        raise SystemExit(f"{split_path}: no frame of artifacts/raw belongs to its {'train' if not train else 'test'} "
                         f"subjects: the split is not this cohort's (run dvc repro augment)")
    return train, test


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
