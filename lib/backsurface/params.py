"""The study's parameters: one validated schema for ``params.yaml``, notebooks and profiles.

``params.yaml`` is the default profile; each notebook's parameters cell holds
the smoke profile; ``profiles/paper.yaml`` is an overlay with the paper's
protocol.  :func:`load` validates any of them: an unknown key, a wrong type or
an out-of-range value raises :class:`ParamsError` naming the key.

Command line::

    python -m backsurface.params check params.yaml
    python -m backsurface.params apply profiles/paper.yaml   # deep-merge an overlay into params.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .atomic import atomic_file


class ParamsError(ValueError):
    """Invalid parameters; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cohort(_Section):
    n_subjects: int = Field(105, ge=1, le=10000)
    n_female: int = Field(50, ge=0)
    age_min: float = Field(19.0, ge=18.0, le=90.0)
    age_max: float = Field(35.0, ge=18.0, le=90.0)
    deformity_share: float = Field(0.0, ge=0.0, le=1.0)
    cobb_max_deg: float = Field(40.0, ge=5.0, le=90.0)
    sway_deg: float = Field(2.0, ge=0.0, le=10.0)

    @model_validator(mode="after")
    def _consistent(self):
        if self.n_female > self.n_subjects:
            raise ValueError(f"n_female ({self.n_female}) exceeds n_subjects ({self.n_subjects})")
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) exceeds age_max ({self.age_max})")
        return self


class Sensor(_Section):
    distance_mm: float = Field(1500.0, ge=600.0, le=4000.0)
    distance_jitter_mm: float = Field(50.0, ge=0.0, le=500.0)
    lateral_jitter_mm: float = Field(30.0, ge=0.0, le=500.0)
    sensor_height_mm: float = Field(1100.0, ge=300.0, le=2000.0)
    wall_mm: float = Field(2600.0, ge=1000.0, le=4500.0)
    noise: bool = True


class Acquire(_Section):
    source: Literal["synthetic", "kinect", "import"] = "synthetic"
    import_dir: str = "data"
    cohort: Cohort = Cohort()
    sensor: Sensor = Sensor()


class Preprocess(_Section):
    threshold_mm: float = Field(1700.0, ge=500.0, le=4500.0)
    input_size: int = Field(184, ge=32, le=1024)
    crop: Literal["none", "torso"] = "none"


class Augment(_Section):
    shift_px: int = Field(20, ge=0, le=200)
    hflip: bool = False
    rotate_deg: float = Field(0.0, ge=0.0, le=45.0)
    scale: float = Field(0.0, ge=0.0, le=0.5)
    depth_noise: float = Field(0.0, ge=0.0, le=0.2)
    copies: int = Field(0, ge=0, le=20)  # extra randomly augmented copies per image when options are on


class Split(_Section):
    mode: Literal["subject", "image"] = "subject"
    n_test_subjects: int = Field(25, ge=1)


class Labels(_Section):
    stride: int = Field(8, ge=1, le=32)
    sigma_px: float = Field(8.0, gt=0.0, le=64.0)
    cutoff: float = Field(4.6, gt=0.0, le=20.0)
    limb_width_px: float = Field(8.0, gt=0.0, le=64.0)


BACKBONES = ("vgg19", "resnet50", "resnet152")


class Train(_Section):
    backbones: tuple[Literal["vgg19", "resnet50", "resnet152"], ...] = BACKBONES  # the train@ matrix in dvc.yaml
    weights: Literal["none", "imagenet"] = "none"  # imagenet: the Keras notop file must already be on disk
    weights_dir: str | None = None  # where the notop files are; default $KERAS_HOME/models or ~/.keras/models
    stages: int = Field(7, ge=1, le=10)
    width: int = Field(128, ge=4, le=512)  # channels of the stage convolutions
    refine_kernel: int = Field(7, ge=1, le=11)  # kernel of the refinement stages' convolutions
    feature_channels: int = Field(128, ge=4, le=512)  # backbone features reduced to this many channels
    epochs: int = Field(70, ge=1, le=1000)
    batch_size: int = Field(3, ge=1, le=256)
    learning_rate: float = Field(1e-4, gt=0.0, le=1.0)
    strategy: Literal["default", "mirrored", "one_device"] = "default"

    @model_validator(mode="after")
    def _distinct(self):
        if not self.backbones or len(set(self.backbones)) != len(self.backbones):
            raise ValueError(f"backbones must be a non-empty list without repeats, got {list(self.backbones)}")
        return self


class Evaluate(_Section):
    pck_mm: float = Field(150.0, gt=0.0, le=1000.0)  # the paper's fixed PCK threshold option
    pdj_fraction: float = Field(0.2, gt=0.0, le=1.0)  # of the torso diameter LSH-RPSIS
    curve_max_mm: float = Field(100.0, gt=0.0, le=1000.0)  # PCK curve and its AUC over [0, curve_max_mm]
    bootstrap: int = Field(1000, ge=10, le=100000)  # resamples of subjects for the 95% CIs
    worst_cases: int = Field(3, ge=0, le=20)  # test frames with the largest errors shown in Figure 11


class Leakage(_Section):
    """The split-leakage experiment: one small model trained twice, on the subject and the image split."""

    backbone: Literal["vgg19", "resnet50", "resnet152"] = "resnet50"
    stages: int = Field(2, ge=1, le=10)
    width: int = Field(32, ge=4, le=512)
    feature_channels: int = Field(32, ge=4, le=512)
    epochs: int = Field(5, ge=1, le=1000)


class Clinical(_Section):
    """The clinical validation cohort: new synthetic subjects (seed + 1), many with spinal deformities."""

    n_subjects: int = Field(40, ge=4, le=1000)
    deformity_share: float = Field(0.7, ge=0.0, le=1.0)
    cobb_max_deg: float = Field(40.0, ge=5.0, le=90.0)
    backbone: Literal["vgg19", "resnet50", "resnet152"] = "resnet152"  # the trained model that predicts
    screening_cobb_deg: float = Field(10.0, gt=0.0, le=60.0)  # a curve above this is a positive case


class Params(_Section):
    seed: int = Field(2026, ge=0)
    acquire: Acquire = Acquire()
    preprocess: Preprocess = Preprocess()
    augment: Augment = Augment()
    split: Split = Split()
    labels: Labels = Labels()
    train: Train = Train()
    evaluate: Evaluate = Evaluate()
    leakage: Leakage = Leakage()
    clinical: Clinical = Clinical()

    @model_validator(mode="after")
    def _stride_fits(self):
        if self.preprocess.input_size % 8:
            raise ValueError(f"preprocess.input_size must be a multiple of the backbones' stride 8, got "
                             f"{self.preprocess.input_size}")
        if self.labels.stride != 8:
            raise ValueError(f"labels.stride must be 8, the backbones' output stride, got {self.labels.stride}")
        return self


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def validate(data: dict[str, Any] | None, source: str = "params") -> Params:
    """Validate a parameters mapping (missing keys take the defaults)."""
    try:
        return Params.model_validate(data or {})
    except ValidationError as exc:
        raise ParamsError(_describe(exc, source)) from None


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({exc})") from None
    if data is not None and not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data or {}


def load(path: str | Path) -> Params:
    return validate(read_yaml(path), source=str(path))


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in overlay.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def apply_overlay(params_path: str | Path, overlay_path: str | Path) -> Params:
    """Deep-merge an overlay profile into ``params_path``, validated before anything is written."""
    merged = deep_merge(read_yaml(params_path), read_yaml(overlay_path))
    params = validate(merged, source=f"{params_path} + {overlay_path}")
    with atomic_file(params_path) as fh:
        yaml.safe_dump(merged, fh, sort_keys=False)
    return params


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 2 and argv[0] == "check":
            load(argv[1])
            print(f"{argv[1]}: valid")
        elif len(argv) in (2, 3) and argv[0] == "apply":
            target = argv[2] if len(argv) == 3 else "params.yaml"
            apply_overlay(target, argv[1])
            print(f"{target}: merged {argv[1]}")
        else:
            print(__doc__)
            return 2
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
