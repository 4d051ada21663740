"""Depth-frame preprocessing (paper Sec. 5): denoise, normalise, 3 channels, fit to the network input.

Steps, in the order :func:`preprocess_frame` applies them:

0. :func:`background_cut_mm` -- where the background begins in this frame: the paper's fixed
   ``r > 1.7 m`` (``background="fixed"``), or ``body_depth_mm`` behind the near surface of the subject,
   found as the nearest :data:`NEAR_SHARE` of the valid pixels (``background="nearest"``), so that a
   subject standing nearer or farther than the paper's 1.5 m is still found whole.
1. :func:`denoise` -- background beyond the cut, sensor zeros (no reading) and NaNs become invalid
   (value 0) and a boolean ``valid`` mask says which pixels are foreground.
2. :func:`normalise` -- eq. 1, ``R* = (R - min R) / (max R - min R)``, taken over the valid pixels
   only; exactly as printed, the nearest foreground pixel maps to 0 and the farthest to 1.  Invalid
   pixels are 0 too, so after normalisation "nearest surface" and "no reading" share the value 0:
   that is the paper's choice and is kept.
3. Optional crop, so that the input resolution is spent on the body: ``crop="torso"``
   (:func:`torso_crop_box`), the bounding box of the largest foreground region with a margin; or
   ``crop="back"`` (:func:`back_crop_box`), the band of that region from just below the top of the head
   to below the buttocks, measured in millimetres through the depth (:data:`BACK_SPAN_MM`).
4. :func:`fit_transform` + :func:`resize` -- letterbox the frame (or the crop) into a square
   ``input_size x input_size`` image, keeping the aspect ratio (pad, never distort).
5. :func:`to_three_channels` -- the backbones expect 3 channels; the depth is repeated.

Pixel convention (the same as :mod:`backsurface.core.camera`): pixel ``(u, v)`` -- column ``u``, row
``v`` -- has its centre at integer coordinates and covers ``[u - 0.5, u + 0.5] x [v - 0.5, v + 0.5]``;
an image ``W`` pixels wide spans ``[-0.5, W - 0.5]``.  :class:`InputTransform` maps raw-frame
coordinates to network-input coordinates exactly (an affine map per axis), so landmarks and
predictions travel between the two without rounding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from backsurface.core.camera import KINECT_V2, PAPER_BACKGROUND_MM, Intrinsics

DEFAULT_THRESHOLD_MM = PAPER_BACKGROUND_MM
CROPS = ("none", "torso", "back")
BACK_SPAN_MM = (50.0, 950.0)
"""``crop="back"``: the rows kept, in mm below the top of the subject's region (the top of the head; from the
frame's first row when the head is cut off).  On the default cohort the ten landmarks lie 186-796 mm below it (every 5th
frame; C7 and the shoulders highest, the natal cleft and PSIS lowest), so the band keeps >= 130 mm above and
>= 150 mm below them.  Anything of the region above the head (a raised hand, a held object) moves the band up with
it: the cohort's posture keeps the arms down, a recording that does not is a limitation of this crop."""
BACK_MARGIN = 0.1
"""``crop="back"``: the band's columns (the region's extent within its rows) grow by this share of their width on
each side."""


def describe_crop(crop: str) -> str:
    """What ``crop`` spends the network input on, in words (the evaluation's comparison with the paper and the front
    page): ``"none"`` → ``"the whole 512×424 frame"``."""
    words = {"none": "the whole 512×424 frame",
             "torso": "the body's bounding box with a margin",
             "back": "the subject's back, found from the depth alone: the body's band {:g}–{:g} mm below the top of "
                     "the head".format(*BACK_SPAN_MM)}
    if crop not in words:
        raise PreprocessError(f"crop must be one of {CROPS}, got {crop!r}")
    return words[crop]
BACKGROUNDS = ("fixed", "nearest")
NEAR_SHARE = 0.02
"""The share of a frame's valid pixels taken as the subject's near surface (``background="nearest"``): a
subject at 1.3-1.9 m fills 8-30 % of a Kinect v2 frame and the sensor's stray readings far less than 2 %."""
TRANSFORM_KEYS = ("scale_x", "scale_y", "offset_x", "offset_y", "in_w", "in_h")


class PreprocessError(ValueError):
    """A frame that cannot be preprocessed; the message names the frame."""


def _label(name: str | None) -> str:
    return name if name else "depth frame"


# ------------------------------------------------------------------ denoise / normalise


def denoise(
    depth_mm: np.ndarray, threshold_mm: float = DEFAULT_THRESHOLD_MM, name: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Remove the background and invalid readings (paper Sec. 5, ``r > 1.7 m``).

    Args:
        depth_mm: ``(H, W)`` depth in millimetres (uint16 or float); 0 = no reading (Kinect).
        threshold_mm: pixels farther than this are background.
        name: frame or file name used in error messages.

    Returns:
        ``(depth, valid)``: float64 depth in mm with every invalid pixel set to 0, and the boolean
        ``(H, W)`` mask of valid (foreground) pixels: finite, ``> 0`` and ``<= threshold_mm``.

    Raises:
        PreprocessError: not a 2-D array, or no valid pixel at all.
    """
    d = np.asarray(depth_mm)
    if d.ndim != 2:
        raise PreprocessError(f"{_label(name)}: depth must be a 2-D (H, W) array, got shape {d.shape}")
    if not (np.issubdtype(d.dtype, np.number) or d.dtype == bool):
        raise PreprocessError(f"{_label(name)}: depth must be numeric, got dtype {d.dtype}")
    if not threshold_mm > 0:
        raise PreprocessError(f"{_label(name)}: threshold_mm must be > 0, got {threshold_mm}")
    d = d.astype(np.float64)
    finite = np.isfinite(d)
    with np.errstate(invalid="ignore"):
        valid = finite & (d > 0) & (d <= threshold_mm)
    if not valid.any():
        n_nan = int((~finite).sum())
        n_zero = int((finite & (d <= 0)).sum())
        n_far = int((finite & (d > threshold_mm)).sum())
        raise PreprocessError(
            f"{_label(name)}: empty foreground: none of the {d.size} pixels is a valid depth within "
            f"{threshold_mm:g} mm ({n_zero} zero/no reading, {n_nan} NaN/inf, {n_far} beyond the threshold)"
        )
    return np.where(valid, d, 0.0), valid


def background_cut_mm(depth_mm: np.ndarray, background: str, threshold_mm: float, body_depth_mm: float,
                      name: str | None = None) -> float:
    """The depth (mm) beyond which this frame is background.

    ``"fixed"``: ``threshold_mm`` (the paper's ``r > 1.7 m``, whatever the frame).  ``"nearest"``: the nearest
    body in view is the subject; its near surface is the :data:`NEAR_SHARE` quantile of the frame's valid
    (finite, > 0) depths, and everything more than ``body_depth_mm`` behind it is background.  The quantile is
    taken on the 2 % nearest pixels, so isolated stray readings in front of the subject do not move it, and the
    cut moves with the subject: 1.3 m or 1.9 m away, with a wall 2 m or 4 m behind.

    Raises:
        PreprocessError: an unknown mode, a bad number, or (``"nearest"``) no valid pixel at all.
    """
    if background not in BACKGROUNDS:
        raise PreprocessError(f"{_label(name)}: background must be one of {BACKGROUNDS}, got {background!r}")
    if background == "fixed":
        return float(threshold_mm)
    if not (np.isfinite(body_depth_mm) and body_depth_mm > 0):
        raise PreprocessError(f"{_label(name)}: body_depth_mm must be a finite number > 0, got {body_depth_mm}")
    d = np.asarray(depth_mm)
    if d.ndim != 2 or not (np.issubdtype(d.dtype, np.number) or d.dtype == bool):
        raise PreprocessError(f"{_label(name)}: depth must be a numeric 2-D (H, W) array, got {d.dtype} {d.shape}")
    d = d.astype(np.float64)
    with np.errstate(invalid="ignore"):
        readings = d[np.isfinite(d) & (d > 0)]
    if readings.size == 0:
        raise PreprocessError(f"{_label(name)}: empty foreground: none of the {d.size} pixels is a valid depth "
                              f"(no reading, NaN or inf everywhere), so there is no subject to find")
    return float(np.quantile(readings, NEAR_SHARE) + body_depth_mm)


def normalise(depth: np.ndarray, valid: np.ndarray, name: str | None = None) -> np.ndarray:
    """Min-max normalise the valid pixels to ``[0, 1]`` (eq. 1); invalid pixels are 0.

    The minimum (nearest valid depth) maps to 0 and the maximum (farthest) to 1, exactly as eq. 1.

    Raises:
        PreprocessError: shapes differ, no valid pixel, or all valid pixels share one depth value
            (``max == min``: eq. 1 divides by zero).
    """
    d = np.asarray(depth, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if d.shape != valid.shape:
        raise PreprocessError(f"{_label(name)}: depth {d.shape} and valid mask {valid.shape} differ in shape")
    if not valid.any():
        raise PreprocessError(f"{_label(name)}: cannot normalise: no valid pixel")
    vals = d[valid]
    if not np.isfinite(vals).all():
        raise PreprocessError(f"{_label(name)}: valid pixels hold NaN or inf; run denoise first")
    lo, hi = vals.min(), vals.max()
    if hi <= lo:
        raise PreprocessError(
            f"{_label(name)}: cannot normalise: every valid pixel has the same depth ({lo:g} mm), max == min"
        )
    out = np.where(valid, (d - lo) / (hi - lo), 0.0)
    return out.astype(np.float32)


def to_three_channels(x: np.ndarray) -> np.ndarray:
    """``(H, W)`` → ``(H, W, 3)``: the single depth channel repeated for 3-channel backbones."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise PreprocessError(f"expected a 2-D (H, W) image, got shape {x.shape}")
    return np.repeat(x[:, :, None], 3, axis=2)


# ---------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class InputTransform:
    """Exact affine map between raw-frame pixels and network-input pixels.

    With pixel centres at integer coordinates (pixel ``u`` spans ``[u - 0.5, u + 0.5]``)::

        u_in = (u_raw + 0.5) * scale_x - 0.5 + offset_x
        v_in = (v_raw + 0.5) * scale_y - 0.5 + offset_y

    i.e. pixel *edges* scale: ``offset_x`` is where the raw frame's left edge (``u_raw = -0.5``)
    lands, measured from the input image's left edge.  ``in_w x in_h`` is the input image size.
    NaN coordinates (missing landmarks) pass through as NaN.
    """

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    in_w: int
    in_h: int

    def __post_init__(self):
        if not (self.scale_x > 0 and self.scale_y > 0):
            raise ValueError(f"scales must be > 0, got {self.scale_x}, {self.scale_y}")
        if not (int(self.in_w) > 0 and int(self.in_h) > 0):
            raise ValueError(f"input size must be positive, got {self.in_w}x{self.in_h}")

    @property
    def _scale(self) -> np.ndarray:
        return np.array([self.scale_x, self.scale_y])

    @property
    def _offset(self) -> np.ndarray:
        return np.array([self.offset_x, self.offset_y])

    def raw_to_input(self, pts: np.ndarray) -> np.ndarray:
        """Raw-frame pixel coordinates ``(..., 2)`` (x, y) → input-image coordinates."""
        p = np.asarray(pts, dtype=np.float64)
        return (p + 0.5) * self._scale - 0.5 + self._offset

    def input_to_raw(self, pts: np.ndarray) -> np.ndarray:
        """Input-image pixel coordinates ``(..., 2)`` (x, y) → raw-frame coordinates."""
        p = np.asarray(pts, dtype=np.float64)
        return (p + 0.5 - self._offset) / self._scale - 0.5

    def to_dict(self) -> dict[str, Any]:
        return {k: (int(v) if k in ("in_w", "in_h") else float(v)) for k, v in asdict(self).items()}

    def to_row(self) -> np.ndarray:
        """The six numbers of :data:`TRANSFORM_KEYS` as one float64 row (the arrays' ``transforms``)."""
        return np.array([getattr(self, k) for k in TRANSFORM_KEYS], dtype=np.float64)

    @classmethod
    def from_row(cls, row: np.ndarray) -> InputTransform:
        """Inverse of :meth:`to_row`."""
        return cls(*(float(v) for v in row[:4]), int(row[4]), int(row[5]))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputTransform:
        keys = TRANSFORM_KEYS
        missing = [k for k in keys if k not in d]
        extra = [k for k in d if k not in keys]
        if missing or extra:
            raise ValueError(f"InputTransform dict: missing keys {missing}, unknown keys {extra}")
        return cls(
            float(d["scale_x"]),
            float(d["scale_y"]),
            float(d["offset_x"]),
            float(d["offset_y"]),
            int(d["in_w"]),
            int(d["in_h"]),
        )


def fit_transform(
    frame_w: int, frame_h: int, input_size: int, crop_box: tuple[int, int, int, int] | None = None
) -> InputTransform:
    """Letterbox the frame (or ``crop_box``) into a square ``input_size`` image, keeping the aspect ratio.

    Args:
        frame_w, frame_h: raw frame size in pixels.
        input_size: side of the square network input.
        crop_box: ``(x0, y0, x1, y1)`` integer pixel indices, ends exclusive (the region's pixel
            edges are ``x0 - 0.5 .. x1 - 0.5``); ``None`` = the whole frame.

    The region's longer side fills the input; the other side is centred with equal padding.
    """
    if frame_w <= 0 or frame_h <= 0 or input_size <= 0:
        raise ValueError(f"sizes must be positive: frame {frame_w}x{frame_h}, input {input_size}")
    x0, y0, x1, y1 = (0, 0, frame_w, frame_h) if crop_box is None else (int(c) for c in crop_box)
    if not (0 <= x0 < x1 <= frame_w and 0 <= y0 < y1 <= frame_h):
        raise ValueError(f"crop_box {crop_box} is empty or outside the {frame_w}x{frame_h} frame")
    rw, rh = x1 - x0, y1 - y0
    s = input_size / max(rw, rh)
    pad_x = (input_size - rw * s) / 2.0
    pad_y = (input_size - rh * s) / 2.0
    return InputTransform(s, s, pad_x - x0 * s, pad_y - y0 * s, int(input_size), int(input_size))


def resize(image: np.ndarray, transform: InputTransform, order: int = 1) -> np.ndarray:
    """Resample a raw-frame image ``(H, W)`` or ``(H, W, C)`` onto the input grid of ``transform``.

    Each input pixel centre is mapped back with :meth:`InputTransform.input_to_raw` and sampled
    bilinearly (``order=1``; ``order=0`` = nearest).  Samples inside the raw frame's extent
    ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` use edge replication for the outer half pixel; samples
    outside it are 0 (the letterbox padding).  With a crop box, input pixels that fall outside
    the box but inside the frame show the frame there (normally background, 0).
    """
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    h, w = img.shape[:2]
    jj, ii = np.meshgrid(np.arange(transform.in_w), np.arange(transform.in_h))
    raw = transform.input_to_raw(np.stack([jj, ii], axis=-1).astype(np.float64))
    u, v = raw[..., 0], raw[..., 1]
    inside = (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    coords = np.stack([v, u])
    src = img.astype(np.float64) if img.ndim == 2 else img.astype(np.float64).transpose(2, 0, 1)
    planes = [src] if img.ndim == 2 else list(src)
    out = [np.where(inside, ndimage.map_coordinates(p, coords, order=order, mode="nearest"), 0.0) for p in planes]
    res = out[0] if img.ndim == 2 else np.stack(out, axis=-1)
    return res.astype(np.float32 if img.dtype.kind != "f" else img.dtype)


def torso_crop_box(valid_mask: np.ndarray, margin: float = 0.1, name: str | None = None) -> tuple[int, int, int, int]:
    """Bounding box ``(x0, y0, x1, y1)`` (ends exclusive) of the largest foreground region.

    Regions are 8-connected components of ``valid_mask``; the box grows by ``margin`` times its
    own width/height on each side and is clipped to the frame.  Used by ``crop="torso"``.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    region = _largest_region(valid_mask, name, "torso")
    sl = ndimage.find_objects(region.astype(np.int8))[0]
    y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
    mx, my = int(np.ceil(margin * (x1 - x0))), int(np.ceil(margin * (y1 - y0)))
    h, w = region.shape
    return max(0, x0 - mx), max(0, y0 - my), min(w, x1 + mx), min(h, y1 + my)


def _largest_region(valid_mask: np.ndarray, name: str | None, what: str) -> np.ndarray:
    """The largest 8-connected component of ``valid_mask`` as a boolean mask."""
    m = np.asarray(valid_mask, dtype=bool)
    if m.ndim != 2:
        raise PreprocessError(f"{_label(name)}: valid mask must be 2-D, got shape {m.shape}")
    labels, n = ndimage.label(m, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        raise PreprocessError(f"{_label(name)}: cannot crop to the {what}: empty foreground")
    return labels == int(np.argmax(np.bincount(labels.ravel())[1:])) + 1


def back_crop_box(depth_mm: np.ndarray, valid_mask: np.ndarray, span_mm: tuple[float, float] = BACK_SPAN_MM,
                  margin: float = BACK_MARGIN, camera: Intrinsics = KINECT_V2,
                  name: str | None = None) -> tuple[int, int, int, int]:
    """Box ``(x0, y0, x1, y1)`` (ends exclusive) around the subject's back, from the depth alone.

    The subject is the largest foreground region; its top is the first row holding at least 3 of its pixels (the
    top of the head).  The box keeps the rows ``span_mm`` below that top, converted to pixels at the region's
    median depth (so it scales with the distance: 1.3 m or 1.9 m; from the first row when the region touches it,
    the head cut off by the frame), and the region's columns within those rows,
    grown by ``margin`` of their width on each side; everything is clipped to the frame.  No landmark is used,
    so the same box is found at training and at inference time.
    """
    region = _largest_region(valid_mask, name, "back")
    d = np.asarray(depth_mm, dtype=np.float64)
    if d.shape != region.shape:
        raise PreprocessError(f"{_label(name)}: depth {d.shape} and valid mask {region.shape} differ in shape")
    top_mm, bottom_mm = span_mm
    if not 0.0 <= top_mm < bottom_mm:
        raise ValueError(f"span_mm must be 0 <= top < bottom, got {span_mm}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    z = float(np.median(d[region]))
    if not (np.isfinite(z) and z > 0):
        raise PreprocessError(f"{_label(name)}: cannot crop to the back: the subject's depth is {z}")
    counts = region.sum(axis=1)
    rows = np.flatnonzero(counts >= min(3, counts.max()))
    top = int(rows[0])
    h, w = region.shape
    px_per_mm = camera.fy / z
    # a region that touches the frame's first row has its head cut off: its top is no anatomical point, keep all
    y0 = 0 if region[0].any() else min(h - 1, top + int(np.floor(top_mm * px_per_mm)))
    y1 = min(h, top + int(np.ceil(bottom_mm * px_per_mm)) + 1)
    cols = np.flatnonzero(region[y0:y1].any(axis=0))
    if cols.size == 0:  # the region ends above the band (a partial body): keep the whole region's columns
        cols = np.flatnonzero(region.any(axis=0))
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    mx = int(np.ceil(margin * (x1 - x0)))
    return max(0, x0 - mx), y0, min(w, x1 + mx), y1


def preprocess_frame(
    depth_mm: np.ndarray,
    threshold_mm: float = DEFAULT_THRESHOLD_MM,
    input_size: int = 368,
    crop: str = "none",
    name: str | None = None,
) -> tuple[np.ndarray, InputTransform]:
    """Raw depth frame → network input ``(S, S, 3)`` float32 in ``[0, 1]`` and its :class:`InputTransform`.

    ``threshold_mm`` is this frame's background cut (:func:`background_cut_mm`).  denoise → normalise (eq. 1, over
    the whole frame's valid pixels) → optional crop (torso or back) →
    letterbox resize → 3 channels.  Landmarks map with ``transform.raw_to_input``.
    """
    if crop not in CROPS:
        raise PreprocessError(f"{_label(name)}: crop must be one of {CROPS}, got {crop!r}")
    depth, valid = denoise(depth_mm, threshold_mm, name=name)
    norm = normalise(depth, valid, name=name)
    h, w = norm.shape
    box = (torso_crop_box(valid, name=name) if crop == "torso" else
           back_crop_box(depth, valid, name=name) if crop == "back" else None)
    transform = fit_transform(w, h, input_size, box)
    img = np.clip(resize(norm, transform), 0.0, 1.0).astype(np.float32)
    return to_three_channels(img), transform
