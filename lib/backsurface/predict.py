"""Predictor for raw depth frames: preprocess → model → decode → raw pixels, 3D points, confidences.

Usable outside the notebooks::

    p = Predictor.from_file("artifacts/models/resnet152/model.keras")
    records = p.annotate({"frame01": depth_mm})          # paper-format annotation records
    contract.write_annotations("landmarks.json", records)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from . import clinical, contract, decode, kinect, metrics
from .landmarks import index
from .model import load as load_model
from .preprocess import DEFAULT_THRESHOLD_MM, preprocess_frame
from .train import predict as stage_outputs

VP, NC = index("VP"), index("NC")
# A landmark on the silhouette (shoulder, waist) is often decoded a few pixels off the body: its depth is then
# the median of the body pixels within 8 px (about 35 mm at 1.5 m) instead of none.
SILHOUETTE_WINDOW = 8


@dataclass
class Prediction:
    """Landmarks of one raw frame."""

    points_raw: np.ndarray  # (10, 2) raw-frame pixels, clipped into the frame
    points_mm: np.ndarray  # (10, 3) camera frame, NaN where no depth lies under the point
    confidence: np.ndarray  # (10,) heatmap peak of the last stage
    link_scores: np.ndarray  # (5,) affinity score of each link (OpenPose line integral)
    outside: np.ndarray  # (10,) True where the decoded point fell outside the frame and was clipped
    spine_prior_x: np.ndarray | None = None  # raw column of the VP–NC affinity ridge per row VP..NC (see clinical)


class Predictor:
    def __init__(self, model: keras.Model, threshold_mm: float = DEFAULT_THRESHOLD_MM, crop: str = "none",
                 stride: int = 8, batch_size: int = 8):
        self.model = model
        self.input_size = int(model.inputs[0].shape[1])
        self.threshold_mm = threshold_mm
        self.crop = crop
        self.stride = stride
        self.batch_size = batch_size

    @classmethod
    def from_file(cls, path: str | Path, **kw) -> Predictor:
        return cls(load_model(path), **kw)

    def predict(self, frames: dict[str, np.ndarray]) -> dict[str, Prediction]:
        """Raw depth frames (mm, 424×512) by id → one :class:`Prediction` each."""
        ids = list(frames)
        if not ids:
            return {}
        prepared = [preprocess_frame(frames[i], self.threshold_mm, self.input_size, self.crop, name=i) for i in ids]
        images = np.stack([img[..., 0] for img, _ in prepared])
        outputs = stage_outputs(self.model, images, self.batch_size)
        heat, pafs = outputs[-2], outputs[-1]
        pts_in, conf = decode.heatmap_peaks(heat, self.stride)
        out = {}
        for n, i in enumerate(ids):
            raw = prepared[n][1].input_to_raw(pts_in[n])
            clipped = np.clip(raw, 0, [kinect.WIDTH - 1, kinect.HEIGHT - 1])
            outside = (clipped != raw).any(axis=1)
            t = prepared[n][1]
            prior = None
            if np.isfinite(clipped[[VP, NC]]).all() and clipped[NC, 1] - clipped[VP, 1] > 8:
                ys = np.arange(np.ceil(clipped[VP, 1]), np.floor(clipped[NC, 1]) + 1)
                prior = clinical.paf_ridge(pafs[n][..., -2:], t.input_to_raw, ys, t.raw_to_input, self.stride)
            mm = metrics.points_3d(frames[i], clipped, self.threshold_mm, fallback_window=SILHOUETTE_WINDOW)
            out[i] = Prediction(clipped, mm, conf[n],
                                decode.link_scores(pafs[n], pts_in[n], self.stride), outside, prior)
        return out

    def annotate(self, frames: dict[str, np.ndarray], images: dict[str, str] | None = None,
                 predicted: dict[str, Prediction] | None = None) -> list[contract.Annotation]:
        """Paper-format annotation records (the data contract), with confidences and 3D points as extensions.

        ``predicted``: the result of :meth:`predict` on the same frames, when the caller already has it."""
        records = []
        for i, p in (predicted or self.predict(frames)).items():
            mm = None if np.isnan(p.points_mm).any() else np.round(p.points_mm, 2).tolist()
            records.append(contract.Annotation(
                id=i, image=(images or {}).get(i, f"{contract.DEPTH_DIR}/{i}.png"),
                landmarks=contract.flat_landmarks(p.points_raw), landmarks_mm=mm, source="import",
                confidence=np.round(p.confidence, 4).tolist(), link_scores=np.round(p.link_scores, 4).tolist(),
                clipped_to_frame=p.outside.tolist(),
            ))
        return records
