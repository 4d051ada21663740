"""Predictor for raw depth frames: preprocess → model → decode → raw pixels, 3D points, confidences.

Usable outside the notebooks::

    p = Predictor.from_file("artifacts/models/resnet152/model.keras")
    records = p.annotate({"frame01": depth_mm})          # paper-format annotation records
    contract.write_annotations("landmarks.json", records)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backsurface.codec.label_codec import LabelCodec
from backsurface.core import camera, contract
from backsurface.core.landmarks import index
from backsurface.data.preprocess import PreprocessError
from backsurface.data.surface import SILHOUETTE_WINDOW, points_3d
from backsurface.net.inference import Runner, open_model

VP, NC = index("VP"), index("NC")


@dataclass
class Prediction:
    """Landmarks of one raw frame."""

    points_raw: np.ndarray  # (10, 2) raw-frame pixels, clipped into the frame
    points_mm: np.ndarray  # (10, 3) camera frame, NaN where no depth lies under the point
    confidence: np.ndarray  # (10,) heatmap peak of the last stage
    link_scores: np.ndarray  # (5,) affinity score of each link (OpenPose line integral)
    outside: np.ndarray  # (10,) True where the decoded point fell outside the frame and was clipped
    cut_mm: float  # this frame's background cut (codec.cut_mm): every later depth lookup on the frame uses it
    spine_prior_x: np.ndarray | None = None  # raw column of the VP–NC affinity ridge per row VP..NC


class Predictor:
    """Raw frames → landmarks with one model and the codec it was trained with."""

    def __init__(self, runner: Runner, codec: LabelCodec):
        self.runner = runner
        self.codec = codec

    @classmethod
    def from_file(cls, path: str | Path, batch_size: int = 8, flip_test: bool = False) -> Predictor:
        """A ``.keras`` model or an exported ``.onnx`` file, with the codec saved beside it (``flip_test``: each
        frame's outputs averaged with its mirror image's, as the evaluation does with ``evaluate.flip_test``)."""
        return cls(*open_model(path, batch_size, flip_test))

    @property
    def input_size(self) -> int:
        return self.codec.input_size

    def predict(self, frames: dict[str, np.ndarray]) -> dict[str, Prediction]:
        """Raw depth frames (mm, 424×512) by id → one :class:`Prediction` each (a frame with no subject in
        front of the background cut raises :class:`~backsurface.data.preprocess.PreprocessError`)."""
        return self.predict_found(frames, stop_at_miss=True)[0]

    def predict_found(self, frames: dict[str, np.ndarray],
                      stop_at_miss: bool = False) -> tuple[dict[str, Prediction], dict[str, str]]:
        """Like :meth:`predict`, for a cohort where some frames may show no subject in front of the background
        cut: the predictions of the frames where one is found, and why each other frame was not
        (``stop_at_miss``: raise on the first such frame instead)."""
        prepared, cuts, missed = {}, {}, {}
        for i, depth in frames.items():
            try:
                cuts[i] = self.codec.cut_mm(depth, name=i)
                prepared[i] = self.codec.preprocess(depth, name=i, cut_mm=cuts[i])
            except PreprocessError as exc:
                if stop_at_miss:
                    raise
                missed[i] = str(exc)
        return self._predict({i: frames[i] for i in prepared}, prepared, cuts), missed

    def _predict(self, frames: dict[str, np.ndarray], by_id: dict, cuts: dict[str, float]) -> dict[str, Prediction]:
        ids = list(frames)
        if not ids:
            return {}
        prepared = [by_id[i] for i in ids]
        heat, pafs = self.runner(np.stack([img for img, _ in prepared]))
        pts_in, conf = self.codec.decode(heat)
        out = {}
        for n, i in enumerate(ids):
            t = prepared[n][1]
            raw = t.input_to_raw(pts_in[n])
            clipped = np.clip(raw, 0, [camera.WIDTH - 1, camera.HEIGHT - 1])
            outside = (clipped != raw).any(axis=1)
            prior = None
            if np.isfinite(clipped[[VP, NC]]).all() and clipped[NC, 1] - clipped[VP, 1] > 8:
                ys = np.arange(np.ceil(clipped[VP, 1]), np.floor(clipped[NC, 1]) + 1)
                prior = self.codec.affinity_ridge(pafs[n][..., -2:], t, ys)
            mm = points_3d(frames[i], clipped, cuts[i], fallback_window=SILHOUETTE_WINDOW)
            out[i] = Prediction(clipped, mm, conf[n], self.codec.link_scores(pafs[n], pts_in[n]), outside, cuts[i],
                                prior)
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
