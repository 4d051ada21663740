"""One annotated depth frame of one subject, whatever its source (synthetic, captured, imported)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Recording:
    """One annotated depth frame of one subject."""

    id: str
    depth: np.ndarray  # uint16 (424, 512), mm
    landmarks: np.ndarray  # (10, 2) raw-frame pixels, NaN = missing
    subject: dict  # demographics and, for synthetic subjects, the true deformity; needs "subject_id"
    source: str
    landmarks_mm: np.ndarray | None = None  # (10, 3) camera frame, mm
    extra: dict = field(default_factory=dict)  # further annotation fields (capture time, serial, ...)
