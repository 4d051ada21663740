"""Posture indices from the 10 back landmarks and the depth surface (plain NumPy).

Frame: the sensor's camera frame in mm (X right in the image, Y down, Z away from the sensor); the
subject stands with the back to the sensor, so the subject's **left is −X**, *up* is −Y and
*anterior* is +Z.  Every index takes landmarks of N subjects at once, ``(N, 10, 3)``, and returns
``(N,)`` values; a value that cannot be computed is NaN and :func:`reasons` says why (a missing
landmark, coincident points).  Nothing returns a silent 0.

Indices (``INDICES`` lists them with units):

* ``trunk_length_mm`` — |VP − NC| (3D).
* ``imbalance_mm`` — lateral offset of VP from the vertical through NC (+ = to the subject's left);
  ``coronal_inclination_deg`` = atan2(imbalance, H), ``sagittal_inclination_deg`` = atan2(z_VP − z_NC, H)
  (+ = trunk leaning forward), with H = height of VP above NC.
* ``*_obliquity_deg`` for the shoulder (LSH/RSH), scapular (LS/RS), waist (LW/RW) and pelvic (LPSIS/RPSIS)
  pairs: atan2(height of left − height of right, horizontal distance), + = left side higher;
  ``*_height_diff_mm`` the height difference itself.
* ``ppotsi`` — **partial** POTSI after Suzuki et al. (1999, Stud Health Technol Inform 59:81–84):
  FAI_C7 + FAI_W + HDI_S + HDI_W with FAI_C7 = 100·|x_VP − x_NC| / H (C7 off the central sacral line
  through the natal cleft), FAI_W = 100·|d_L − d_R| / (d_L + d_R) (d = lateral distance of each waist point
  from that line), HDI_S = 100·|Δh_shoulders| / H, HDI_W = 100·|Δh_waist| / H.  The axillary-fold terms
  (FAI_A, HDI_A) need landmarks this study does not detect, so this is not the full POTSI and its values are
  not comparable with POTSI's published normal limits.
* ``scapular_depth_asym_mm`` / ``waist_depth_asym_mm`` — DAPI-style depth asymmetry (after Minguez et al.
  2007, Spine 32:1245): surface depth under the right point minus under the left one (+ = left side nearer
  the sensor, i.e. more posterior: a left rib/flank prominence); ``pdapi`` = 100·(|Δz_scap| + |Δz_waist|) / H.
* ``spine_max_deviation_mm`` — maximum lateral distance of the spine line (:func:`spine_line`) from the
  straight VP–NC segment.

**Frontal-plane indices are measured in the image plane** when :func:`compute` is given ``frontal_mm``
(:func:`frontal_points`: each landmark's pixel back-projected at one depth per subject, the back's): imbalance,
coronal inclination, every obliquity and height difference, and the partial POTSI.  A landmark on the silhouette
(shoulder, waist) has no reliable depth under it, and through Y = (v − c_y)·Z/f a depth looked up beside the body
moves its height: from the 3D points of predicted landmarks the shoulder obliquity ran *against* the rig's shoulder
tilt (r = −0.53 on the study's test split, against +0.40 from the same landmarks in the image plane).  Trunk
length and sagittal inclination need the depth and stay 3D.
"""

from __future__ import annotations

import numpy as np

from backsurface.core.camera import KINECT_V2, Intrinsics
from backsurface.core.landmarks import KEYS, index

PAIRS = {"shoulder": ("LSH", "RSH"), "scapular": ("LS", "RS"), "waist": ("LW", "RW"), "pelvic": ("LPSIS", "RPSIS")}
MIN_MM = 1.0  # distances below this are coincident points

INDICES = {
    "trunk_length_mm": "mm",
    "imbalance_mm": "mm",
    "coronal_inclination_deg": "°",
    "sagittal_inclination_deg": "°",
    **{f"{p}_obliquity_deg": "°" for p in PAIRS},
    **{f"{p}_height_diff_mm": "mm" for p in PAIRS},
    "ppotsi": "",
    "scapular_depth_asym_mm": "mm",
    "waist_depth_asym_mm": "mm",
    "pdapi": "",
}


def _p(points: np.ndarray, key: str) -> np.ndarray:
    return points[:, index(key)]


def _check(points_mm: np.ndarray) -> np.ndarray:
    p = np.asarray(points_mm, dtype=np.float64)
    if p.ndim == 2:
        p = p[None]
    if p.ndim != 3 or p.shape[1:] != (len(KEYS), 3):
        raise ValueError(f"landmarks must be (N, {len(KEYS)}, 3) in mm, got {np.shape(points_mm)}")
    return p


def trunk_height(points_mm: np.ndarray) -> np.ndarray:
    """H: height of VP above NC (mm); NaN where missing or not above (coincident, or upside down)."""
    p = _check(points_mm)
    h = _p(p, "NC")[:, 1] - _p(p, "VP")[:, 1]
    return np.where(h > MIN_MM, h, np.nan)


def _where_defined(value: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``value`` where ``reference`` is defined, NaN where it is not (a degenerate frame of reference)."""
    return np.where(np.isnan(reference), np.nan, value)


def _deg(y, x):
    return np.degrees(np.arctan2(y, x))


def frontal_points(points_px: np.ndarray, depth_mm: np.ndarray, intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """Landmarks in the frontal (image) plane: raw pixels ``(N, 10, 2)`` back-projected at one depth per subject,
    ``depth_mm`` ``(N,)`` → ``(N, 10, 3)`` mm, every point of a subject at that depth (NaN where it is not finite)."""
    px = np.asarray(points_px, dtype=np.float64)
    z = np.asarray(depth_mm, dtype=np.float64).reshape(-1)
    if px.ndim != 3 or px.shape[1:] != (len(KEYS), 2) or len(z) != len(px):
        raise ValueError(f"frontal points need (N, {len(KEYS)}, 2) pixels and (N,) depths, got {px.shape} and "
                         f"{np.shape(depth_mm)}")
    zz = np.broadcast_to(np.where(z > 0, z, np.nan)[:, None], px.shape[:2])
    return np.stack([(px[..., 0] - intrinsics.cx) * zz / intrinsics.fx,
                     (px[..., 1] - intrinsics.cy) * zz / intrinsics.fy, zz], axis=-1)


def geometry(points_mm: np.ndarray, frontal_mm: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The landmark-only indices for N subjects (everything but the depth asymmetries); the frontal-plane ones
    from ``frontal_mm`` (:func:`frontal_points`) when given, from the 3D points otherwise."""
    p = _check(points_mm)
    f = p if frontal_mm is None else _check(frontal_mm)
    if f.shape != p.shape:
        raise ValueError(f"frontal points {f.shape} and 3D points {p.shape} differ in shape")
    vp, nc = _p(p, "VP"), _p(p, "NC")
    h = trunk_height(p)
    length = np.linalg.norm(vp - nc, axis=1)
    out = {"trunk_length_mm": np.where(length > MIN_MM, length, np.nan),
           "sagittal_inclination_deg": _deg(vp[:, 2] - nc[:, 2], h)}
    vp, nc = _p(f, "VP"), _p(f, "NC")
    h = trunk_height(f)
    out["imbalance_mm"] = _where_defined(-(vp[:, 0] - nc[:, 0]), h)
    out["coronal_inclination_deg"] = _deg(out["imbalance_mm"], h)
    for name, (lk, rk) in PAIRS.items():
        left, right = _p(f, lk), _p(f, rk)
        dh = right[:, 1] - left[:, 1]  # height of left − height of right (up = −Y)
        horizontal = np.hypot(left[:, 0] - right[:, 0], left[:, 2] - right[:, 2])
        horizontal = np.where(horizontal > MIN_MM, horizontal, np.nan)
        out[f"{name}_height_diff_mm"] = _where_defined(dh, horizontal)
        out[f"{name}_obliquity_deg"] = _deg(dh, horizontal)
    d_left = np.abs(_p(f, "LW")[:, 0] - nc[:, 0])
    d_right = np.abs(_p(f, "RW")[:, 0] - nc[:, 0])
    width = d_left + d_right
    fai_c7 = 100.0 * np.abs(vp[:, 0] - nc[:, 0]) / h
    fai_w = 100.0 * np.abs(d_left - d_right) / np.where(width > MIN_MM, width, np.nan)
    hdi_s = 100.0 * np.abs(out["shoulder_height_diff_mm"]) / h
    hdi_w = 100.0 * np.abs(out["waist_height_diff_mm"]) / h
    out["ppotsi"] = fai_c7 + fai_w + hdi_s + hdi_w
    return out


def depth_asymmetry(surface_z: np.ndarray, points_mm: np.ndarray) -> dict[str, np.ndarray]:
    """DAPI-style terms from the surface depth under each landmark, ``surface_z`` (N, 10) mm."""
    z = np.asarray(surface_z, dtype=np.float64).reshape(-1, len(KEYS))
    h = trunk_height(points_mm)
    scap = z[:, index("RS")] - z[:, index("LS")]
    waist = z[:, index("RW")] - z[:, index("LW")]
    return {"scapular_depth_asym_mm": scap, "waist_depth_asym_mm": waist,
            "pdapi": 100.0 * (np.abs(scap) + np.abs(waist)) / h}


def compute(points_mm: np.ndarray, surface_z: np.ndarray | None = None,
            frontal_mm: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every index of :data:`INDICES` for N subjects; the depth terms are NaN without ``surface_z``; the
    frontal-plane ones in the image plane with ``frontal_mm`` (:func:`frontal_points`)."""
    p = _check(points_mm)
    out = geometry(p, frontal_mm)
    if surface_z is None:
        surface_z = np.full(p.shape[:2], np.nan)
    out |= depth_asymmetry(surface_z, p)
    return {k: out[k] for k in INDICES}


_NEEDS = {
    "trunk_length_mm": ("VP", "NC"), "imbalance_mm": ("VP", "NC"), "coronal_inclination_deg": ("VP", "NC"),
    "sagittal_inclination_deg": ("VP", "NC"),
    **{f"{p}_obliquity_deg": PAIRS[p] for p in PAIRS}, **{f"{p}_height_diff_mm": PAIRS[p] for p in PAIRS},
    "ppotsi": ("VP", "NC", "LSH", "RSH", "LW", "RW"), "scapular_depth_asym_mm": ("LS", "RS"),
    "waist_depth_asym_mm": ("LW", "RW"), "pdapi": ("VP", "NC", "LS", "RS", "LW", "RW"),
}


def reasons(points_mm: np.ndarray, values: dict[str, np.ndarray], surface_z: np.ndarray | None = None) -> list[str]:
    """Per subject, why each NaN index is NaN ('' where everything was computed)."""
    p = _check(points_mm)
    missing = np.isnan(p).any(axis=2)
    zmiss = np.ones_like(missing) if surface_z is None else np.isnan(np.asarray(surface_z).reshape(missing.shape))
    h = trunk_height(p)
    out = []
    for n in range(len(p)):
        why = []
        for name, keys in _NEEDS.items():
            if not np.isnan(values[name][n]):
                continue
            gone = [k for k in keys if missing[n, index(k)]]
            if gone:
                why.append(f"{name}: missing {', '.join(gone)}")
            elif name in ("scapular_depth_asym_mm", "waist_depth_asym_mm", "pdapi") and any(
                    zmiss[n, index(k)] for k in keys[-2:]):
                why.append(f"{name}: no depth under {'/'.join(keys[-2:])}")
            elif np.isnan(h[n]) and "VP" in keys:
                why.append(f"{name}: VP not above NC (coincident or inverted)")
            else:
                why.append(f"{name}: coincident points")
        out.append("; ".join(why))
    return out
