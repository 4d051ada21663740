"""Drawing a synthetic cohort: who the subjects are, how they stand, which deformity they carry.

Pure NumPy given the shape prior's Beta parameters; one seeded generator per
cohort, so the same seed gives the same subjects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from backsurface.acquisition.synthetic.body import Phenotype, Posture
from backsurface.acquisition.synthetic.scene import Placement


@dataclass(frozen=True)
class CohortSpec:
    n_subjects: int = 105
    n_female: int = 50
    age_min: float = 19.0
    age_max: float = 35.0
    deformity_share: float = 0.0
    cobb_max_deg: float = 40.0
    distance_mm: float = 1500.0
    distance_jitter_mm: float = 50.0
    lateral_jitter_mm: float = 30.0
    sensor_height_mm: float = 1100.0
    sway_deg: float = 2.0
    weight_min: float = 0.0  # the weight knob's law squeezed into [weight_min, 1]: a heavier cohort
    seed: int = 0


@dataclass(frozen=True)
class Subject:
    subject_id: str
    sex: str
    age: float
    phenotype: Phenotype
    posture: Posture
    placement: Placement
    deformed: bool

    def row(self) -> dict:
        """Flat record for ``cohort.csv``: demographics, phenotype knobs, posture and deformity truth."""
        out = {"subject_id": self.subject_id, "sex": self.sex, "age": round(self.age, 1), "deformed": self.deformed}
        out.update({f"anny_{k}": round(v, 4) for k, v in self.phenotype.kwargs().items()})
        out.update({k: round(v, 3) for k, v in asdict(self.posture).items()})
        out.update({k: round(v, 1) for k, v in asdict(self.placement).items()})
        return out


def sample_deformity(rng: np.random.Generator, cobb_max_deg: float) -> dict[str, float]:
    """A scoliosis-like posture: a thoracic curve (and often a lumbar counter-curve) with its rotation.

    Curve angles are uniform in [5°, ``cobb_max_deg``] with a random side;
    axial rotation follows the thoracic curve (≈0.3°/° ± noise, the rib hump);
    shoulder height and pelvic obliquity follow the curve partly, plus noise;
    sagittal changes are independent.
    """
    side = rng.choice([-1.0, 1.0])
    thoracic = side * rng.uniform(5.0, cobb_max_deg)
    lumbar = side * rng.uniform(0.3, 0.8) * abs(thoracic) if rng.random() < 0.6 else 0.0
    return {
        "thoracic_cobb_deg": thoracic,
        "lumbar_cobb_deg": lumbar,
        "axial_rotation_deg": 0.3 * thoracic + rng.normal(0.0, 1.0),
        "kyphosis_delta_deg": rng.normal(0.0, 6.0),
        "lordosis_delta_deg": rng.normal(0.0, 6.0),
        "shoulder_tilt_deg": 0.12 * thoracic + rng.normal(0.0, 1.0),
        "pelvic_obliquity_deg": rng.normal(0.0, 1.5),
    }


def sample_cohort(spec: CohortSpec, prior) -> list[Subject]:
    """Draw ``spec.n_subjects`` subjects.

    ``prior`` is the shape prior (:class:`.body.PhenotypePrior` or any object with
    ``beta_params(female, years)`` → {knob: (alpha, beta)} and ``anny_age(years)``).
    """
    if not 0 <= spec.n_female <= spec.n_subjects:
        raise ValueError(f"n_female={spec.n_female} must lie in [0, n_subjects={spec.n_subjects}]")
    rng = np.random.default_rng(spec.seed)
    female = np.zeros(spec.n_subjects, dtype=bool)
    female[rng.choice(spec.n_subjects, spec.n_female, replace=False)] = True
    n_deformed = int(round(spec.deformity_share * spec.n_subjects))
    deformed = np.zeros(spec.n_subjects, dtype=bool)
    deformed[rng.choice(spec.n_subjects, n_deformed, replace=False)] = True
    subjects = []
    for i in range(spec.n_subjects):
        years = rng.uniform(spec.age_min, spec.age_max)
        params = prior.beta_params(bool(female[i]), years)
        knobs = {k: float(np.clip(rng.beta(a, b), 0.0, 1.0)) for k, (a, b) in params.items()}
        if "weight" in knobs:  # an affine squeeze keeps every draw (weight_min 0 leaves the cohort as it was)
            knobs["weight"] = spec.weight_min + (1.0 - spec.weight_min) * knobs["weight"]
        gender = float(rng.uniform(0.9, 1.0) if female[i] else rng.uniform(0.0, 0.1))
        phenotype = Phenotype(gender=gender, age=prior.anny_age(years), **knobs)
        sway = spec.sway_deg
        posture = dict(
            yaw_deg=rng.normal(0.0, sway), lean_lateral_deg=rng.normal(0.0, sway / 2),
            lean_forward_deg=rng.normal(0.0, sway / 2), arm_abduction_deg=rng.uniform(4.0, 12.0),
            elbow_flexion_deg=rng.uniform(0.0, 15.0),
        )
        if deformed[i]:
            posture.update(sample_deformity(rng, spec.cobb_max_deg))
        placement = Placement(
            distance_mm=spec.distance_mm + rng.uniform(-1, 1) * spec.distance_jitter_mm,
            lateral_mm=rng.uniform(-1, 1) * spec.lateral_jitter_mm,
            sensor_height_mm=spec.sensor_height_mm,
        )
        subjects.append(Subject(
            subject_id=f"S{i + 1:03d}", sex="F" if female[i] else "M", age=years, phenotype=phenotype,
            posture=Posture(**posture), placement=placement, deformed=bool(deformed[i]),
        ))
    return subjects
