"""Acquisition: write the recordings of any frame source as a raw cohort in the data contract."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from backsurface.acquisition.recording import Recording
from backsurface.core import contract
from backsurface.core.atomic import atomic_dir
from backsurface.core.landmarks import KEYS, N_LANDMARKS


def annotation_for(rec: Recording) -> contract.Annotation:
    """The contract's annotation record of one recording (its id checked: a safe file name, before any write)."""
    where = f"recording {contract._short(rec.id)}"
    contract.check_id(rec.id, f"{where}: id")
    if not isinstance(rec.subject, dict) or "subject_id" not in rec.subject:
        raise contract.ContractError(f"{where}: subject has no subject_id")
    pts = np.asarray(rec.landmarks, dtype=float)
    if pts.shape != (N_LANDMARKS, 2):
        raise contract.ContractError(f"{where}: landmarks must be ({N_LANDMARKS}, 2), got {pts.shape}")
    half = np.isnan(pts).sum(axis=1) == 1
    if half.any():
        k = int(np.flatnonzero(half)[0])
        raise contract.ContractError(f"{where}: landmark {KEYS[k]} has one coordinate missing (x={pts[k, 0]}, "
                                     f"y={pts[k, 1]}); a landmark is missing as a whole (both NaN) or present")
    clash = sorted(set(rec.extra) & set(contract.Annotation.model_fields))
    if clash:
        raise contract.ContractError(f"{where}: extra field {clash[0]!r} is a field of the record itself")
    subject = {"subject_id": str(rec.subject["subject_id"])}
    subject.update({k: rec.subject[k] for k in ("sex", "age") if k in rec.subject})
    fields = dict(
        id=rec.id, image=f"{contract.DEPTH_DIR}/{rec.id}.png", landmarks=contract.flat_landmarks(rec.landmarks),
        subject=subject, source=rec.source, **rec.extra,
    )
    if rec.landmarks_mm is not None:
        fields["landmarks_mm"] = [[round(float(c), 2) for c in p] for p in np.asarray(rec.landmarks_mm)]
    return contract.parse_annotations([fields], source=where)[0]


def _same_value(a, b) -> bool:
    try:
        if a == b:
            return True
        return bool(pd.isna(a) and pd.isna(b))
    except (TypeError, ValueError):
        return False


def _check_same_subject(first: dict, again: dict, rec_id: str) -> None:
    """Two recordings of one subject carry one description of that subject (else cohort.csv would keep the first
    silently)."""
    for k in sorted(set(first) | set(again)):
        if not _same_value(first.get(k), again.get(k)):
            raise contract.ContractError(
                f"recording {rec_id!r}: subject {first['subject_id']!r} has {k}={again.get(k)!r} here but "
                f"{k}={first.get(k)!r} in an earlier recording; one subject, one row of cohort.csv")


def _check_not_the_source(recordings, out_dir: Path) -> None:
    """The cohort being written is never the raw cohort it is imported from, nor holds it, nor lies inside it."""
    src = getattr(recordings, "cohort_dir", None)
    if src is None:
        return
    a, b = Path(src).resolve(), out_dir.resolve()
    if a == b or a.is_relative_to(b) or b.is_relative_to(a):
        raise contract.ContractError(f"{out_dir}: the output cohort overlaps the imported cohort {src}; raw "
                                     f"frames are never rewritten: write the new cohort elsewhere")


def write_cohort(recordings: Iterable[Recording], out_dir: str | Path, progress: bool = True) -> pd.DataFrame:
    """Write depth PNGs, ``annotations.json`` and ``cohort.csv`` into ``out_dir``, whole or not at all.

    The directory is built under a temporary name and renamed at the end, so an
    error or an interruption leaves any previous cohort untouched.  Returns the
    cohort table.
    """
    out_dir = Path(out_dir)
    _check_not_the_source(recordings, out_dir)
    total = len(recordings) if hasattr(recordings, "__len__") else None
    with atomic_dir(out_dir) as tmp:
        depth_dir = tmp / contract.DEPTH_DIR
        depth_dir.mkdir()
        annotations, rows, seen = [], [], {}
        for rec in tqdm(recordings, total=total, desc="acquire", disable=not progress):
            ann = annotation_for(rec)
            frame = tmp / ann.image
            if frame.parent != depth_dir:  # the id rule already ensures it; never write outside depth/
                raise contract.ContractError(f"recording {ann.id!r}: frame {ann.image!r} is not in "
                                             f"{contract.DEPTH_DIR}/")
            contract.write_depth(frame, rec.depth)
            annotations.append(ann)
            sid = ann.subject["subject_id"]
            if sid in seen:
                _check_same_subject(seen[sid], dict(rec.subject), ann.id)
            else:
                seen[sid] = dict(rec.subject)
                rows.append(dict(rec.subject))
        if not annotations:
            raise contract.ContractError(f"{out_dir}: the source produced no recordings")
        contract.write_annotations(tmp / contract.ANNOTATIONS, annotations)
        cohort = pd.DataFrame(rows)
        contract.write_cohort_table(tmp / contract.COHORT, cohort)
    return cohort


def open_source(params, root: Path):
    """The frame source named by ``params.acquire.source`` (a validated :class:`~backsurface.params.Params`)."""
    acq = params.acquire
    if acq.source == "synthetic":
        from backsurface.acquisition.synthetic.sensor import NoiseModel  # noqa: PLC0415
        from backsurface.acquisition.synthetic.source import SyntheticSource  # noqa: PLC0415 - torch only when synthesising

        return SyntheticSource(cohort_spec(params), NoiseModel(enabled=acq.sensor.noise), wall_mm=acq.sensor.wall_mm)
    if acq.source == "import":
        from backsurface.acquisition.sources import ImportSource  # noqa: PLC0415

        return ImportSource(Path(root) / acq.import_dir)
    from backsurface.acquisition.sources import open_kinect  # noqa: PLC0415

    return open_kinect([f"S{i + 1:03d}" for i in range(acq.cohort.n_subjects)])


def cohort_spec(params):
    from backsurface.acquisition.synthetic.cohort import CohortSpec  # noqa: PLC0415

    c, s = params.acquire.cohort, params.acquire.sensor
    return CohortSpec(
        n_subjects=c.n_subjects, n_female=c.n_female, age_min=c.age_min, age_max=c.age_max,
        deformity_share=c.deformity_share, cobb_max_deg=c.cobb_max_deg, sway_deg=c.sway_deg,
        weight_min=c.weight_min, distance_mm=s.distance_mm, distance_jitter_mm=s.distance_jitter_mm,
        lateral_jitter_mm=s.lateral_jitter_mm, sensor_height_mm=s.sensor_height_mm, seed=params.seed,
    )


def summarise_cohort(cohort: pd.DataFrame) -> pd.DataFrame:
    """Demographics per sex and overall: count, age, height, weight and BMI as mean ± SD."""
    cols = [c for c in ("age", "height_m", "weight_kg", "bmi") if c in cohort.columns]
    groups = [(str(s), g) for s, g in cohort.groupby("sex")] if "sex" in cohort else []
    groups.append(("all", cohort))
    rows = []
    for name, g in groups:
        row = {"group": name, "n": len(g)}
        for c in cols:
            row[c] = f"{g[c].mean():.2f} ± {g[c].std(ddof=1) if len(g) > 1 else 0.0:.2f}"
            row[f"{c}_range"] = f"{g[c].min():.2f}–{g[c].max():.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


def cohort_metrics(cohort: pd.DataFrame, annotations: list, source: str, seconds: float) -> dict:
    """The acquisition stage's metrics: counts, the source and the frame rate of writing the cohort."""
    metrics = {
        "n_subjects": int(len(cohort)),
        "n_frames": len(annotations),
        "n_female": int((cohort["sex"] == "F").sum()) if "sex" in cohort else None,
        "source": source,
        "frames_per_second": round(len(annotations) / seconds, 3),
    }
    if "deformed" in cohort:
        metrics["n_deformed"] = int(cohort["deformed"].sum())
    return metrics


def showcase_frames(source, params) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, depth, landmarks) of the synthetic source's four showcase bodies (woman, man, high BMI, a curve)."""
    from backsurface.acquisition.synthetic.source import showcase_subjects  # noqa: PLC0415 - torch

    items = []
    for i, (label, subject) in enumerate(showcase_subjects(cohort_spec(params))):
        r = source.render(subject, np.random.default_rng([params.seed, 10_000 + i]))
        items.append((label, r.depth, r.landmarks_px))
    return items
