"""Frame sources: where raw recordings come from.

Every source yields :class:`Recording` objects; acquisition writes them in the
data contract whatever their origin, so the rest of the study never knows
whether a frame was synthesised, captured or imported.

* ``synthetic`` — :class:`backsurface.synthetic.source.SyntheticSource`;
* ``import`` — :class:`ImportSource`, recordings already in the contract;
* ``kinect`` — a live Kinect v2 through pykinect2 (Windows only), opened by
  :func:`open_kinect`; nothing else in the study imports pykinect2.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from backsurface.acquisition.recording import Recording
from backsurface.core import contract


@runtime_checkable
class FrameSource(Protocol):
    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Recording]: ...


class ImportSource:
    """Recordings that already follow the data contract, validated as a whole (every frame inside the cohort,
    every subject with one row) and then frame by frame."""

    def __init__(self, cohort_dir: str | Path):
        self.cohort_dir = Path(cohort_dir)
        self.annotations, self.cohort = contract.read_cohort(self.cohort_dir)
        self._subjects = {r["subject_id"]: r for r in self.cohort.to_dict("records")}  # ids are strings

    def __len__(self) -> int:
        return len(self.annotations)

    def __iter__(self) -> Iterator[Recording]:
        for ann in self.annotations:
            where = f"{self.cohort_dir / contract.ANNOTATIONS}: record {ann.id!r}"
            depth = contract.read_depth(contract.frame_path(self.cohort_dir, ann.image, where))
            sid = str(ann.subject.get("subject_id", ann.id))
            if sid not in self._subjects:
                raise contract.ContractError(
                    f"{self.cohort_dir / contract.COHORT}: no row for subject {sid!r} of record {ann.id!r}")
            yield Recording(
                id=ann.id, depth=depth, landmarks=ann.points(), landmarks_mm=ann.points_mm(),
                subject=self._subjects[sid], source="import",
            )


def open_kinect(subject_ids: list[str], **kwargs) -> FrameSource:
    """The live Kinect v2 source (:class:`~backsurface.acquisition.kinect_live.KinectSource` on pykinect2).

    Needs Windows, the Kinect SDK 2.0 and the optional ``pykinect2``; anywhere else one clear message.
    """
    from backsurface.acquisition.kinect_live import CaptureError, KinectSource, PyKinectStream  # noqa: PLC0415

    try:
        stream = PyKinectStream()
    except CaptureError as exc:
        raise RuntimeError(f"acquire.source = 'kinect': {exc}") from None
    return KinectSource(stream, subject_ids, **kwargs)
