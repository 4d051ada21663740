"""The synthetic cohort as a frame source: anny bodies rendered as Kinect v2 depth frames."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from backsurface.acquisition.recording import Recording
from backsurface.acquisition.synthetic.anatomy import find_landmark_vertices
from backsurface.acquisition.synthetic.body import BodyModel, Phenotype, PhenotypePrior, anthropometry
from backsurface.acquisition.synthetic.cohort import CohortSpec, Subject, sample_cohort
from backsurface.acquisition.synthetic.render import background_depth, rasterize_depth
from backsurface.acquisition.synthetic.scene import to_camera
from backsurface.acquisition.synthetic.sensor import NoiseModel, apply_sensor_model
from backsurface.core import camera
from backsurface.core.landmarks import KEYS


def template_landmark_vertices(body: BodyModel) -> dict[str, int]:
    """Landmark vertex indices, found by the anatomical rules on the neutral template."""
    rest = body.rest(Phenotype())
    heads = {b: rest["bone_poses"][i, :3, 3] for i, b in enumerate(body.bones)}
    return find_landmark_vertices(rest["vertices"], heads)


@dataclass(frozen=True)
class RenderedSubject:
    ideal_mm: np.ndarray  # float depth before sensor artefacts (inf = no return)
    depth: np.ndarray  # uint16 raw frame
    landmarks_px: np.ndarray  # (10, 2)
    landmarks_mm: np.ndarray  # (10, 3)


class SyntheticSource:
    """Renders ``spec.n_subjects`` seeded subjects; iteration is deterministic for a spec."""

    def __init__(self, spec: CohortSpec, noise: NoiseModel = NoiseModel(), wall_mm: float = 2600.0,
                 intr: camera.Intrinsics = camera.KINECT_V2, body: BodyModel | None = None):
        self.spec, self.noise, self.wall_mm, self.intr = spec, noise, wall_mm, intr
        self.body = body or BodyModel()
        self.landmark_vertices = template_landmark_vertices(self.body)
        self._vertex_index = np.array([self.landmark_vertices[k] for k in KEYS])
        self.subjects = sample_cohort(spec, PhenotypePrior(self.body))

    def __len__(self) -> int:
        return len(self.subjects)

    def render(self, subject: Subject, rng: np.random.Generator) -> RenderedSubject:
        vertices = self.body.pose(subject.phenotype, subject.posture)
        cam = to_camera(vertices, subject.placement)
        ideal = np.minimum(
            rasterize_depth(cam, self.body.faces, self.intr),
            background_depth(self.intr, subject.placement.sensor_height_mm, self.wall_mm),
        )
        depth = apply_sensor_model(ideal, rng, self.noise, self.intr)
        points_mm = cam[self._vertex_index]
        px = self.intr.project(points_mm)
        # a landmark the frame does not show (a very tall subject's VP, say) is missing, as an operator would mark it
        outside = (px[:, 0] < 0) | (px[:, 0] > self.intr.width - 1) | (px[:, 1] < 0) | (px[:, 1] > self.intr.height - 1)
        px[outside] = np.nan
        return RenderedSubject(ideal, depth, px, points_mm)

    def __iter__(self) -> Iterator[Recording]:
        for i, subject in enumerate(self.subjects):
            rng = np.random.default_rng([self.spec.seed, i])
            r = self.render(subject, rng)
            row = subject.row()
            row.update({k: round(v, 3) for k, v in anthropometry(
                self.body.rest(subject.phenotype)["vertices"], self.body.faces).items()})
            yield Recording(
                id=subject.subject_id, depth=r.depth, landmarks=r.landmarks_px, landmarks_mm=r.landmarks_mm,
                subject=row, source="synthetic",
            )


def showcase_subjects(spec: CohortSpec) -> list[tuple[str, Subject]]:
    """Four reference bodies for the landmark-definition figure: a woman, a man, high BMI, a deformed spine."""
    from backsurface.acquisition.synthetic.body import Posture  # noqa: PLC0415
    from backsurface.acquisition.synthetic.scene import Placement  # noqa: PLC0415

    place = Placement(distance_mm=spec.distance_mm, sensor_height_mm=spec.sensor_height_mm)
    upright = Posture()
    cases = [
        ("woman", "F", Phenotype(gender=1.0, age=0.75), upright),
        ("man", "M", Phenotype(gender=0.0, age=0.75), upright),
        ("high BMI", "M", Phenotype(gender=0.0, age=0.8, weight=1.0, muscle=0.3), upright),
        ("deformed spine", "F", Phenotype(gender=1.0, age=0.75),
         Posture(thoracic_cobb_deg=30.0, lumbar_cobb_deg=-0.0, axial_rotation_deg=9.0, shoulder_tilt_deg=4.0,
                 pelvic_obliquity_deg=3.0)),
    ]
    return [(label, Subject(subject_id=label, sex=sex, age=27.0, phenotype=ph, posture=po, placement=place,
                            deformed=label == "deformed spine")) for label, sex, ph, po in cases]
