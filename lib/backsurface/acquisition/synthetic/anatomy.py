"""Anatomical landmarks as points of the anny mesh topology.

Each landmark is one mesh vertex, chosen once on the neutral template body
(all phenotypes 0.5, standing posture) by an anatomical rule; because the
topology is shared by every body and pose, the same vertex follows every
subject, shape and deformity.  Bilateral landmarks are chosen on the subject's
left and mirrored to the right through the template's left/right symmetry.

Rules (template in the anny frame: metres, Z up, +X left, +Y posterior):

* **VP** — C7 spinous process: the most posterior midline vertex at the height
  of the ``neck01`` bone head (the cervico-thoracic junction).
* **NC** — top of the intergluteal furrow: the highest midline vertex of the
  posterior surface that lies at least 6 mm deeper than the buttocks 4–8 cm to
  either side (where the cleft opens).
* **LSH/RSH** — acromion: the highest posterior-half vertex within 2 cm
  laterally of the ``upperarm01`` bone head (the top of the shoulder above the
  humeral head).
* **LS/RS** — inferior angle of the scapula: the back-surface vertex nearest
  the point half-way from the midline to the acromion, 36 % of the way from VP
  down to NC (T7 level; cf. the paper's example annotation).
* **LW/RW** — waist: on the narrowest horizontal slice of the trunk (arms
  excluded: the rules run on the rest A-pose) between the ``spine04`` and
  ``spine02`` bone heads, the lateral-most trunk vertex of the posterior half
  (the deepest point of the waist contour seen from behind).
* **LPSIS/RPSIS** — posterior superior iliac spine (lumbar dimple): the
  back-surface vertex nearest the point 4.5 cm lateral of the midline, 36 % of
  the way from NC up to the waist.
"""

from __future__ import annotations

import numpy as np

from backsurface.core.landmarks import KEYS


def _mirror_index(vertices: np.ndarray, i: int) -> int:
    target = vertices[i] * np.array([-1.0, 1.0, 1.0])
    return int(np.argmin(np.linalg.norm(vertices - target, axis=1)))


def _posterior_near(vertices: np.ndarray, x: float, z: float, radius: float, mask=None) -> int:
    """Index of the most posterior vertex within ``radius`` of (x, ·, z)."""
    d = np.hypot(vertices[:, 0] - x, vertices[:, 2] - z)
    cand = d < radius
    if mask is not None:
        cand &= mask
    if not cand.any():
        raise ValueError(f"no template vertex near x={x:.3f}, z={z:.3f}")
    idx = np.flatnonzero(cand)
    return int(idx[np.argmax(vertices[idx, 1])])


def _back_surface_near(vertices: np.ndarray, x: float, z: float) -> int:
    """Index of the back-surface vertex closest to (x, ·, z) in the frontal plane.

    The back surface near the point is the layer within 12 mm of the most
    posterior vertex inside a 3 cm radius.
    """
    d = np.hypot(vertices[:, 0] - x, vertices[:, 2] - z)
    cand = np.flatnonzero((d < 0.03) & (vertices[:, 1] > 0))
    if cand.size == 0:
        raise ValueError(f"no template vertex near x={x:.3f}, z={z:.3f}")
    layer = cand[vertices[cand, 1] >= vertices[cand, 1].max() - 0.012]
    return int(layer[np.argmin(d[layer])])


def find_landmark_vertices(vertices: np.ndarray, bone_heads: dict[str, np.ndarray]) -> dict[str, int]:
    """Apply the anatomical rules to a template body; returns vertex index per landmark key."""
    v = np.asarray(vertices, dtype=float)
    posterior = v[:, 1] > 0.0
    midline = np.abs(v[:, 0]) < 0.004
    # in the rest (A-)pose the arms hang clear of the trunk below the armpits
    trunk = np.abs(v[:, 0]) < abs(bone_heads["upperarm01.L"][0])

    out: dict[str, int] = {}
    # VP
    z_c7 = bone_heads["neck01"][2]
    out["VP"] = _posterior_near(v, 0.0, z_c7, 0.012, midline & posterior)

    # NC: scan midline posterior vertices from the top of the pelvis downwards
    z_top = bone_heads["spine04"][2]
    mid = np.flatnonzero(midline & posterior & (v[:, 2] < z_top) & (v[:, 2] > z_top - 0.35))
    mid = mid[np.argsort(-v[mid, 2])]
    side = posterior & (np.abs(v[:, 0]) > 0.04) & (np.abs(v[:, 0]) < 0.08)
    nc = None
    for i in mid:  # at most a few hundred midline vertices: a scan over the template, once
        near = side & (np.abs(v[:, 2] - v[i, 2]) < 0.01)
        if near.any() and v[near, 1].max() - v[i, 1] > 0.006:
            nc = int(i)
            break
    if nc is None:
        raise ValueError("template: no intergluteal furrow found")
    out["NC"] = nc

    # shoulders
    arm = bone_heads["upperarm01.L"]
    sh = posterior | (v[:, 1] > arm[1] - 0.01)
    sh &= np.abs(v[:, 0] - arm[0]) < 0.02
    sh &= np.abs(v[:, 2] - arm[2]) < 0.12
    idx = np.flatnonzero(sh)
    out["LSH"] = int(idx[np.argmax(v[idx, 2])])

    # waist: narrowest trunk slice between spine04 and spine02
    z_lo, z_hi = bone_heads["spine04"][2], bone_heads["spine02"][2]
    torso = trunk
    slices = np.linspace(z_lo, z_hi, 25)
    widths = []
    for z in slices:
        s = torso & (np.abs(v[:, 2] - z) < 0.006) & (v[:, 0] > 0)
        widths.append(v[s, 0].max() if s.any() else np.inf)
    z_w = slices[int(np.argmin(widths))]
    s = np.flatnonzero(torso & (np.abs(v[:, 2] - z_w) < 0.006) & (v[:, 0] > 0) & (v[:, 1] >= -0.01))
    out["LW"] = int(s[np.argmax(v[s, 0])])

    # scapula and PSIS by proportions
    z_vp, z_nc = v[out["VP"], 2], v[out["NC"], 2]
    x_acr = v[out["LSH"], 0]
    out["LS"] = _back_surface_near(v, 0.5 * x_acr, z_vp - 0.36 * (z_vp - z_nc))
    z_waist = v[out["LW"], 2]
    out["LPSIS"] = _back_surface_near(v, 0.045, z_nc + 0.36 * (z_waist - z_nc))

    for left, right in (("LSH", "RSH"), ("LS", "RS"), ("LW", "RW"), ("LPSIS", "RPSIS")):
        out[right] = _mirror_index(v, out[left])
    return {k: out[k] for k in KEYS}
