"""The data stages as functions over whole datasets: raw cohort → input images → augmented copies.

Each function takes and returns plain dicts of NumPy arrays (one row per image),
so the notebooks only read, call and write.  Keys:

* ``ids`` / ``subject_ids`` — record and subject of each image (str);
* ``images`` — normalised depth, ``float32 (N, S, S)`` single channel (stacked to
  three channels for the backbones at training time);
* ``points`` — landmarks in input pixels ``(N, 10, 2)``, NaN = missing;
* ``points_raw`` — the same in raw-frame pixels; ``points_mm`` — camera-frame mm;
* ``transforms`` — ``(N, 6)``: scale_x, scale_y, offset_x, offset_y, in_w, in_h of
  :class:`~backsurface.data.preprocess.InputTransform` (raw ↔ input, augmentation included);
* ``augmentation`` — name of the augmentation that made the image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from backsurface.core import contract
from backsurface.data import augment, preprocess


def preprocess_cohort(raw_dir: str | Path, scheme, progress: bool = True) -> dict[str, np.ndarray]:
    """Denoise, normalise and resize every frame of a raw cohort (paper Sec. 5).

    ``scheme``: what to do, as ``params.preprocess`` or a label codec holds it (``background``, ``threshold_mm``,
    ``body_depth_mm``, ``input_size``, ``crop``).  The arrays gain ``cuts_mm``, each frame's background cut."""
    raw_dir = Path(raw_dir)
    annotations, _ = contract.read_cohort(raw_dir)
    out = {k: [] for k in ("ids", "subject_ids", "images", "points", "points_raw", "points_mm", "transforms",
                           "cuts_mm")}
    for ann in tqdm(annotations, desc="preprocess", disable=not progress):
        depth = contract.read_depth(raw_dir / ann.image)
        name = str(raw_dir / ann.image)
        cut = preprocess.background_cut_mm(depth, scheme.background, scheme.threshold_mm, scheme.body_depth_mm, name)
        image, t = preprocess.preprocess_frame(depth, cut, scheme.input_size, scheme.crop, name=name)
        raw_pts = ann.points()
        mm = ann.points_mm()
        out["ids"].append(ann.id)
        out["subject_ids"].append(str(ann.subject.get("subject_id", ann.id)))
        out["images"].append(image[..., 0].astype(np.float32))
        out["points"].append(t.raw_to_input(raw_pts))
        out["points_raw"].append(raw_pts)
        out["points_mm"].append(np.full((10, 3), np.nan) if mm is None else mm)
        out["transforms"].append(t.to_row())
        out["cuts_mm"].append(cut)
    arrays = {k: np.asarray(v) for k, v in out.items()}
    arrays["augmentation"] = np.full(len(annotations), "original")
    return arrays


def take(data: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in data.items()}


def translated_copies(data: dict[str, np.ndarray], shift: int) -> dict[str, np.ndarray]:
    """The paper's augmentation: each image plus its four translations (5 images per frame)."""
    out = {k: [] for k in data}
    offsets = augment.paper_translations(shift) if shift > 0 else [("original", 0, 0)]
    for i in range(len(data["ids"])):
        for name, dx, dy in offsets:
            img, pts = augment.translate(data["images"][i], data["points"][i], dx, dy)
            t = data["transforms"][i].copy()
            t[2] += dx  # the raw → input map shifts with the image
            t[3] += dy
            before = data["augmentation"][i]
            row = {**{k: data[k][i] for k in data}, "images": img, "points": pts, "transforms": t,
                   "augmentation": name if before == "original" else f"{before}+{name}"}
            for k, v in row.items():
                out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def makes_random_copies(copies: int, hflip: bool, rotate_deg: float, scale: float, noise: float) -> bool:
    """Whether :func:`extra_augmentations` makes any copy: at least one copy per image and at least one kind."""
    return bool(copies) and bool(hflip or rotate_deg or scale or noise)


def describe_random_copies(copies: int, hflip: bool, rotate_deg: float, scale: float, noise: float) -> str:
    """``augment``'s random copies in words: ``"1 per training image: mirrored (left/right swapped) half the time,
    rotated within ±5°"``; ``"none"`` when :func:`extra_augmentations` makes none."""
    if not makes_random_copies(copies, hflip, rotate_deg, scale, noise):
        return "none"
    kinds = [text for text, on in (("mirrored (left/right swapped) half the time", hflip),
                                   (f"rotated within ±{rotate_deg:g}°", rotate_deg),
                                   (f"scaled within ±{scale:g}", scale), (f"depth noise {noise:g}", noise)) if on]
    return f"{copies} per training image: " + ", ".join(kinds)


def extra_augmentations(data: dict[str, np.ndarray], copies: int, hflip: bool, rotate_deg: float, scale: float,
                        noise: float, seed: int) -> dict[str, np.ndarray]:
    """Optional random copies (training only): flip with left/right swap, rotation/scale, depth noise.

    Their ``transforms`` are not pure scale+offset maps any more, so they are
    marked with NaN: such images train, they are never mapped back to the raw frame.
    """
    if not makes_random_copies(copies, hflip, rotate_deg, scale, noise):
        return data
    rng = np.random.default_rng(seed)
    out = {k: list(v) for k, v in data.items()}
    for i in range(len(data["ids"])):
        for _ in range(copies):
            img, pts, names = data["images"][i], data["points"][i], []
            if hflip and rng.random() < 0.5:
                img, pts = augment.hflip(img, pts)
                names.append("flip")
            if rotate_deg or scale:
                a = rng.uniform(-rotate_deg, rotate_deg)
                s = 1.0 + rng.uniform(-scale, scale)
                img, pts = augment.rotate_scale(img, pts, a, s)
                names.append(f"rot{a:+.1f}/x{s:.2f}")
            if noise:
                img = augment.depth_noise(img, img > 0, noise, rng)
                names.append("noise")
            row = {**{k: data[k][i] for k in data}, "images": img.astype(np.float32), "points": pts,
                   "transforms": np.full(6, np.nan), "augmentation": "+".join(names) or "copy"}
            for k, v in row.items():
                out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def roundtrip_error_px(data: dict[str, np.ndarray]) -> float:
    """Largest distance (raw px) between the raw landmarks and the input landmarks mapped back through each
    image's stored transform: 0 up to rounding when the transforms are exact."""
    back = np.stack([preprocess.InputTransform.from_row(t).input_to_raw(p)
                     for t, p in zip(data["transforms"], data["points"])])
    return float(np.nanmax(np.abs(back - data["points_raw"])))
