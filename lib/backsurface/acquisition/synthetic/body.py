"""The ``anny`` body model, posed in a natural standing posture with optional spinal deformities.

All torch code of the study lives in this subpackage.  Anny's world frame is
metres, Z up, +X the subject's left, +Y the subject's back (posterior); the
pelvis sits at the origin.  :func:`BodyModel.pose` returns vertices in that
frame with the feet on the floor (Z = 0); :mod:`.scene` places them in front
of the sensor.

Deformities act through the rig's spine bones (``spine05`` lowest … ``spine01``,
then ``neck01``), with deltas expressed in world-aligned axes (anny's
``local-ref`` parameterisation) and chained through the skeleton, so skinning
carries the back surface with the spine:

* a lateral curve of Cobb-like angle ``θ`` bends two limbs of the spine in
  opposite directions, the angle between them ``θ``, closed so that the spine
  above returns to its line (:func:`closed_curve_tilts`).  Positive thoracic
  angles are convex to the subject's right (limbs spine03–02 / spine01, apex at
  the level of the scapulae' inferior angles; the clavicles keep the shoulder
  girdle level),
  positive lumbar angles convex to the left (spine05 / spine04): both positive
  make the common S-curve.
* axial rotation (the rib hump) twists the thoracic segments about the
  vertical, turning the convex side posteriorly.
* kyphosis / lordosis changes are the same construction in the sagittal plane.
* shoulder height: the right clavicle rises by ``shoulder_tilt_deg``;
  pelvic obliquity: the pelvis tilts (right side up), the legs are brought
  back upright and the lumbar spine (spine04) compensates.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from backsurface.core.startup_noise import filtered_stderr

SPINE = ("spine05", "spine04", "spine03", "spine02", "spine01", "neck01")


@dataclass(frozen=True)
class Posture:
    """Per-subject pose: natural sway plus optional deformity (degrees, metres)."""

    yaw_deg: float = 0.0  # rotation about the vertical, + turns the subject's left backwards
    lean_lateral_deg: float = 0.0  # whole-body lean, + towards the subject's left
    lean_forward_deg: float = 0.0
    arm_abduction_deg: float = 8.0
    elbow_flexion_deg: float = 5.0
    thoracic_cobb_deg: float = 0.0  # + convex to the subject's right
    lumbar_cobb_deg: float = 0.0  # + convex to the subject's left (S-curve with a + thoracic)
    axial_rotation_deg: float = 0.0  # apex twist, + turns the right side posteriorly
    kyphosis_delta_deg: float = 0.0  # + more thoracic kyphosis
    lordosis_delta_deg: float = 0.0  # + more lumbar lordosis
    shoulder_tilt_deg: float = 0.0  # + right shoulder higher
    pelvic_obliquity_deg: float = 0.0  # + right pelvis higher


@dataclass(frozen=True)
class Phenotype:
    """Anny phenotype knobs, each in [0, 1] (gender 0 = male, 1 = female)."""

    gender: float = 0.5
    age: float = 0.5
    muscle: float = 0.5
    weight: float = 0.5
    height: float = 0.5
    proportions: float = 0.5
    local_changes: dict[str, float] = field(default_factory=dict)

    def kwargs(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in ("gender", "age", "muscle", "weight", "height", "proportions")}


def _rot(axis: str, deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        r = [[1, 0, 0], [0, c, -s], [0, s, c]]
    elif axis == "y":
        r = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    else:
        r = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    return np.asarray(r, dtype=float)


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` onto direction ``b`` (Rodrigues)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + c)


#: Each curve bends two limbs of the spine in opposite directions: (lower-limb bones, upper-limb bones).
CURVES = {
    "thoracic": (("spine03", "spine02"), ("spine01",)),
    "lumbar": (("spine05",), ("spine04",)),
    "kyphosis": (("spine03", "spine02"), ("spine01",)),
    "lordosis": (("spine05",), ("spine04",)),
}


def closed_curve_tilts(angle_deg: float, lower_len: float, upper_len: float) -> tuple[float, float]:
    """Absolute tilts (lower limb, upper limb) of a curve of Cobb-like angle ``angle_deg``.

    The limbs tilt in opposite directions, ``upper - lower = angle`` (the angle between
    the end segments), and the curve closes: ``lower_len·sin(lower) + upper_len·sin(upper) = 0``,
    so the spine above the curve returns to the line it started from.
    """
    a = np.deg2rad(angle_deg)
    # solve l·sin(t) + u·sin(t + a) = 0 for the lower tilt t
    t = np.arctan2(-upper_len * np.sin(a), lower_len + upper_len * np.cos(a))
    return float(np.degrees(t)), float(np.degrees(t + a))


def spine_rotations(p: Posture, segment_len: dict[str, float]) -> dict[str, np.ndarray]:
    """Rotation deltas (3x3, world-aligned axes) of the spine bones for a posture's deformities.

    ``segment_len`` is each spine bone's length (head to the next bone's head).  Each curve
    sets absolute tilts of its bones (:func:`closed_curve_tilts`); a bone's delta is its
    tilt minus its parent's, so the spine above every curve stands upright again.
    Lateral tilts are rotations about +Y (+ leans towards the subject's left); sagittal
    about +X (+ flexes forward).
    """
    lateral = dict.fromkeys(SPINE, 0.0)
    sagittal = dict.fromkeys(SPINE, 0.0)
    signed = (  # (curve, angle whose upper limb tilts the positive way, plane)
        ("thoracic", p.thoracic_cobb_deg, lateral),  # convex right: lower limb leans right, upper back left
        ("lumbar", -p.lumbar_cobb_deg, lateral),  # convex left
        ("kyphosis", p.kyphosis_delta_deg, sagittal),  # lower limb extends, upper flexes: apex posterior
        ("lordosis", -p.lordosis_delta_deg, sagittal),  # lower limb flexes, upper extends: apex anterior
    )
    for name, angle, plane in signed:
        lower, upper = CURVES[name]
        t_lo, t_hi = closed_curve_tilts(angle, sum(segment_len[b] for b in lower), sum(segment_len[b] for b in upper))
        for b in lower:
            plane[b] += t_lo
        for b in upper:
            plane[b] += t_hi
    # axial rotation about +Z turns +X (left) towards +Y (back); the right side back is negative
    axial = dict.fromkeys(SPINE, 0.0)
    axial["spine02"] = axial["spine01"] = -p.axial_rotation_deg
    rot = {}
    prev = (0.0, 0.0, 0.0)
    for b in SPINE:
        rot[b] = (_rot("z", axial[b] - prev[0]) @ _rot("y", lateral[b] - prev[1]) @ _rot("x", sagittal[b] - prev[2]))
        prev = (axial[b], lateral[b], sagittal[b])
    return rot


@functools.lru_cache(maxsize=1)
def _anny_model():
    with filtered_stderr():
        import warp  # noqa: PLC0415 - anny's skinning kernels; quiet unless something fails

        warp.config.log_level = warp.LOG_ERROR
        warp.init()
        import anny  # noqa: PLC0415 - heavy, imported on first use only

        return anny.Anny(local_changes="default")


class BodyModel:
    """Anny wrapped for the study: phenotype + posture → vertices (m, anny frame, feet at Z=0)."""

    def __init__(self):
        import torch  # noqa: PLC0415

        self._torch = torch
        self.model = _anny_model()
        self.bones = list(self.model.bone_labels)
        self.faces = self.model.get_triangular_faces().cpu().numpy().astype(np.int64)
        self.local_change_labels = list(self.model.local_change_labels)

    def _bone(self, name: str) -> int:
        return self.bones.index(name)

    def rest(self, phenotype: Phenotype) -> dict[str, np.ndarray]:
        out = self._forward(phenotype, None)
        return out

    def _forward(self, phenotype: Phenotype, deltas: np.ndarray | None) -> dict[str, np.ndarray]:
        torch = self._torch
        kwargs = {k: torch.tensor([v], dtype=self.model.dtype) for k, v in phenotype.kwargs().items()}
        unknown = set(phenotype.local_changes) - set(self.local_change_labels)
        if unknown:
            raise KeyError(f"unknown anny local change(s): {sorted(unknown)}")
        local = {k: torch.tensor([v], dtype=self.model.dtype) for k, v in phenotype.local_changes.items()} or None
        pose = None if deltas is None else torch.as_tensor(deltas[None], dtype=self.model.dtype)
        with torch.no_grad():
            out = self.model(pose_parameters=pose, phenotype_kwargs=kwargs, local_changes_kwargs=local)
        return {
            "vertices": out["vertices"][0].cpu().numpy().astype(np.float64),
            "bone_poses": out["bone_poses"][0].cpu().numpy().astype(np.float64),
        }

    def pose_deltas(self, phenotype: Phenotype, posture: Posture) -> np.ndarray:
        """Per-bone 4x4 deltas (anny ``local-ref``) for a posture, computed against the rest skeleton."""
        rest = self._forward(phenotype, None)["bone_poses"]
        deltas = np.tile(np.eye(4), (len(self.bones), 1, 1))

        def set_rot(bone: str, r: np.ndarray) -> None:
            deltas[self._bone(bone), :3, :3] = r @ deltas[self._bone(bone), :3, :3]

        # whole-body sway about the pelvis; pelvic obliquity: rotation about +Y raises the right side
        set_rot("root", _rot("z", posture.yaw_deg) @ _rot("y", posture.lean_lateral_deg)
                @ _rot("x", posture.lean_forward_deg) @ _rot("y", posture.pelvic_obliquity_deg))
        # the legs come back upright, the lumbar spine compensates above the pelvis
        for leg in ("upperleg01.L", "upperleg01.R"):
            set_rot(leg, _rot("y", -posture.pelvic_obliquity_deg))
        heads = rest[[self._bone(b) for b in (*SPINE, "head")], :3, 3]
        seg = dict(zip(SPINE, np.linalg.norm(np.diff(heads, axis=0), axis=1)))
        for bone, r in spine_rotations(posture, seg).items():
            set_rot(bone, r)
        set_rot("spine04", _rot("y", -posture.pelvic_obliquity_deg))
        # the shoulder girdle stays level over a thoracic curve: the clavicles undo spine01's tilt
        upper_tilt = closed_curve_tilts(posture.thoracic_cobb_deg, seg["spine03"] + seg["spine02"], seg["spine01"])[1]
        for side in ("L", "R"):
            set_rot(f"clavicle.{side}", _rot("y", -upper_tilt))
        # shoulder height: the right clavicle rotates up (about +Y moves -X ends up)
        set_rot("clavicle.R", _rot("y", posture.shoulder_tilt_deg))
        # arms relaxed at the sides: rotate each upper arm about the AP axis to the target abduction
        for side, sign in (("L", 1.0), ("R", -1.0)):
            head = rest[self._bone(f"upperarm01.{side}"), :3, 3]
            elbow = rest[self._bone(f"lowerarm01.{side}"), :3, 3]
            d = elbow - head
            current = np.degrees(np.arctan2(d[0], d[2]))
            target = sign * (180.0 - posture.arm_abduction_deg)
            correction = target - current
            if side == "R":
                correction -= posture.shoulder_tilt_deg
            set_rot(f"upperarm01.{side}", _rot("y", correction))
            # the rest pose bends the elbow forward; straighten the forearm onto the upper arm,
            # then flex it by the posture's angle
            wrist = rest[self._bone(f"wrist.{side}"), :3, 3]
            straighten = _align(wrist - elbow, elbow - head)
            set_rot(f"lowerarm01.{side}", _rot("x", posture.elbow_flexion_deg) @ straighten)
        return deltas

    def pose(self, phenotype: Phenotype, posture: Posture) -> np.ndarray:
        """Posed vertices ``(V, 3)`` in metres, anny frame, lowest vertex on the floor (Z = 0)."""
        v = self._forward(phenotype, self.pose_deltas(phenotype, posture))["vertices"]
        v[:, 2] -= v[:, 2].min()
        return v


class PhenotypePrior:
    """Anny's calibrated adult shape prior (WHO-fitted Beta laws conditioned on age and sex).

    Gives the Beta parameters of height, weight, muscle and proportions for a
    morphological age, so that a NumPy generator can draw subjects
    reproducibly.
    """

    KNOBS = ("height", "weight", "muscle", "proportions")

    def __init__(self, body: BodyModel):
        from anny.shape_distribution import SimpleShapeDistribution  # noqa: PLC0415

        self._torch = body._torch
        self._dist = SimpleShapeDistribution(body.model)

    def anny_age(self, years: float) -> float:
        t = self._torch.tensor([float(years)], dtype=self._torch.float64)
        return float(self._dist.morphological_age_mapping.morphological_to_anny_age(t)[0])

    def beta_params(self, female: bool, years: float) -> dict[str, tuple[float, float]]:
        age = self._torch.tensor([self.anny_age(years)], dtype=self._torch.float64)
        sex = "girls" if female else "boys"
        out = {}
        for knob in self.KNOBS:
            cond = getattr(self._dist, f"{sex}_conditional_{knob}_distribution")
            a, b = cond.get_distribution_params(age)
            out[knob] = (float(a[0]), float(b[0]))
        return out


def anthropometry(vertices_m: np.ndarray, faces: np.ndarray, density_kg_m3: float = 1010.0) -> dict[str, float]:
    """Height (m), mass (kg, closed-mesh volume × body density) and BMI of a standing body."""
    v = np.asarray(vertices_m, dtype=float)
    tri = v[faces]
    volume = abs(np.einsum("ij,ij->i", np.cross(tri[:, 0], tri[:, 1]), tri[:, 2]).sum() / 6.0)
    height = float(v[:, 2].max() - v[:, 2].min())
    mass = float(volume * density_kg_m3)
    return {"height_m": height, "weight_kg": mass, "bmi": mass / height**2}
