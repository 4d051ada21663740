"""The label codec: one object that owns how a depth frame becomes network input and labels, and back.

A :class:`LabelCodec` holds every parameter of the label scheme — the input size, the crop mode and
the background cut of preprocessing (:meth:`cut_mm`: the paper's fixed threshold, or a depth behind the
subject found in each frame), the output stride and its cell-centre grid, the heatmap σ and
cut-off, the affinity-field limb width — and offers both directions:

* **encode**: a raw frame → network input and its raw↔input transform (:meth:`preprocess`); landmarks in
  input pixels → heatmaps, affinity fields and validity mask (:meth:`encode`, :meth:`encode_dataset`);
* **decode**: heatmaps → sub-pixel landmarks and confidences (:meth:`decode`, with the codec's ``decoding``:
  the separable log-parabola or DARK, :mod:`backsurface.codec.decode`), affinity fields → link
  scores and ridges (:meth:`link_scores`, :meth:`affinity_ridge`), input pixels → raw frame (:meth:`to_raw`).

A trained model is saved with its codec (:meth:`save` writes ``<model>.codec.json`` beside the model file,
atomically), and every reader of a model gets the codec back from that file (:meth:`for_model`), so a
model is never decoded with another scheme than it was trained with and no caller passes a loose
``stride`` or threshold.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from backsurface.codec import decode as _decode
from backsurface.codec import encode as _encode
from backsurface.codec import grid
from backsurface.core.atomic import atomic_file
from backsurface.data.preprocess import BACKGROUNDS, CROPS, InputTransform, background_cut_mm, preprocess_frame

FORMAT = 3
"""Version of the sidecar layout; a file of another version is refused."""
FORMAT_2 = {"decoding": "logparabola"}
"""Format 2 (before ``decoding``) decoded with the separable log-parabola: read as that scheme."""
FORMAT_1 = {"background": "fixed", "body_depth_mm": 300.0} | FORMAT_2
"""Format 1 (before ``background``/``body_depth_mm``) knew only the fixed threshold: read as that scheme."""
_PREDATED = {1: FORMAT_1, 2: FORMAT_2}
SIDECAR_SUFFIX = ".codec.json"


def _whole(value: Any) -> bool:
    """An int (a bool or a float such as 32.0 is not one: the sidecar is read strictly)."""
    return isinstance(value, int) and not isinstance(value, bool)


class CodecError(ValueError):
    """A codec that cannot be used (bad values, a missing or foreign sidecar file); the message names it."""


@dataclass(frozen=True)
class LabelCodec:
    """The label scheme of one model (every field is required: ``params.yaml`` is where defaults live)."""

    input_size: int  # network input: input_size × input_size pixels
    crop: str  # "none" (the whole frame, letterboxed), "torso" (the body's box), "back" (data.preprocess.back_crop_box)
    threshold_mm: float  # background="fixed": depth beyond this is background (paper: 1700)
    background: str  # "fixed" (threshold_mm) or "nearest" (body_depth_mm behind the subject's near surface)
    body_depth_mm: float  # background="nearest": how far behind the subject's near surface the body may reach
    stride: int  # output stride of the network (8 for every backbone here)
    sigma_px: float  # heatmap Gaussian σ, input pixels
    cutoff: float  # heatmap cut-off: cells with d²/2σ² above it are 0
    limb_width_px: float  # affinity-field half width, input pixels
    decoding: str  # heatmap peak refinement: "logparabola" (separable 3-point) or "dark" (blur + 2-D Taylor step)

    def __post_init__(self):
        if not _whole(self.input_size) or self.input_size <= 0:
            raise CodecError(f"codec: input_size must be a positive whole number, got {self.input_size!r}")
        if not _whole(self.stride) or self.stride <= 0 or self.input_size % self.stride:
            raise CodecError(f"codec: stride must be a positive whole divisor of input_size {self.input_size}, "
                             f"got {self.stride!r}")
        if self.crop not in CROPS:
            raise CodecError(f"codec: crop must be one of {CROPS}, got {self.crop!r}")
        if self.decoding not in _decode.METHODS:
            raise CodecError(f"codec: decoding must be one of {_decode.METHODS}, got {self.decoding!r}")
        if self.background not in BACKGROUNDS:
            raise CodecError(f"codec: background must be one of {BACKGROUNDS}, got {self.background!r}")
        for key in ("threshold_mm", "body_depth_mm", "sigma_px", "cutoff", "limb_width_px"):
            value = getattr(self, key)
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not (number and math.isfinite(value) and value > 0):
                raise CodecError(f"codec: {key} must be a finite number > 0, got {value!r}")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_params(cls, params) -> LabelCodec:
        """The codec of a validated :class:`~backsurface.core.params.Params` (its preprocess and labels)."""
        p, lab = params.preprocess, params.labels
        return cls(input_size=p.input_size, crop=p.crop, threshold_mm=p.threshold_mm, background=p.background,
                   body_depth_mm=p.body_depth_mm, stride=lab.stride,
                   sigma_px=lab.sigma_px, cutoff=lab.cutoff, limb_width_px=lab.limb_width_px,
                   decoding=lab.decoding)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, **asdict(self)}

    def differences(self, other: LabelCodec, other_name: str) -> list[str]:
        """Each field where ``other`` differs, as ``"crop 'none' (<other_name> 'back')"``; empty when the same."""
        a, b = asdict(self), asdict(other)
        return [f"{k} {a[k]!r} ({other_name} {b[k]!r})" for k in a if a[k] != b[k]]

    @classmethod
    def from_dict(cls, d: Any, source: str = "codec") -> LabelCodec:
        if not isinstance(d, dict):
            raise CodecError(f"{source}: expected a JSON object, got {type(d).__name__}")
        version = d.get("format")
        if isinstance(version, bool) or version not in (1, 2, FORMAT):
            raise CodecError(f"{source}: codec format {version!r}, this library reads formats 1 to {FORMAT}")
        fields = {k: v for k, v in d.items() if k != "format"}
        if version in _PREDATED:
            later = _PREDATED[version]
            if set(later) & set(fields):
                raise CodecError(f"{source}: a format {version} codec has no {' or '.join(later)}; found "
                                 f"{sorted(set(later) & set(fields))}")
            fields.update(later)
        names = set(cls.__dataclass_fields__)
        missing, unknown = sorted(names - set(fields)), sorted(set(fields) - names)
        if missing or unknown:
            raise CodecError(f"{source}: codec keys missing {missing}, unknown {unknown}")
        try:
            return cls(**fields)
        except CodecError as exc:
            raise CodecError(f"{source}: {exc}") from None

    # ------------------------------------------------------------------ files

    @staticmethod
    def sidecar(model_path: str | Path) -> Path:
        """Where the codec of ``model_path`` lives: ``model.keras`` → ``model.codec.json``."""
        p = Path(model_path)
        return p.with_name(p.stem + SIDECAR_SUFFIX)

    def save(self, model_path: str | Path) -> Path:
        """Write the codec beside ``model_path``, whole or not at all."""
        path = self.sidecar(model_path)
        with atomic_file(path) as fh:
            json.dump(self.to_dict(), fh, indent=1)
            fh.write("\n")
        return path

    @classmethod
    def for_model(cls, model_path: str | Path) -> LabelCodec:
        """The codec a model was trained with, read from its sidecar; one clear error when there is none."""
        path = cls.sidecar(model_path)
        if not path.is_file():
            raise CodecError(f"{model_path}: no label codec beside it ({path.name} is missing): the model was saved "
                             f"before models carried their codec; retrain it (dvc repro train) or write the codec "
                             f"of the scheme it was trained with")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CodecError(f"{path}: not a readable codec file ({exc})") from None
        return cls.from_dict(data, source=str(path))

    # ------------------------------------------------------------------ grid

    @property
    def output_size(self) -> int:
        """Cells per side of the output grid."""
        return grid.output_size(self.input_size, self.stride)

    def cell_centres(self) -> np.ndarray:
        """Input-pixel coordinate of every output cell centre along one axis."""
        return grid.cell_centres(self.output_size, self.stride)

    def input_to_output(self, pts: np.ndarray) -> np.ndarray:
        return grid.input_to_output(pts, self.stride)

    def output_to_input(self, pts: np.ndarray) -> np.ndarray:
        return grid.output_to_input(pts, self.stride)

    # ------------------------------------------------------------------ encode

    def cut_mm(self, depth_mm: np.ndarray, name: str | None = None) -> float:
        """The depth (mm) beyond which this raw frame is background: preprocessing and every depth lookup of
        a landmark (predictor, scoring, clinical indices) use the same cut."""
        return background_cut_mm(depth_mm, self.background, self.threshold_mm, self.body_depth_mm, name=name)

    def preprocess(self, depth_mm: np.ndarray, name: str | None = None,
                   cut_mm: float | None = None) -> tuple[np.ndarray, InputTransform]:
        """Raw depth frame → normalised single-channel input ``(S, S)`` float32 and its raw↔input transform
        (``cut_mm``: this frame's :meth:`cut_mm`, when the caller has it already)."""
        cut = self.cut_mm(depth_mm, name) if cut_mm is None else cut_mm
        image, transform = preprocess_frame(depth_mm, cut, self.input_size, self.crop, name=name)
        return image[..., 0], transform

    def encode(self, points_input: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Labels of one image: ``(heatmaps (n, n, 11), affinity_fields (n, n, 10), mask (21,))``."""
        return _encode.render_labels(points_input, self.input_size, self.stride, self.sigma_px, self.cutoff,
                                     self.limb_width_px)

    def encode_dataset(self, data: dict[str, np.ndarray], progress: bool = True) -> dict[str, np.ndarray]:
        """``data`` plus ``heatmaps``, ``pafs`` and ``masks`` of every image (paper Sec. 7-1 to 7-3)."""
        size = data["images"].shape[1]
        if size != self.input_size:
            raise CodecError(f"codec: images are {size}² but the codec's input is {self.input_size}²")
        hms, pafs, masks = [], [], []
        for pts in tqdm(data["points"], desc="labels", disable=not progress):
            h, p, m = self.encode(pts)
            hms.append(h)
            pafs.append(p)
            masks.append(m)
        return {**data, "heatmaps": np.asarray(hms, np.float32), "pafs": np.asarray(pafs, np.float32),
                "masks": np.asarray(masks, np.float32)}

    # ------------------------------------------------------------------ decode

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps ``(..., n, n, ≥10)`` → landmarks ``(..., 10, 2)`` in input pixels and peak confidences."""
        return _decode.heatmap_peaks(heatmaps, self.stride, self.decoding, self.sigma_px / self.stride)

    def link_scores(self, pafs: np.ndarray, points_input: np.ndarray) -> np.ndarray:
        """Affinity score of each link for one image (OpenPose's line integral)."""
        return _decode.link_scores(pafs, points_input, self.stride)

    def affinity_ridge(self, paf_link: np.ndarray, transform: InputTransform, ys_raw: np.ndarray) -> np.ndarray:
        """Raw column of one link's field ridge at each raw row."""
        return _decode.affinity_ridge(paf_link, transform, ys_raw, self.stride)

    @staticmethod
    def to_raw(points_input: np.ndarray, transforms: np.ndarray) -> np.ndarray:
        """Input-pixel points ``(N, 10, 2)`` → raw-frame pixels through each image's transform row."""
        return _decode.to_raw(points_input, transforms)
