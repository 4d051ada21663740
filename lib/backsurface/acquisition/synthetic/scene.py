"""Placing a posed body in front of the sensor: anny frame (m) → Kinect camera frame (mm).

The subject stands with the back to the sensor.  Camera axes in the anny frame:
image-right = the subject's right (−X), image-down = −Z, optical axis = −Y
(from the subject's back towards the front), so the subject's left appears on
the image's left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: rows are the camera axes expressed in the anny frame
ANNY_TO_CAMERA = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]])


@dataclass(frozen=True)
class Placement:
    """Where the subject stands: distance from the sensor to the body's vertical axis, lateral offset."""

    distance_mm: float = 1500.0
    lateral_mm: float = 0.0
    sensor_height_mm: float = 1100.0


def to_camera(vertices_m: np.ndarray, placement: Placement) -> np.ndarray:
    """Posed vertices (m, anny frame, feet at Z=0) → camera-frame mm.

    The body's vertical axis (X = Y = 0) stands ``distance_mm`` in front of the
    sensor and ``lateral_mm`` to the image's right; the sensor is at
    ``sensor_height_mm`` above the floor.
    """
    v = np.asarray(vertices_m, dtype=float) * 1000.0
    v = v - np.array([0.0, 0.0, placement.sensor_height_mm])
    cam = v @ ANNY_TO_CAMERA.T
    cam[:, 0] += placement.lateral_mm
    cam[:, 2] += placement.distance_mm
    return cam
