"""Kinect v2 capture following the paper's protocol, over any depth stream.

Protocol (paper Sec. 4-5, written out so an operator can follow it):

1. Warm the sensor up before the first subject (Kinect v2 depth drifts by several mm while it warms;
   :data:`WARMUP_MINUTES`) — the capture reminds the operator and records when it was started.
2. The subject stands with the back to the sensor at about 1.5 m; the capture checks the median depth of
   the central region and asks the operator to reposition the subject when it is off by more than the
   tolerance.
3. Two frames per subject: one with **only the C7 marker** (``<subject>_c7``) and one with **all markers**
   (``<subject>``), each the per-pixel **median of ``n_frames`` consecutive frames** over the pixels with a
   reading (a pixel with a reading in fewer than half of them stays 0).  The median, not the steadiest single
   frame, because it also removes the flying pixels and dropouts that differ from frame to frame.
4. Raw 512×424 depth is kept as it came (uint16 mm), with the capture time, the sensor serial and how the
   frames were combined as extension fields of the annotation record.

The stream is an interface (:class:`DepthStream`): :class:`PyKinectStream` wraps pykinect2 (Windows, Kinect
SDK 2.0), :class:`RecordedStream` replays frames (tests, or re-processing a recording).  A stream that stalls
or delivers empty frames ends in one :class:`CaptureError` after ``timeout_s``; nothing has been written then.
"""

from __future__ import annotations

import datetime as dt
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from backsurface.acquisition.recording import Recording
from backsurface.core import camera, contract

WARMUP_MINUTES = 20
_EMPTY_SHARE = 0.05  # a frame with fewer valid pixels than this share is empty


class CaptureError(RuntimeError):
    """The sensor did not deliver what the protocol needs; the message says what and for how long."""


@runtime_checkable
class DepthStream(Protocol):
    serial: str

    def latest(self) -> np.ndarray | None:
        """The newest depth frame since the last call (424×512 uint16 mm), or None if there is none yet."""


class RecordedStream:
    """Frames supplied by the caller, one per call; ``None`` entries model a sensor with no new frame."""

    def __init__(self, frames: Iterable[np.ndarray | None], serial: str = "recorded"):
        self._frames: Iterator = iter(frames)
        self.serial = serial

    def latest(self) -> np.ndarray | None:
        return next(self._frames, None)


class PyKinectStream:
    """A live Kinect v2 through pykinect2 (Windows, Kinect SDK 2.0); imported only here."""

    def __init__(self):
        try:
            from pykinect2 import PyKinectRuntime, PyKinectV2  # noqa: PLC0415
        except Exception as exc:  # ImportError, or pykinect2's known failures on recent Pythons
            raise CaptureError(
                "live capture needs pykinect2 with the Kinect SDK 2.0 on Windows (pip install '.[kinect]'); it "
                f"cannot be loaded here: {exc}. Use acquire.source 'import' for recordings already in the data "
                "contract, or 'synthetic'."
            ) from None
        self._runtime = PyKinectRuntime.PyKinectRuntime(PyKinectV2.FrameSourceTypes_Depth)
        sensor = getattr(self._runtime, "_sensor", None)
        self.serial = str(getattr(sensor, "UniqueKinectId", "") or "unknown (not exposed by pykinect2)")

    def latest(self) -> np.ndarray | None:
        if not self._runtime.has_new_depth_frame():
            return None
        return np.asarray(self._runtime.get_last_depth_frame(), dtype=np.uint16).reshape(camera.HEIGHT, camera.WIDTH)


def _check_frame(frame: np.ndarray) -> np.ndarray:
    f = np.asarray(frame)
    if f.shape != (camera.HEIGHT, camera.WIDTH):
        raise CaptureError(f"the sensor delivered a {f.shape} frame; a Kinect v2 depth frame is "
                           f"{camera.HEIGHT}x{camera.WIDTH}")
    return f.astype(np.uint16)


def grab(stream: DepthStream, n: int, timeout_s: float = 5.0, poll_s: float = 0.005,
         clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> list[np.ndarray]:
    """``n`` non-empty frames from ``stream``; :class:`CaptureError` when ``timeout_s`` passes without one."""
    frames: list[np.ndarray] = []
    last_good = clock()
    empty = 0
    while len(frames) < n:
        frame = stream.latest()
        if frame is not None:
            f = _check_frame(frame)
            if (f > 0).mean() >= _EMPTY_SHARE:
                frames.append(f)
                last_good = clock()
                continue
            empty += 1
        if clock() - last_good > timeout_s:
            what = f"only empty frames ({empty})" if empty else "no frame"
            raise CaptureError(f"sensor {stream.serial}: {what} for {timeout_s:g} s after {len(frames)} of {n} "
                               f"frames; check the cable, the USB 3 port and that nothing else uses the sensor")
        sleep(poll_s)
    return frames


def combine(frames: list[np.ndarray]) -> np.ndarray:
    """Per-pixel median over the frames with a reading; 0 where fewer than half of them have one."""
    stack = np.stack(frames).astype(np.float64)
    valid = stack > 0
    with warnings.catch_warnings():  # a pixel without any reading is an all-NaN column: 0 below, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(np.where(valid, stack, np.nan), axis=0)
    keep = valid.sum(axis=0) * 2 >= len(frames)
    return np.where(keep & np.isfinite(med), np.rint(med), 0).astype(np.uint16)


def subject_distance_mm(frame: np.ndarray, max_mm: float = 3000.0) -> float:
    """Median depth of the valid pixels in the central third of the frame (the subject's back)."""
    h, w = frame.shape
    roi = frame[h // 3 : 2 * h // 3, w // 3 : 2 * w // 3].astype(float)
    vals = roi[(roi > 0) & (roi < max_mm)]
    return float(np.median(vals)) if vals.size else float("nan")


@dataclass(frozen=True)
class CaptureProtocol:
    n_frames: int = 5
    timeout_s: float = 5.0
    distance_mm: float = 1500.0
    tolerance_mm: float = 200.0
    max_repositions: int = 3


class KinectSource:
    """A frame source for acquisition: two recordings per subject (C7 marker only, then all markers).

    ``prompt`` shows the operator a message and waits (``input`` at a console, a widget in a notebook).
    The landmarks are left missing: the operator marks them afterwards (:mod:`backsurface.marking`).
    """

    def __init__(self, stream: DepthStream, subject_ids: list[str], protocol: CaptureProtocol = CaptureProtocol(),
                 prompt: Callable[[str], object] = input, now: Callable[[], dt.datetime] = dt.datetime.now,
                 **grab_kw):
        ids = [contract.check_id(s, "Kinect capture: subject id") for s in subject_ids]  # before anyone stands up
        for sid in ids:
            contract.check_id(f"{sid}_c7", "Kinect capture: record id")
        repeated = sorted({s for s in ids if [i.lower() for i in ids].count(s.lower()) > 1})
        if repeated:
            raise contract.ContractError(f"Kinect capture: subject id {repeated[0]!r} is given more than once "
                                         f"(ignoring case)")
        self.stream, self.subject_ids, self.protocol = stream, ids, protocol
        self.prompt, self.now, self.grab_kw = prompt, now, grab_kw
        self.started = now()
        prompt(f"Kinect v2 {stream.serial}: let the sensor warm up for {WARMUP_MINUTES} min before the first "
               f"subject (started {self.started:%H:%M}). Press Enter to continue.")

    def __len__(self) -> int:
        return 2 * len(self.subject_ids)

    def _frame(self, sid: str, message: str) -> np.ndarray:
        p = self.protocol
        for _ in range(p.max_repositions + 1):
            self.prompt(message)
            frame = combine(grab(self.stream, p.n_frames, p.timeout_s, **self.grab_kw))
            distance = subject_distance_mm(frame)
            if abs(distance - p.distance_mm) <= p.tolerance_mm:
                return frame
            message = (f"{sid}: the back is at {distance:.0f} mm; ask the subject to stand about "
                       f"{p.distance_mm:.0f} mm from the sensor, then press Enter.")
        raise CaptureError(f"{sid}: subject not at {p.distance_mm:.0f} ± {p.tolerance_mm:.0f} mm after "
                           f"{p.max_repositions} repositionings (last {distance:.0f} mm)")

    def __iter__(self) -> Iterator[Recording]:
        missing = np.full((10, 2), np.nan)
        for sid in self.subject_ids:
            for suffix, what in (("_c7", "only the C7 marker"), ("", "all ten markers")):
                frame = self._frame(sid, f"{sid}: place {what}; subject with the back to the sensor at about "
                                         f"{self.protocol.distance_mm / 1000:.1f} m. Press Enter to record.")
                yield Recording(
                    id=f"{sid}{suffix}", depth=frame, landmarks=missing, subject={"subject_id": sid},
                    source="kinect", extra={
                        "capture_time": self.now().isoformat(timespec="seconds"), "sensor_serial": self.stream.serial,
                        "frames_combined": self.protocol.n_frames, "combine": "per-pixel median",
                        "markers": "C7" if suffix else "all",
                        "warmup_minutes": round((self.now() - self.started).total_seconds() / 60, 1),
                    })
