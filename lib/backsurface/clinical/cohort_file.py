"""A clinical cohort on disk: what the clinical stage measured its indices and angles on, per subject (the cohort
table, the raw depth frame, the true and the predicted landmarks, the background cut and the spine prior), so the
angle estimator and the indices can be refitted and re-validated without rendering and predicting again.

One NPZ per cohort (``artifacts/clinical/{tuning,validation}.npz``): the table column by column (``table/<name>``,
numbers as float64, anything else as text), depth frames as uint16 mm, the spine priors padded with NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from backsurface.core import arrayfile

TABLE = "table/"
SOURCES = ("predicted", "true")


@dataclass
class ClinicalCohort:
    table: pd.DataFrame
    depths: list[np.ndarray]  # (424, 512) float mm each, 0 where the sensor has no reading
    px: dict[str, np.ndarray]  # source → (N, 10, 2) raw pixels
    mm: dict[str, np.ndarray]  # source → (N, 10, 3) camera mm
    cuts_mm: np.ndarray  # (N,) background cut of each frame
    priors: list[np.ndarray | None]  # predicted spine prior per subject (columns per row VP..NC), or None


def save(path: str | Path, cohort: ClinicalCohort) -> Path:
    n = len(cohort.table)
    if not (len(cohort.depths) == len(cohort.cuts_mm) == len(cohort.priors) == n):
        raise ValueError(f"{path}: the table has {n} subjects, the frames {len(cohort.depths)}, the cuts "
                         f"{len(cohort.cuts_mm)}, the priors {len(cohort.priors)}")
    depth = np.stack([np.clip(np.rint(np.nan_to_num(d)), 0, 65535) for d in cohort.depths]).astype(np.uint16)
    longest = max([len(p) for p in cohort.priors if p is not None], default=0)
    priors = np.full((n, longest), np.nan)
    lengths = np.full(n, -1, dtype=np.int64)  # -1: no prior
    for i, p in enumerate(cohort.priors):
        if p is not None:
            priors[i, :len(p)], lengths[i] = p, len(p)
    columns = {}
    for name in cohort.table.columns:
        col = cohort.table[name]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        columns[TABLE + str(name)] = (col.to_numpy(float, na_value=np.nan) if numeric
                                      else np.array(col.astype(str).tolist(), dtype=str))
    return arrayfile.save(path, depth=depth, cuts_mm=np.asarray(cohort.cuts_mm, float), priors=priors,
                          prior_lengths=lengths, **{f"px/{k}": np.asarray(cohort.px[k], float) for k in SOURCES},
                          **{f"mm/{k}": np.asarray(cohort.mm[k], float) for k in SOURCES}, **columns)


def load(path: str | Path) -> ClinicalCohort:
    required = ("depth", "cuts_mm", "priors", "prior_lengths", *(f"{a}/{k}" for a in ("px", "mm") for k in SOURCES))
    data = arrayfile.load(path, required=required)
    table = pd.DataFrame({k[len(TABLE):]: v for k, v in data.items() if k.startswith(TABLE)})
    for name in table.columns:  # text columns that held booleans come back as booleans
        if not pd.api.types.is_numeric_dtype(table[name]) and set(table[name]) <= {"True", "False"}:
            table[name] = table[name] == "True"
    priors = [None if n < 0 else data["priors"][i, :n] for i, n in enumerate(data["prior_lengths"])]
    return ClinicalCohort(table, [d.astype(float) for d in data["depth"]],
                          {k: data[f"px/{k}"] for k in SOURCES}, {k: data[f"mm/{k}"] for k in SOURCES},
                          data["cuts_mm"], priors)
