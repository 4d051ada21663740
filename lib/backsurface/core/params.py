"""The study's parameters: one validated schema for ``params.yaml``, notebooks and profiles.

The schema says what each key may hold (types, ranges, cross-field rules) and holds no values:
``params.yaml`` is the one source of the default profile's values, and the other profiles are overlays
deep-merged over it — ``profiles/smoke.yaml`` (what each notebook runs by default, and nbval in
``make test``) and ``profiles/paper.yaml`` (the paper's protocol).  :func:`load` validates the merged
whole once: a missing or unknown key, a wrong type or an out-of-range value raises :class:`ParamsError`
naming the file and the key.

Types are strict: ``"10"`` is not an integer, ``true`` is not ``1`` and ``"yes"`` is not a boolean (an
integer is fine where a float is expected); floats must be finite (no ``.nan``/``.inf``); a key given twice
in one YAML mapping is refused; cross-field rules: the test subjects leave at least as many training subjects,
the wall stands behind the subject, the background threshold lies between the subject and the wall.
Files are read with a ``yaml.SafeLoader`` (no Python objects are ever built from YAML tags).

Command line (exit status 2 with one message per bad key)::

    python -m backsurface.core.params check params.yaml [profiles/smoke.yaml]
    python -m backsurface.core.params apply profiles/paper.yaml [params.yaml]   # merge, keeping comments
"""

from __future__ import annotations

import math
import stat
import sys
import zlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, ValidationInfo, model_validator

from backsurface.core.atomic import atomic_file
from backsurface.core.contract import id_problem
from backsurface.core.paths import resolve


class ParamsError(ValueError):
    """Invalid parameters; the message names the file and the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


Backbone = Literal["vgg19", "resnet50", "resnet152"]
Rate = Annotated[float, Field(gt=0.0, le=1.0)]
Schedule = Literal["constant", "cosine"]  # cosine: linear warm-up, then cosine decay to 0 at the last step
_ONE, _EACH = "one value", "value per backbone"  # the two forms of a per-backbone key; dropped from messages


def _one_or_each(kind):
    """One ``kind`` for every backbone, or a mapping backbone → ``kind`` (a YAML number/word or mapping)."""
    return Annotated[Annotated[kind, Tag(_ONE)] | Annotated[dict[Backbone, kind], Tag(_EACH)],
                     Discriminator(lambda v: _EACH if isinstance(v, dict) else _ONE)]


Epochs = Annotated[int, Field(ge=1, le=1000)]
EpochsOrEach = _one_or_each(Epochs)
RateOrRates = _one_or_each(Rate)
ScheduleOrSchedules = _one_or_each(Schedule)


class Cohort(_Section):
    n_subjects: int = Field(ge=1, le=10000)
    n_female: int = Field(ge=0)
    age_min: float = Field(ge=18.0, le=90.0)
    age_max: float = Field(ge=18.0, le=90.0)
    deformity_share: float = Field(ge=0.0, le=1.0)
    cobb_max_deg: float = Field(ge=5.0, le=90.0)
    sway_deg: float = Field(ge=0.0, le=10.0)
    weight_min: float = Field(ge=0.0, lt=1.0)  # anny's weight knob in [weight_min, 1]: 0 is the prior's own law

    @model_validator(mode="after")
    def _consistent(self):
        if self.n_female > self.n_subjects:
            raise ValueError(f"n_female ({self.n_female}) exceeds n_subjects ({self.n_subjects})")
        if self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) exceeds age_max ({self.age_max})")
        return self


class Sensor(_Section):
    distance_mm: float = Field(ge=600.0, le=4000.0)
    distance_jitter_mm: float = Field(ge=0.0, le=500.0)
    lateral_jitter_mm: float = Field(ge=0.0, le=500.0)
    sensor_height_mm: float = Field(ge=300.0, le=2000.0)
    wall_mm: float = Field(ge=1000.0, le=4500.0)
    noise: bool

    @model_validator(mode="after")
    def _wall_behind_subject(self):
        far = self.distance_mm + self.distance_jitter_mm
        if self.wall_mm <= far:
            raise ValueError(f"wall_mm ({self.wall_mm:g}) must stand behind the subject, who stands up to "
                             f"distance_mm + distance_jitter_mm = {far:g} mm from the sensor")
        return self


class Acquire(_Section):
    source: Literal["synthetic", "kinect", "import"]
    import_dir: str
    cohort: Cohort
    sensor: Sensor


class Preprocess(_Section):
    threshold_mm: float = Field(ge=500.0, le=4500.0)  # background: fixed
    background: Literal["fixed", "nearest"]  # fixed: r > threshold_mm (paper); nearest: behind the subject
    body_depth_mm: float = Field(ge=50.0, le=1000.0)  # background: nearest
    input_size: int = Field(ge=32, le=1024)
    crop: Literal["none", "torso", "back"]


class Augment(_Section):
    shift_px: int = Field(ge=0, le=200)
    hflip: bool
    rotate_deg: float = Field(ge=0.0, le=45.0)
    scale: float = Field(ge=0.0, le=0.5)
    depth_noise: float = Field(ge=0.0, le=0.2)
    copies: int = Field(ge=0, le=20)  # extra randomly augmented copies per image when options are on


class Split(_Section):
    mode: Literal["subject", "image"]
    n_test_subjects: int = Field(ge=1)


class Labels(_Section):
    stride: int = Field(ge=1, le=32)
    sigma_px: float = Field(gt=0.0, le=64.0)
    cutoff: float = Field(gt=0.0, le=20.0)
    limb_width_px: float = Field(gt=0.0, le=64.0)
    decoding: Literal["logparabola", "dark"]  # heatmap peak refinement (codec.decode)


BACKBONES = ("vgg19", "resnet50", "resnet152")


class Train(_Section):
    backbones: Annotated[tuple[Backbone, ...], Field(strict=False)]  # a YAML list; the train@ matrix in dvc.yaml
    weights: Literal["none", "imagenet"]  # imagenet: the Keras notop file must already be on disk
    weights_dir: str | None  # where the notop files are; default $KERAS_HOME/models or ~/.keras/models
    stages: int = Field(ge=1, le=10)
    width: int = Field(ge=4, le=512)  # channels of the stage convolutions
    refine_kernel: int = Field(ge=1, le=11)  # kernel of the refinement stages' convolutions
    feature_channels: int = Field(ge=4, le=512)  # backbone features reduced to this many channels
    epochs: EpochsOrEach  # one for every backbone, or one per backbone
    batch_size: int = Field(ge=1, le=256)
    # the peak rate of the schedule: one for every backbone, or one per backbone (backbone: rate)
    learning_rate: RateOrRates
    lr_schedule: ScheduleOrSchedules  # one for every backbone, or one per backbone
    warmup_epochs: int = Field(ge=0, le=1000)  # of the cosine schedule (ignored by constant)
    strategy: Literal["default", "mirrored", "one_device"]
    # float32 | mixed_bfloat16 (bfloat16 activations and float32 weights while training; the saved model is float32)
    precision: Literal["float32", "mixed_bfloat16"]
    # a branch ending above this share of the loss of an image-independent prediction fails the stage (null: off)
    max_baseline_share: float | None = Field(gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _distinct(self):
        if not self.backbones or len(set(self.backbones)) != len(self.backbones):
            raise ValueError(f"backbones must be a non-empty list without repeats, got {list(self.backbones)}")
        fewest = min(self._each(self.epochs))
        if "cosine" in self._each(self.lr_schedule) and self.warmup_epochs >= fewest:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be fewer than epochs ({fewest}): the "
                             f"cosine schedule decays after the warm-up")
        for key in ("learning_rate", "lr_schedule", "epochs"):
            value = getattr(self, key)
            missing = [bb for bb in self.backbones if isinstance(value, dict) and bb not in value]
            if missing:
                raise ValueError(f"{key} names nothing for {', '.join(missing)} (give one per backbone of "
                                 f"train.backbones, or one value for all)")
        return self

    @staticmethod
    def _each(value) -> list:
        return list(value.values()) if isinstance(value, dict) else [value]

    def _of(self, key: str, backbone: str):
        value = getattr(self, key)
        if not isinstance(value, dict):
            return value
        if backbone not in value:
            raise ParamsError(f"train.{key} names nothing for {backbone} (it has {', '.join(value)})")
        return value[backbone]

    def rate_of(self, backbone: str) -> float:
        """The peak learning rate of ``backbone``."""
        return self._of("learning_rate", backbone)

    def schedule_of(self, backbone: str) -> str:
        """The learning-rate schedule of ``backbone``."""
        return self._of("lr_schedule", backbone)

    def epochs_of(self, backbone: str) -> int:
        """The number of training epochs of ``backbone``."""
        return self._of("epochs", backbone)


class Evaluate(_Section):
    pck_mm: float = Field(gt=0.0, le=1000.0)  # the paper's fixed PCK threshold option
    pdj_fraction: float = Field(gt=0.0, le=1.0)  # of the torso diameter LSH-RPSIS
    curve_max_mm: float = Field(gt=0.0, le=1000.0)  # PCK curve and its AUC over [0, curve_max_mm]
    bootstrap: int = Field(ge=10, le=100000)  # resamples of subjects for the 95% CIs
    worst_cases: int = Field(ge=0, le=20)  # test frames with the largest errors shown in Figure 11
    flip_test: bool  # every model's outputs averaged with its mirrored input's (test-time flip, left/right swapped)


class Leakage(_Section):
    """The split-leakage experiment: one small model trained twice, on the subject and the image split."""

    backbone: Backbone
    stages: int = Field(ge=1, le=10)
    width: int = Field(ge=4, le=512)
    feature_channels: int = Field(ge=4, le=512)
    epochs: int = Field(ge=1, le=1000)
    learning_rate: Rate | None  # peak rate of the small model; null: the backbone's train.learning_rate
    precision: Literal["float32", "mixed_bfloat16"]  # its own training precision (train.precision: the study's)


class Clinical(_Section):
    """The clinical validation cohort (new synthetic subjects, seed + 1, many with spinal deformities) and the tuning
    cohort (seed + 2, the same kind) on which the curve-angle calibration and the screening cut-offs are chosen."""

    n_subjects: int = Field(ge=4, le=1000)
    n_tuning_subjects: int = Field(ge=4, le=1000)
    deformity_share: float = Field(ge=0.0, le=1.0)
    cobb_max_deg: float = Field(ge=5.0, le=90.0)
    backbone: Backbone  # the trained model that predicts
    screening_deg: Annotated[tuple[Annotated[float, Field(gt=0.0, le=60.0)], ...],
                             Field(strict=False, min_length=1, max_length=5)]  # a curve above each is a positive case


SHIFTABLE = {"cohort": ("age_min", "age_max", "deformity_share", "cobb_max_deg", "sway_deg", "weight_min"),
             "sensor": ("distance_mm", "distance_jitter_mm", "lateral_jitter_mm", "sensor_height_mm", "wall_mm")}
"""What a generalisation cohort may shift, per section of ``acquire`` (its size is ``generalise.n_subjects``)."""


class Generalise(_Section):
    """The trained models on new cohorts: new seeds, shifted distributions, one frame per subject."""

    n_subjects: int = Field(ge=2, le=1000)  # per cohort
    cohorts: dict[str, dict[str, dict[str, float]]]  # name → {cohort: {key: value}, sensor: {key: value}}

    @model_validator(mode="after")
    def _known_shifts(self):
        problems = []
        if not self.cohorts:
            problems.append("cohorts must name at least one cohort")
        for name, shift in self.cohorts.items():
            if id_problem(name):
                problems.append(f"cohorts.{name}: the name {id_problem(name)}")
            for section, values in shift.items():
                if section not in SHIFTABLE:
                    problems.append(f"cohorts.{name}.{section}: unknown section (expected cohort or sensor)")
                    continue
                for key, value in values.items():
                    if key not in SHIFTABLE[section]:
                        problems.append(f"cohorts.{name}.{section}.{key}: cannot be shifted (one of "
                                        f"{', '.join(SHIFTABLE[section])})")
                    elif not math.isfinite(value):
                        problems.append(f"cohorts.{name}.{section}.{key}: must be finite, got {value}")
        if problems:
            raise ValueError("\n".join(problems))
        return self


class Params(_Section):
    seed: int = Field(ge=0)
    acquire: Acquire
    preprocess: Preprocess
    augment: Augment
    split: Split
    labels: Labels
    train: Train
    evaluate: Evaluate
    leakage: Leakage
    clinical: Clinical
    generalise: Generalise

    @model_validator(mode="after")
    def _stride_fits(self, info: ValidationInfo):
        problems = []
        if self.preprocess.input_size % 8:
            problems.append(f"preprocess.input_size must be a multiple of the backbones' stride 8, got "
                            f"{self.preprocess.input_size}")
        if self.labels.stride not in (4, 8):
            problems.append(f"labels.stride must be 8 (the backbones' output stride) or 4 (their features upsampled "
                            f"x2 by the model), got {self.labels.stride}")
        s, thr = self.acquire.sensor, self.preprocess.threshold_mm
        far = s.distance_mm + s.distance_jitter_mm
        threshold_check = (info.context or {}).get("check_threshold", True)
        body = self.preprocess.body_depth_mm
        if self.preprocess.background == "nearest" and threshold_check and not far + body < s.wall_mm:
            problems.append(f"preprocess.body_depth_mm ({body:g}) behind a subject standing up to "
                            f"acquire.sensor.distance_mm + distance_jitter_mm = {far:g} mm reaches the wall "
                            f"(acquire.sensor.wall_mm = {s.wall_mm:g} mm): the wall would be taken for the body")
        if self.preprocess.background == "fixed" and threshold_check and not far < thr < s.wall_mm:
            problems.append(f"preprocess.threshold_mm ({thr:g}) must lie between the subject (up to "
                            f"acquire.sensor.distance_mm + distance_jitter_mm = {far:g} mm) and the wall "
                            f"(acquire.sensor.wall_mm = {s.wall_mm:g} mm)")
        split_check = (info.context or {}).get("check_split", True)
        n, n_test = self.acquire.cohort.n_subjects, self.split.n_test_subjects
        if split_check and self.acquire.source != "import" and n_test > n - n_test:
            # an imported cohort's size is known only when it is read: the split stage checks it then
            problems.append(f"split.n_test_subjects ({n_test}) leaves {max(n - n_test, 0)} of the "
                            f"acquire.cohort.n_subjects ({n}) for training; at most half the subjects "
                            f"({n // 2}) can be test subjects")
        for key in ("learning_rate", "lr_schedule"):
            value = getattr(self.train, key)
            if key == "learning_rate" and self.leakage.learning_rate is not None:
                continue
            if isinstance(value, dict) and self.leakage.backbone not in value:
                problems.append(f"train.{key} names nothing for {self.leakage.backbone}, the leakage "
                                f"experiment's backbone")
        # each shifted cohort must be a valid acquisition (checked once the study's own params are valid)
        if not problems and (info.context or {}).get("check_generalise", True):
            for name in self.generalise.cohorts:
                try:
                    shifted_cohort_params(self, name)
                except ParamsError as exc:
                    problems.extend(line.removeprefix("generalise.cohorts.") for line in str(exc).splitlines())
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _got(value: Any) -> str:
    text = repr(value)
    return (text if len(text) <= 40 else text[:36] + "...") + (f" ({type(value).__name__})"
                                                                  if isinstance(value, str | bool) else "")


def _describe(exc: ValidationError, source: str) -> str:
    lines = []
    for e in exc.errors():
        key = ".".join(str(p) for p in e["loc"] if p not in (_ONE, _EACH))
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "finite_number":
            msg = f"must be finite, got {e['input']!r}"
        elif e["type"].endswith("_type") and e["type"] != "missing":
            msg = f"{e['msg']}, got {_got(e['input'])}"
        else:
            msg = e["msg"].removeprefix("Value error, ")
        for line in msg.splitlines():  # a cross-field rule may report several keys, one line each
            lines.append(f"{source}: {key}: {line}" if key else f"{source}: {line}")
    return "\n".join(lines)


def validate(data: dict[str, Any] | None, source: str = "params", check_split: bool = True,
             check_threshold: bool = True, check_generalise: bool = True) -> Params:
    """Validate a complete parameters mapping: every key is required (``params.yaml`` holds the values).

    ``check_split``: whether ``split.n_test_subjects`` must fit ``acquire.cohort`` (not for a cohort that is
    never split, such as the clinical validation cohort); ``check_threshold``: whether the background cut must
    lie between subject and wall — the fixed threshold, or ``body_depth_mm`` behind the farthest subject (not for
    a generalisation cohort that tests it);
    ``check_generalise``: whether every cohort of ``generalise.cohorts`` must be a valid acquisition too."""
    try:
        context = {"check_split": check_split, "check_threshold": check_threshold, "check_generalise": check_generalise}
        return Params.model_validate(data or {}, context=context)
    except ValidationError as exc:
        raise ParamsError(_describe(exc, source)) from None


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` (plain data only) that refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if repeated:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


MAX_BYTES = 1 << 20  # a params file is a few kB


def _yaml_error(exc: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line, column)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        st = path.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ParamsError(f"{path}: is a directory, not a YAML file")
        if not stat.S_ISREG(st.st_mode):
            raise ParamsError(f"{path}: not a regular file")
        if st.st_size > MAX_BYTES:
            raise ParamsError(f"{path}: {st.st_size} bytes, too large for a params file")
        text = path.read_bytes().decode("utf-8")
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: plain data only
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found") from None
    except IsADirectoryError:
        raise ParamsError(f"{path}: is a directory, not a YAML file") from None
    except UnicodeDecodeError:
        raise ParamsError(f"{path}: not a text file (not UTF-8)") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML ({_yaml_error(exc)})") from None
    except RecursionError:
        raise ParamsError(f"{path}: not valid YAML (nested too deeply)") from None
    except OSError as exc:
        raise ParamsError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if data is not None and not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data or {}


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in overlay.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load(path: str | Path, overlay: str | Path | None = None) -> Params:
    """The parameters of ``path`` (a complete profile such as ``params.yaml``), with an optional overlay profile
    (e.g. ``profiles/smoke.yaml``) deep-merged over it; the whole result validated once."""
    data, source = read_yaml(path), str(path)
    if overlay:
        data, source = deep_merge(data, read_yaml(overlay)), f"{path} + {overlay}"
    return validate(data, source=source)


def load_study(params_file: str | Path, overlay: str | Path | None = None, root: Path | None = None) -> Params:
    """What every notebook calls first: :func:`load` with paths relative to the project root."""
    return load(resolve(params_file, root), resolve(overlay, root) if overlay else None)


def clinical_cohort_params(params: Params, tuning: bool = False) -> Params:
    """Params of the clinical validation cohort: the study's sensor and ages, ``clinical``'s size and deformity
    share, and seed + 1 so that its subjects are new people, never the training cohort.  With ``tuning``, the
    tuning cohort: ``clinical.n_tuning_subjects`` other new people (seed + 2), where calibration and cut-offs are
    chosen before they are reported on the validation cohort."""
    c = params.clinical
    n = c.n_tuning_subjects if tuning else c.n_subjects
    data = params.model_dump()
    data["seed"] = params.seed + (2 if tuning else 1)
    data["acquire"]["source"] = "synthetic"
    data["acquire"]["cohort"].update(n_subjects=n, n_female=n // 2,
                                     deformity_share=c.deformity_share, cobb_max_deg=c.cobb_max_deg)
    return validate(data, source="clinical validation cohort", check_split=False)  # never split


def shifted_cohort_params(params: Params, name: str) -> Params:
    """Params of the generalisation cohort ``name`` (``generalise.cohorts``): the study's acquisition with that
    cohort's shifts, ``generalise.n_subjects`` subjects, and a seed of its own: seed + 1000 + the CRC-32 of its name
    modulo 10⁶, so that its subjects are new people, never the training (seed) or the clinical cohort (seed + 1), and
    stay the same people when other cohorts are added, removed or reordered.

    The study's preprocessing is kept as it is: a cohort may stand where the fixed threshold cuts it, on purpose."""
    g = params.generalise
    if name not in g.cohorts:
        raise ParamsError(f"generalise.cohorts: no cohort {name!r} (there are {', '.join(g.cohorts)})")
    data = params.model_dump()
    data["seed"] = params.seed + 1000 + zlib.crc32(name.encode()) % 1_000_000
    data["acquire"]["source"] = "synthetic"
    data["acquire"]["cohort"].update(n_subjects=g.n_subjects, n_female=g.n_subjects // 2)
    for section, values in g.cohorts[name].items():
        data["acquire"][section].update(values)
    return validate(data, source=f"generalise.cohorts.{name}", check_split=False, check_threshold=False,
                    check_generalise=False)


def _update_in_place(doc, overlay: dict[str, Any]) -> None:
    """Set the overlay's values in a round-trip YAML document, keeping its comments, order and layout."""
    for k, v in overlay.items():
        if isinstance(v, dict) and isinstance(doc.get(k), dict):
            _update_in_place(doc[k], v)
        else:
            doc[k] = v


def apply_overlay(params_path: str | Path, overlay_path: str | Path) -> Params:
    """Merge an overlay profile into ``params_path``, validated before anything is written.

    Only the overlay's values change: comments, key order and layout of ``params_path`` stay as they were
    (a round-trip YAML writer), so ``git diff`` shows just the changed values."""
    from ruamel.yaml import YAML  # noqa: PLC0415 - the round-trip writer, only for apply

    params_path = Path(params_path)
    overlay = read_yaml(overlay_path)
    params = validate(deep_merge(read_yaml(params_path), overlay), source=f"{params_path} + {overlay_path}")
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    doc = rt.load(params_path.read_text(encoding="utf-8"))
    _update_in_place(doc, overlay)
    with atomic_file(params_path) as fh:
        rt.dump(doc, fh)
    return params


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if len(argv) == 2 and argv[0] == "check":
            load(argv[1])
            print(f"{argv[1]}: valid")
        elif len(argv) == 3 and argv[0] == "check":
            load(argv[1], argv[2])
            print(f"{argv[1]} + {argv[2]}: valid")
        elif len(argv) in (2, 3) and argv[0] == "apply":
            target = argv[2] if len(argv) == 3 else "params.yaml"
            apply_overlay(target, argv[1])
            print(f"{target}: merged {argv[1]}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ParamsError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
