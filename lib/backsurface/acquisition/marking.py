"""Operator marking of the 10 landmarks on a marker frame: the state machine behind the notebook widget.

The operator clicks the landmarks in the paper's order; the session shows which one is next, and offers
*undo* (step back and clear it) and *skip* (a landmark that cannot be seen: written as -1, -1, the paper's
"missing").  When all ten are placed or skipped, :meth:`MarkingSession.annotation` gives the record in the
data contract.  No GUI code here: the widget only forwards clicks and buttons, and tests drive the same
methods directly.
"""

from __future__ import annotations

import numpy as np

from backsurface.core import camera, contract
from backsurface.core.landmarks import KEYS, LANDMARKS, N_LANDMARKS


class MarkingError(ValueError):
    """An action the marking session cannot take; the message says why."""


class MarkingSession:
    def __init__(self, frame_id: str, image: str, width: int = camera.WIDTH, height: int = camera.HEIGHT):
        self.frame_id, self.image, self.width, self.height = frame_id, image, width, height
        self.points = np.full((N_LANDMARKS, 2), np.nan)
        self.skipped = np.zeros(N_LANDMARKS, dtype=bool)
        self.step = 0

    @property
    def done(self) -> bool:
        return self.step >= N_LANDMARKS

    @property
    def current(self) -> str | None:
        return None if self.done else KEYS[self.step]

    def status(self) -> str:
        if self.done:
            marked = int((~self.skipped).sum())
            return f"{self.frame_id}: done, {marked} marked, {N_LANDMARKS - marked} skipped"
        lm = LANDMARKS[self.step]
        return f"{self.frame_id}: {self.step + 1}/{N_LANDMARKS} — click {lm.key}: {lm.name}"

    def _require_open(self, action: str) -> None:
        if self.done:
            raise MarkingError(f"{self.frame_id}: all {N_LANDMARKS} landmarks are done; undo before {action}")

    def click(self, x: float, y: float) -> None:
        self._require_open("clicking")
        if not (np.isfinite(x) and np.isfinite(y)) or not (0 <= x <= self.width - 1 and 0 <= y <= self.height - 1):
            raise MarkingError(f"{self.frame_id}: ({x:.1f}, {y:.1f}) is outside the {self.width}x{self.height} "
                               f"frame; click {self.current} on the image")
        self.points[self.step] = (x, y)
        self.skipped[self.step] = False
        self.step += 1

    def skip(self) -> None:
        self._require_open("skipping")
        self.points[self.step] = np.nan
        self.skipped[self.step] = True
        self.step += 1

    def undo(self) -> None:
        if self.step == 0:
            raise MarkingError(f"{self.frame_id}: nothing to undo")
        self.step -= 1
        self.points[self.step] = np.nan
        self.skipped[self.step] = False

    def annotation(self, subject: dict | None = None, **extra) -> contract.Annotation:
        if not self.done:
            raise MarkingError(f"{self.frame_id}: {self.current} and {N_LANDMARKS - self.step - 1} more still to mark")
        record = dict(id=self.frame_id, image=self.image, landmarks=contract.flat_landmarks(self.points),
                      subject=subject or {"subject_id": self.frame_id}, source="kinect", **extra)
        return contract.parse_annotations([record], source=f"marking of {self.frame_id}")[0]


def save_marks(cohort_dir, marked: list[contract.Annotation]) -> list[contract.Annotation]:
    """Put operator-marked records into a cohort's ``annotations.json`` (matched by id), validated and written
    atomically; depth frames are never touched.  Returns the full list written."""
    from pathlib import Path  # noqa: PLC0415

    path = Path(cohort_dir) / contract.ANNOTATIONS
    current = contract.read_annotations(path)
    by_id = {a.id: a for a in marked}
    unknown = sorted(set(by_id) - {a.id for a in current})
    if unknown:
        raise MarkingError(f"{path}: no recording with id {unknown[0]!r} to put the marks on")
    merged = []
    for a in current:
        m = by_id.get(a.id)
        merged.append(a if m is None else a.model_copy(update={"landmarks": m.landmarks}))
    contract.write_annotations(path, merged)
    return merged
