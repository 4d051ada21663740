"""The raw-cohort data contract: depth PNGs, ``annotations.json`` and ``cohort.csv``.

Layout of a cohort directory (DESIGN.md, "Data contract")::

    depth/<id>.png      16-bit PNG, depth in mm, 512x424, 0 = no reading
    annotations.json    list of records in the paper's format plus extension fields
    cohort.csv          one row per subject

Every reader validates what it reads and raises :class:`ContractError` naming
the file (and the record) at fault.  Writers never modify existing raw frames.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from backsurface.core import camera
from backsurface.core.atomic import atomic_file
from backsurface.core.landmarks import N_LANDMARKS, PAPER_LINKS

DEPTH_DIR = "depth"
ANNOTATIONS = "annotations.json"
COHORT = "cohort.csv"
MISSING = -1.0  # pixel coordinate of a landmark the operator could not mark


class ContractError(ValueError):
    """Input that does not follow the data contract; the message names the file and record."""


class Annotation(BaseModel):
    """One frame's annotation record (the paper's JSON plus extension fields)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(min_length=1)
    image: str
    width: int = camera.WIDTH
    height: int = camera.HEIGHT
    landmarks: list[float] = Field(min_length=2 * N_LANDMARKS, max_length=2 * N_LANDMARKS)
    links: list[list[int]] = Field(default_factory=lambda: [list(p) for p in PAPER_LINKS])
    landmarks_mm: list[list[float]] | None = None
    subject: dict[str, Any] = Field(default_factory=dict)
    source: Literal["synthetic", "kinect", "import"] = "import"

    @field_validator("links")
    @classmethod
    def _paper_links(cls, v):
        if [tuple(p) for p in v] != list(PAPER_LINKS):
            raise ValueError(f"links must be the paper's {[list(p) for p in PAPER_LINKS]}")
        return v

    @field_validator("landmarks_mm")
    @classmethod
    def _ten_points(cls, v):
        if v is not None and (len(v) != N_LANDMARKS or any(len(p) != 3 for p in v)):
            raise ValueError(f"landmarks_mm must hold {N_LANDMARKS} points of 3 coordinates")
        return v

    @model_validator(mode="after")
    def _inside_frame(self):
        if (self.width, self.height) != (camera.WIDTH, camera.HEIGHT):
            raise ValueError(f"frame size must be {camera.WIDTH}x{camera.HEIGHT}, got {self.width}x{self.height}")
        xy = self.points()
        present = ~np.isnan(xy).any(axis=1)
        bad = present & ((xy[:, 0] < 0) | (xy[:, 0] > self.width - 1) | (xy[:, 1] < 0) | (xy[:, 1] > self.height - 1))
        if bad.any():
            from backsurface.core.landmarks import KEYS

            names = ", ".join(f"{KEYS[i]}=({xy[i, 0]:.1f}, {xy[i, 1]:.1f})" for i in np.flatnonzero(bad))
            raise ValueError(f"landmark outside the {self.width}x{self.height} frame: {names}")
        return self

    def points(self) -> np.ndarray:
        """Landmarks as a ``(10, 2)`` float array; missing landmarks (-1, -1) become NaN."""
        xy = np.asarray(self.landmarks, dtype=float).reshape(N_LANDMARKS, 2)
        xy[(xy == MISSING).all(axis=1)] = np.nan
        return xy

    def points_mm(self) -> np.ndarray | None:
        return None if self.landmarks_mm is None else np.asarray(self.landmarks_mm, dtype=float)


def flat_landmarks(points: np.ndarray) -> list[float]:
    """``(10, 2)`` array (NaN = missing) → the paper's flat list with -1 for missing."""
    pts = np.where(np.isnan(points), MISSING, points)
    return [round(float(v), 3) for v in pts.reshape(-1)]


# ---------------------------------------------------------------- depth frames


def read_depth(path: str | Path) -> np.ndarray:
    """Read a 16-bit depth PNG as ``uint16 (424, 512)`` millimetres; clear error otherwise."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im)
    except FileNotFoundError:
        raise ContractError(f"{path}: depth frame not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ContractError(f"{path}: not a readable PNG depth frame ({exc})") from None
    if arr.ndim != 2 or arr.dtype not in (np.uint16, np.int32):
        raise ContractError(f"{path}: depth must be a single-channel 16-bit PNG, got {arr.dtype} {arr.shape}")
    if arr.shape != (camera.HEIGHT, camera.WIDTH):
        raise ContractError(
            f"{path}: depth frame must be {camera.WIDTH}x{camera.HEIGHT}, got {arr.shape[1]}x{arr.shape[0]}"
        )
    if arr.min() < 0 or arr.max() > np.iinfo(np.uint16).max:
        raise ContractError(f"{path}: depth values outside the 16-bit range")
    return arr.astype(np.uint16)


def write_depth(path: str | Path, depth_mm: np.ndarray) -> None:
    """Write a ``uint16`` depth frame as a 16-bit PNG, atomically; refuses to overwrite."""
    path = Path(path)
    depth = np.asarray(depth_mm)
    if depth.shape != (camera.HEIGHT, camera.WIDTH):
        raise ContractError(
            f"{path}: refusing to write a {depth.shape} frame; expected ({camera.HEIGHT}, {camera.WIDTH})")
    if depth.dtype != np.uint16:
        raise ContractError(f"{path}: depth must be uint16 millimetres, got {depth.dtype}")
    if path.exists():
        raise ContractError(f"{path}: raw depth frames are never rewritten")
    with atomic_file(path, "wb") as fh:
        Image.fromarray(depth).save(fh, format="PNG")


# ----------------------------------------------------------------- annotations


def parse_annotations(records: Any, source: str = "annotations.json") -> list[Annotation]:
    """Validate a list of raw records; the error names the file and the record's id or index."""
    if not isinstance(records, list):
        raise ContractError(f"{source}: expected a JSON list of records, got {type(records).__name__}")
    out: list[Annotation] = []
    seen: set[str] = set()
    for i, rec in enumerate(records):
        label = f"record {i}" + (f" (id {rec.get('id')!r})" if isinstance(rec, dict) and "id" in rec else "")
        if not isinstance(rec, dict):
            raise ContractError(f"{source}: {label}: expected an object, got {type(rec).__name__}")
        try:
            ann = Annotation.model_validate(rec)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
            raise ContractError(f"{source}: {label}: {problems}") from None
        if ann.id in seen:
            raise ContractError(f"{source}: {label}: duplicate id {ann.id!r}")
        seen.add(ann.id)
        out.append(ann)
    return out


def read_annotations(path: str | Path) -> list[Annotation]:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ContractError(f"{path}: annotations file not found") from None
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON ({exc})") from None
    return parse_annotations(records, source=str(path))


def write_annotations(path: str | Path, annotations: list[Annotation]) -> None:
    records = [a.model_dump(mode="json", exclude_none=True) for a in annotations]
    parse_annotations(records, source=str(path))  # never write what we could not read back
    with atomic_file(path, "w") as fh:
        json.dump(records, fh, indent=1)
        fh.write("\n")


# ---------------------------------------------------------------------- cohort


def read_cohort(cohort_dir: str | Path) -> tuple[list[Annotation], pd.DataFrame]:
    """Read and cross-check a cohort directory: every annotated image exists and is a valid frame."""
    cohort_dir = Path(cohort_dir)
    annotations = read_annotations(cohort_dir / ANNOTATIONS)
    for ann in annotations:
        image = cohort_dir / ann.image
        if not image.is_file():
            raise ContractError(f"{cohort_dir / ANNOTATIONS}: record {ann.id!r}: image {ann.image!r} not found")
    cohort_csv = cohort_dir / COHORT
    try:
        cohort = pd.read_csv(cohort_csv)
    except FileNotFoundError:
        raise ContractError(f"{cohort_csv}: cohort table not found") from None
    if "subject_id" not in cohort.columns:
        raise ContractError(f"{cohort_csv}: missing column 'subject_id'")
    return annotations, cohort


def write_cohort_table(path: str | Path, cohort: pd.DataFrame) -> None:
    with atomic_file(path, "w", newline="") as fh:
        cohort.to_csv(fh, index=False)
