"""The raw-cohort data contract: depth PNGs, ``annotations.json`` and ``cohort.csv``.

Layout of a cohort directory (DESIGN.md, "Data contract")::

    depth/<id>.png      16-bit PNG, depth in mm, 512x424, 0 = no reading
    annotations.json    list of records in the paper's format plus extension fields
    cohort.csv          one row per subject

Every reader validates what it reads and raises :class:`ContractError` naming
the file (and the record) at fault, in one line.  Writers never modify existing raw frames.

Ids (record ids and subject ids) are strings that are safe file names, by one rule
(:func:`id_problem`), checked on read and on write: 1 to 100 ASCII letters, digits, ``.``, ``_`` or ``-``,
starting with a letter or a digit, and not a name Windows reserves (``CON``, ``NUL``, ``COM1``, ...).
Every frame path of a cohort resolves inside the cohort directory: relative, without ``..``, and through no
symbolic link (neither the frame nor a folder such as ``depth/``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import stat
import struct
from pathlib import Path, PurePosixPath
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


# ------------------------------------------------------------------------- ids

MAX_ID_LENGTH = 100
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                               *(f"LPT{i}" for i in range(10))})
ID_RULE = (f"1 to {MAX_ID_LENGTH} ASCII letters, digits, '.', '_' or '-', starting with a letter or a digit "
           f"(the id is a file name)")


def id_problem(value: Any) -> str | None:
    """Why ``value`` is not a safe id (record or subject id, a file name), or None when it is one."""
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__} {value!r}"
    if not value:
        return "must not be empty"
    if len(value) > MAX_ID_LENGTH or not _ID.fullmatch(value):
        return f"{_short(value)} is not a safe name: {ID_RULE}"
    if value.split(".")[0].upper() in _WINDOWS_RESERVED:
        return f"{value!r} is a device name on Windows, not a file name"
    return None


def check_id(value: Any, what: str = "id") -> str:
    """``value`` if it is a safe id, else :class:`ContractError` saying ``what`` is wrong and why."""
    problem = id_problem(value)
    if problem:
        raise ContractError(f"{what}: {problem}")
    return value


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"




class Annotation(BaseModel):
    """One frame's annotation record (the paper's JSON plus extension fields)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    id: str
    image: str = Field(min_length=1)
    width: int = camera.WIDTH
    height: int = camera.HEIGHT
    landmarks: list[float] = Field(min_length=2 * N_LANDMARKS, max_length=2 * N_LANDMARKS)
    links: list[list[int]] = Field(default_factory=lambda: [list(p) for p in PAPER_LINKS])
    landmarks_mm: list[list[float]] | None = None
    subject: dict[str, Any] = Field(default_factory=dict)
    source: Literal["synthetic", "kinect", "import"] = "import"

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v):
        problem = id_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("subject")
    @classmethod
    def _safe_subject_id(cls, v):
        if "subject_id" in v:
            problem = id_problem(v["subject_id"])
            if problem:
                raise ValueError(f"subject_id {problem}")
        return v

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

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {0: "greyscale", 2: "RGB", 3: "palette", 4: "greyscale+alpha", 6: "RGBA"}


def _open_regular(path: Path, what: str):
    """``path`` opened for binary reading if it is a regular file; one clear error otherwise."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ContractError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ContractError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ContractError(f"{path}: is a directory, not the {what}")
    if not stat.S_ISREG(st.st_mode):
        raise ContractError(f"{path}: not a regular file (a device, socket or pipe), not the {what}")
    try:
        return open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise ContractError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None


def check_png_header(head: bytes, source: str | Path) -> None:
    """The PNG signature and IHDR of a depth frame: 512x424, 16-bit greyscale, checked before any decoding
    (a header claiming a huge picture is refused here, never decompressed)."""
    if len(head) < 33 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ContractError(f"{source}: not a PNG file (no PNG signature and header); depth frames are 16-bit PNGs")
    width, height, bit_depth, colour = struct.unpack(">IIBB", head[16:26])
    if (bit_depth, colour) != (16, 0):
        raise ContractError(f"{source}: depth must be a single-channel 16-bit PNG, got a {bit_depth}-bit "
                            f"{_COLOUR_TYPES.get(colour, f'colour type {colour}')} PNG")
    if (width, height) != (camera.WIDTH, camera.HEIGHT):
        raise ContractError(f"{source}: depth frame must be {camera.WIDTH}x{camera.HEIGHT}, got {width}x{height}")


def read_depth(path: str | Path) -> np.ndarray:
    """Read a 16-bit depth PNG as ``uint16 (424, 512)`` millimetres; clear error otherwise.

    The PNG header is checked first (signature, size, bit depth), so neither another format renamed
    ``.png`` nor a decompression bomb is ever decoded."""
    path = Path(path)
    with _open_regular(path, "depth frame") as fh:
        check_png_header(fh.read(33), path)
        fh.seek(0)
        try:
            with Image.open(fh, formats=["PNG"]) as im:
                im.load()
                arr = np.asarray(im)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
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
    if path.exists() or path.is_symlink():
        raise ContractError(f"{path}: raw depth frames are never rewritten")
    with atomic_file(path, "wb") as fh:
        Image.fromarray(depth).save(fh, format="PNG")


# ----------------------------------------------------------------- annotations


class _Object(dict):
    """A JSON object as read, with the keys that appeared more than once in it."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.duplicates = tuple(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _json_problem(value: Any, where: str) -> str | None:
    """The first non-finite number (a non-standard ``NaN``/``Infinity``) or repeated key inside ``value``."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where or 'record'}: must be a finite number, got {value!r} (NaN and infinities are not JSON numbers)"
    if isinstance(value, dict):
        dup = getattr(value, "duplicates", ())
        if dup:
            return f"{where + ': ' if where else ''}key {dup[0]!r} appears more than once"
        for k, v in value.items():
            found = _json_problem(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    elif isinstance(value, list):
        for n, v in enumerate(value):
            found = _json_problem(v, f"{where}.{n}" if where else str(n))
            if found:
                return found
    return None


def _error_line(e: dict) -> str:
    where = ".".join(map(str, e["loc"])) or "record"
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "finite_number":
        msg = "must be a finite number"
    if e["type"].endswith("_type") or e["type"] in ("finite_number", "literal_error"):
        msg += f", got {_short(e.get('input'))}"
    return f"{where}: {msg}"


def parse_annotations(records: Any, source: str = "annotations.json") -> list[Annotation]:
    """Validate a list of raw records; the error names the file and the record's id or index."""
    if not isinstance(records, list):
        raise ContractError(f"{source}: expected a JSON list of records, got {type(records).__name__}")
    out: list[Annotation] = []
    seen: dict[str, str] = {}  # id.lower() → id: ids that differ only in case share a file on Windows/macOS
    images: dict[str, str] = {}
    for i, rec in enumerate(records):
        label = f"record {i}" + (f" (id {_short(rec.get('id'))})" if isinstance(rec, dict) and "id" in rec else "")
        if not isinstance(rec, dict):
            raise ContractError(f"{source}: {label}: expected an object, got {type(rec).__name__}")
        problem = _json_problem(rec, "")
        if problem:
            raise ContractError(f"{source}: {label}: {problem}")
        try:
            ann = Annotation.model_validate(dict(rec))
        except ValidationError as exc:
            problems = "; ".join(_error_line(e) for e in exc.errors())
            raise ContractError(f"{source}: {label}: {problems}") from None
        other = seen.get(ann.id.lower())
        if other == ann.id:
            raise ContractError(f"{source}: {label}: duplicate id {ann.id!r}")
        if other is not None:
            raise ContractError(f"{source}: {label}: ids {other!r} and {ann.id!r} differ only in case "
                                f"(one file name on Windows and macOS)")
        seen[ann.id.lower()] = ann.id
        image = os.path.normpath(ann.image)
        if image in images:
            raise ContractError(f"{source}: {label}: image {ann.image!r} is already the image of record "
                                f"{images[image]!r}; each record has its own frame")
        images[image] = ann.id
        out.append(ann)
    return out


def _read_text(path: Path, what: str, encoding: str = "utf-8") -> str:
    with _open_regular(path, what) as fh:
        try:
            data = fh.read()
        except OSError as exc:
            raise ContractError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not UTF-8 text (byte {exc.start}); the {what} is a UTF-8 file") from None


def read_annotations(path: str | Path) -> list[Annotation]:
    path = Path(path)
    text = _read_text(path, "annotations file")
    try:
        records = json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise ContractError(f"{path}: not valid JSON (nested too deeply)") from None
    return parse_annotations(records, source=str(path))


def write_annotations(path: str | Path, annotations: list[Annotation]) -> None:
    records = [a.model_dump(mode="json", exclude_none=True) for a in annotations]
    parse_annotations(records, source=str(path))  # never write what we could not read back
    with atomic_file(path, "w") as fh:
        json.dump(records, fh, indent=1)
        fh.write("\n")


# ---------------------------------------------------------------------- cohort


def frame_path(cohort_dir: str | Path, image: str, source: str = "annotations.json") -> Path:
    """Where a record's ``image`` lies: inside ``cohort_dir``, reached through no symbolic link, a regular file.

    ``source`` (the record, e.g. "annotations.json: record 'S001'") starts the message of every refusal."""
    cohort_dir = Path(cohort_dir)
    rel = PurePosixPath(image)
    if not image or "\\" in image or rel.is_absolute() or re.match(r"[A-Za-z]:", image):
        raise ContractError(f"{source}: image {_short(image)} must be a relative path inside the cohort "
                            f"directory, with '/' between folders")
    if ".." in rel.parts:
        raise ContractError(f"{source}: image {_short(image)} must not leave the cohort directory ('..')")
    here = cohort_dir
    for part in rel.parts:
        here = here / part
        if here.is_symlink():
            raise ContractError(f"{source}: image {_short(image)}: {here} is a symbolic link; a cohort holds "
                                f"its frames itself")
    root = cohort_dir.resolve()
    if not here.resolve().is_relative_to(root):
        raise ContractError(f"{source}: image {_short(image)} resolves outside the cohort directory {root}")
    if not here.exists():
        raise ContractError(f"{source}: image {image!r} not found")
    if not here.is_file():
        raise ContractError(f"{source}: image {image!r} is not a regular file")
    return here


def _csv_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a CSV text as the csv module reads them (blank lines skipped, as pandas does)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows = [r for r in reader if r]
    return (rows[0], rows[1:]) if rows else ([], [])


def read_cohort_table(path: str | Path) -> pd.DataFrame:
    """``cohort.csv``: one row per subject, ``subject_id`` read as the string it is ("001" stays "001")."""
    path = Path(path)
    text = _read_text(path, "cohort table", encoding="utf-8-sig")  # a byte-order mark is fine, as in pandas
    if not text.strip():
        raise ContractError(f"{path}: the cohort table is empty (expected a header row with subject_id)")
    try:
        header, rows = _csv_rows(text)
    except csv.Error as exc:
        raise ContractError(f"{path}: not a readable CSV table ({exc})") from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ContractError(f"{path}: column {repeated[0]!r} appears more than once in the header")
    if "subject_id" not in header:
        raise ContractError(f"{path}: missing column 'subject_id'")
    if not rows:
        raise ContractError(f"{path}: the cohort table has a header but no subject rows")
    for n, r in enumerate(rows):
        if len(r) != len(header):
            raise ContractError(f"{path}: row {n + 1} has {len(r)} fields, the header has {len(header)}")
    col = header.index("subject_id")
    seen: dict[str, tuple[str, int]] = {}  # case-folded id → (id as written, row), as record ids are compared
    for n, r in enumerate(rows):
        sid = r[col]
        problem = id_problem(sid)
        if problem:
            raise ContractError(f"{path}: row {n + 1}: subject_id {problem}")
        if sid.casefold() in seen:
            first, row = seen[sid.casefold()]
            if first == sid:
                raise ContractError(f"{path}: subject_id {sid!r} appears in rows {row} and {n + 1}; one row per "
                                    f"subject")
            raise ContractError(f"{path}: subject_ids {first!r} (row {row}) and {sid!r} (row {n + 1}) differ only in "
                                f"case; one row per subject, and ids name files on case-insensitive disks too")
        seen[sid.casefold()] = (sid, n + 1)
    try:
        cohort = pd.read_csv(io.StringIO(text), dtype={"subject_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ContractError(f"{path}: not a readable CSV table ({' '.join(str(exc).split())})") from None
    if len(cohort) != len(rows):
        raise ContractError(f"{path}: {len(cohort)} rows parsed, {len(rows)} expected")
    cohort["subject_id"] = [r[col] for r in rows]  # exactly as written: no "NA"/"null" read as missing
    return cohort


def read_cohort(cohort_dir: str | Path) -> tuple[list[Annotation], pd.DataFrame]:
    """Read and cross-check a cohort directory: every annotated image lies inside it and exists, every record's
    subject has one row in ``cohort.csv``."""
    cohort_dir = Path(cohort_dir)
    if not cohort_dir.is_dir():
        raise ContractError(f"{cohort_dir}: cohort directory not found" if not cohort_dir.exists()
                            else f"{cohort_dir}: not a directory (a cohort is a directory)")
    ann_path = cohort_dir / ANNOTATIONS
    annotations = read_annotations(ann_path)
    frames: dict[Path, str] = {}
    for ann in annotations:
        image = frame_path(cohort_dir, ann.image, f"{ann_path}: record {ann.id!r}").resolve()
        if image in frames:
            raise ContractError(f"{ann_path}: record {ann.id!r}: image {ann.image!r} is the frame of record "
                                f"{frames[image]!r} too; each record has its own frame")
        frames[image] = ann.id
    cohort_csv = cohort_dir / COHORT
    cohort = read_cohort_table(cohort_csv)
    subjects = set(cohort["subject_id"])
    for ann in annotations:
        sid = ann.subject.get("subject_id", ann.id)
        if sid not in subjects:
            raise ContractError(f"{cohort_csv}: no row for subject {sid!r} of record {ann.id!r}")
    return annotations, cohort


def write_cohort_table(path: str | Path, cohort: pd.DataFrame) -> None:
    if "subject_id" not in cohort.columns:
        raise ContractError(f"{path}: the cohort table needs a subject_id column")
    ids = []
    for n, v in enumerate(cohort["subject_id"]):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            raise ContractError(f"{path}: row {n + 1}: subject_id is missing")
        ids.append(check_id(str(v), f"{path}: row {n + 1}: subject_id"))
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ContractError(f"{path}: subject_id {dup!r} appears more than once; one row per subject")
    with atomic_file(path, "w", newline="") as fh:
        cohort.to_csv(fh, index=False)
