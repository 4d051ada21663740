"""What a one-subject report compares against, produced by the clinical stage and read by ``report``.

A :class:`Reference` holds the healthy 95% range of every index (the study cohort, true landmarks), the
curve-angle :class:`~backsurface.clinical.curve.Calibration` and the major-angle
:class:`~backsurface.clinical.angle_model.AngleModel` fitted on the tuning cohort, and the screening cut-offs
chosen there (format 1 files, without the model, are read with none), and whether the landmarks they were tuned
on came with the test-time flip (``flip_test``; format 1 and 2 files predate it and were tuned without), and the
label codec of the model that predicted them (``codec``: crop, input size, background cut...; format 1 to 3 files
predate it and are not checked against the model).  It is a
small JSON file (``reports/clinical/reference.json``), written whole or not at all and read strictly: a file that
is not one gives one error naming it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from backsurface.clinical.angle_model import AngleModel
from backsurface.clinical.curve import Calibration
from backsurface.codec.label_codec import CodecError, LabelCodec
from backsurface.core.atomic import write_json

FORMAT = 4
FORMATS = (1, 2, 3, 4)  # 1: before the angle model; 2: before flip_test; 3: before the codec
CUTOFF_KEY = re.compile(r"curve_deg>\d+(\.\d+)?")


class ReferenceError(ValueError):
    """A reference file that cannot be used; the message names it."""


@dataclass(frozen=True)
class Reference:
    ranges: dict[str, tuple[float, float]]  # index → healthy 95% range (low, high)
    calibration: Calibration
    cutoffs: dict[str, float]  # "curve_deg>10": the estimated angle (°) from which a curve > 10° is called
    backbone: str  # the model whose landmarks the calibration and cut-offs were tuned on
    provenance: str  # where the numbers come from (cohorts, sizes)
    angle_model: AngleModel | None = None  # the major curve angle from the surface signs (None: max of the kinds)
    flip_test: bool = False  # the tuning landmarks were predicted with the test-time flip (evaluate.flip_test)
    codec: LabelCodec | None = None  # the scheme of the model that predicted them (None: a file from before it)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "ranges": {k: list(v) for k, v in self.ranges.items()},
                "calibration": self.calibration.to_dict(), "cutoffs": self.cutoffs, "backbone": self.backbone,
                "provenance": self.provenance,
                "angle_model": None if self.angle_model is None else self.angle_model.to_dict(),
                "flip_test": self.flip_test, "codec": None if self.codec is None else self.codec.to_dict()}

    def save(self, path: str | Path) -> Path:
        write_json(path, self.to_dict())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> Reference:
        path = Path(path)
        if not path.is_file():
            raise ReferenceError(f"{path}: no clinical reference file there (the clinical stage writes it: "
                                 f"dvc repro clinical)")
        try:
            d = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReferenceError(f"{path}: not a readable reference file ({exc})") from None
        if not isinstance(d, dict) or d.get("format") not in FORMATS or isinstance(d.get("format"), bool):
            raise ReferenceError(f"{path}: not a clinical reference of format {' or '.join(map(str, FORMATS))}")
        try:
            ranges = {str(k): (float(v[0]), float(v[1])) for k, v in d["ranges"].items() if len(v) == 2}
            if len(ranges) != len(d["ranges"]):
                raise ValueError("each range is [low, high]")
            cutoffs = {str(k): float(v) for k, v in d["cutoffs"].items()}
            bad = [k for k, v in cutoffs.items() if not (CUTOFF_KEY.fullmatch(k) and math.isfinite(v))]
            if bad:
                raise ValueError(f"cut-off {bad[0]!r}: keys are 'curve_deg>N' with a finite angle")
            model = d.get("angle_model") if d["format"] >= 2 else None
            flip = d["flip_test"] if d["format"] >= 3 else False
            if not isinstance(flip, bool):
                raise ValueError(f"flip_test must be true or false, got {flip!r}")
            codec = d["codec"] if d["format"] >= 4 else None
            ref = cls(ranges, Calibration.from_dict(d["calibration"], str(path)), cutoffs, str(d["backbone"]),
                      str(d["provenance"]), None if model is None else AngleModel.from_dict(model, str(path)), flip,
                      None if codec is None else LabelCodec.from_dict(codec, "codec"))
        except (KeyError, TypeError, ValueError, AttributeError, CodecError) as exc:
            raise ReferenceError(f"{path}: not a clinical reference ({' '.join(str(exc).split())})") from None
        if not all(math.isfinite(x) for v in ranges.values() for x in v):
            raise ReferenceError(f"{path}: a healthy range is not a finite number")
        return ref


def require_model_scheme(reference: Reference, model_codec: LabelCodec, source: str) -> None:
    """The model must predict with the scheme the reference was tuned on (its calibration and cut-offs follow the
    landmarks' error, which the crop and input size set); a file from before the codec is not checked."""
    if reference.codec is None:
        return
    differ = model_codec.differences(reference.codec, "reference")
    if differ:
        raise ReferenceError(f"{source}: the model's codec has {', '.join(differ)}: use the model the reference was "
                             f"tuned on or its own reference")
