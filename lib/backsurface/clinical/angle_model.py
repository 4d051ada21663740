"""The major curve angle from the surface signs of a scoliosis, fitted on a tuning cohort (NumPy).

A curve shows on the back in three ways: the spine line bends (the surface curve angles of
:mod:`backsurface.clinical.curve`, thoracic and lumbar), it deviates sideways from the straight VP–NC line (the
spine line's maximum deviation), and the vertebrae rotate, raising the ribs on the convex side (the rib hump,
here the scapular depth asymmetry's magnitude, as a scoliometer reads it).  Surface topography combines such
signs; :class:`AngleModel` does it with a least-squares line over one of :data:`CANDIDATES`, the one with the
smallest 5-fold cross-validated mean absolute error **on the tuning cohort**, so the cohort it is reported on
never takes part in the choice.  In the synthetic rig the rotation follows the curve by construction
(``acquisition/synthetic/cohort.py``), more tightly than in patients, which flatters the rotation term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FEATURES = ("thoracic_surface_deg", "lumbar_surface_deg", "spine_max_deviation_mm", "rib_hump_mm")
CANDIDATES = {
    "spine line": FEATURES[:2],
    "spine line + deviation": FEATURES[:3],
    "spine line + deviation + rotation": FEATURES,
}
FOLDS = 5
MIN_SUBJECTS = 10


def features(curves: pd.DataFrame, indices: pd.DataFrame) -> pd.DataFrame:
    """The features of :data:`FEATURES` per subject from an assessment's ``curves`` and ``indices`` (a curve type
    without a curve is 0°; NaN where the subject has no spine line or no depth under the scapulae)."""
    out = pd.DataFrame(index=curves.index)
    for kind in ("thoracic", "lumbar"):
        out[f"{kind}_surface_deg"] = curves[f"{kind}_surface_deg"].to_numpy(dtype=float)
    out["spine_max_deviation_mm"] = indices["spine_max_deviation_mm"].to_numpy(dtype=float)
    out["rib_hump_mm"] = indices["scapular_depth_asym_mm"].abs().to_numpy(dtype=float)
    return out


def _design(table: pd.DataFrame, names) -> np.ndarray:
    return np.column_stack([np.ones(len(table))] + [table[n].to_numpy(dtype=float) for n in names])


def _cv_errors(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    fold = np.arange(len(y)) % FOLDS
    pred = np.empty(len(y))
    for f in range(FOLDS):
        test = fold == f
        coef, *_ = np.linalg.lstsq(x[~test], y[~test], rcond=None)
        pred[test] = np.maximum(x[test] @ coef, 0.0)
    return pred - y


@dataclass(frozen=True)
class AngleModel:
    """Major curve angle = max(0, intercept + Σ coefficient × feature) over ``names``."""

    name: str  # the candidate of CANDIDATES
    names: tuple[str, ...]
    coef: tuple[float, ...]  # intercept first, then one per name
    residual_sd: float  # cross-validated on the tuning cohort (°): the estimate's uncertainty
    n_subjects: int
    cv_mae: dict[str, float]  # every candidate's cross-validated MAE on the tuning cohort (°)

    @classmethod
    def fit(cls, table: pd.DataFrame, truth: np.ndarray) -> AngleModel:
        """The candidate with the smallest cross-validated MAE on these subjects, refitted on all of them (subjects
        with a NaN feature or truth left out)."""
        y = np.asarray(truth, dtype=np.float64)
        ok = np.isfinite(y) & np.isfinite(table[list(FEATURES)].to_numpy(dtype=float)).all(axis=1)
        if ok.sum() < MIN_SUBJECTS:
            raise ValueError(f"the angle model needs at least {MIN_SUBJECTS} subjects with every feature, got "
                             f"{int(ok.sum())}")
        t, y = table[ok], y[ok]
        errors = {name: _cv_errors(_design(t, names), y) for name, names in CANDIDATES.items()}
        cv_mae = {name: float(np.abs(e).mean()) for name, e in errors.items()}
        best = min(cv_mae, key=cv_mae.get)
        coef, *_ = np.linalg.lstsq(_design(t, CANDIDATES[best]), y, rcond=None)
        return cls(best, tuple(CANDIDATES[best]), tuple(float(c) for c in coef),
                   float(np.sqrt(np.mean(errors[best] ** 2))), int(ok.sum()), cv_mae)

    def predict(self, table: pd.DataFrame) -> np.ndarray:
        """The major curve angle per subject (°, ≥ 0; NaN where a feature is)."""
        return np.maximum(_design(table, self.names) @ np.asarray(self.coef), 0.0)

    def to_dict(self) -> dict:
        return {"name": self.name, "names": list(self.names), "coef": list(self.coef),
                "residual_sd": self.residual_sd, "n_subjects": self.n_subjects, "cv_mae": dict(self.cv_mae)}

    @classmethod
    def from_dict(cls, d: dict, source: str = "angle model") -> AngleModel:
        def finite(x, what):
            if isinstance(x, bool) or not isinstance(x, int | float) or not np.isfinite(x):
                raise ValueError(f"{source}: {what} must be a finite number, got {x!r}")
            return float(x)

        if not isinstance(d, dict) or d.get("name") not in CANDIDATES:
            raise ValueError(f"{source}: name must be one of {list(CANDIDATES)}, got "
                             f"{d.get('name') if isinstance(d, dict) else d!r}")
        names = tuple(CANDIDATES[d["name"]])
        if d.get("names") != list(names):
            raise ValueError(f"{source}: names must be {list(names)} for {d['name']!r}, got {d.get('names')!r}")
        coef = d.get("coef")
        if not isinstance(coef, list) or len(coef) != len(names) + 1:
            raise ValueError(f"{source}: coef must hold an intercept and {len(names)} coefficients, got {coef!r}")
        n = d.get("n_subjects")
        if isinstance(n, bool) or not isinstance(n, int) or n < MIN_SUBJECTS:
            raise ValueError(f"{source}: n_subjects must be a whole number >= {MIN_SUBJECTS}, got {n!r}")
        cv = d.get("cv_mae")
        if not isinstance(cv, dict) or set(cv) != set(CANDIDATES):
            raise ValueError(f"{source}: cv_mae must give every candidate of {list(CANDIDATES)}")
        sd = finite(d.get("residual_sd"), "residual_sd")
        if sd < 0:
            raise ValueError(f"{source}: residual_sd must be >= 0, got {sd}")
        return cls(d["name"], names, tuple(finite(c, "coef") for c in coef), sd, n,
                   {k: finite(v, f"cv_mae[{k!r}]") for k, v in cv.items()})


def usable(table: pd.DataFrame, truth: np.ndarray) -> int:
    """How many subjects have every feature and a true angle (the model needs :data:`MIN_SUBJECTS`)."""
    ok = np.isfinite(np.asarray(truth, dtype=np.float64))
    return int((ok & np.isfinite(table[list(FEATURES)].to_numpy(dtype=float)).all(axis=1)).sum())


def fit_if_enough(table: pd.DataFrame, truth: np.ndarray) -> AngleModel | None:
    """:meth:`AngleModel.fit`, or None where fewer than :data:`MIN_SUBJECTS` subjects have every feature (a tiny
    or failed tuning cohort: the major angle is then the larger calibrated curve)."""
    return AngleModel.fit(table, truth) if usable(table, truth) >= MIN_SUBJECTS else None


def tables(models: dict[str, AngleModel | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per landmark source: every candidate's cross-validated tuning MAE and whether it was chosen, and the chosen
    model's coefficients (sources without a model are left out)."""
    fitted = {k: m for k, m in models.items() if m is not None}
    choice = pd.DataFrame([{"landmarks": k, "candidate": name, "tuning CV MAE (°)": mae, "chosen": name == m.name}
                           for k, m in fitted.items() for name, mae in m.cv_mae.items()],
                          columns=["landmarks", "candidate", "tuning CV MAE (°)", "chosen"])
    chosen = pd.DataFrame([{"landmarks": k, "candidate": m.name, "residual_sd_deg": m.residual_sd,
                            **dict(zip(["intercept", *m.names], m.coef))} for k, m in fitted.items()],
                          columns=None if fitted else ["landmarks", "candidate", "residual_sd_deg"])
    return choice, chosen
