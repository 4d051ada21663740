"""Array files between stages: one compressed NPZ per split, written whole or not at all."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from backsurface.core.atomic import atomic_file


class ArrayFileError(ValueError):
    """A stage's array file is missing, unreadable or lacks what the next stage needs."""


def save(path: str | Path, **arrays: np.ndarray) -> Path:
    path = Path(path)
    with atomic_file(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load(path: str | Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Every array of an NPZ file, checked for the ``required`` keys; clear error naming the file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ArrayFileError(f"{path}: not found (run the stage that writes it first)") from None
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ArrayFileError(f"{path}: not a readable NPZ dataset ({exc})") from None
    missing = [k for k in required if k not in data]
    if missing:
        raise ArrayFileError(f"{path}: missing arrays {missing}")
    return data
