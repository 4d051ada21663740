"""The ten back-surface landmarks, their links and left/right identities.

Order, names and links follow the paper (Sec. 7-1): landmarks are 1..10 in the
annotation's flat ``[x1, y1, ..., x10, y10]`` list and links are 1-based pairs.
Inside the library landmarks are 0-based indices into :data:`KEYS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Landmark:
    key: str
    name: str
    paper_column: str


LANDMARKS: tuple[Landmark, ...] = (
    Landmark("VP", "vertebra prominens (C7 spinous process)", "VP"),
    Landmark("NC", "natal cleft, top of the intergluteal furrow", "IF"),
    Landmark("LSH", "left shoulder (acromion)", "LSH"),
    Landmark("RSH", "right shoulder (acromion)", "RSH"),
    Landmark("LS", "left scapula, inferior angle", "LS"),
    Landmark("RS", "right scapula, inferior angle", "RS"),
    Landmark("LW", "left waist, deepest point of the waist contour", "LW"),
    Landmark("RW", "right waist, deepest point of the waist contour", "RW"),
    Landmark("LPSIS", "left posterior superior iliac spine (lumbar dimple)", "LPSIS"),
    Landmark("RPSIS", "right posterior superior iliac spine (lumbar dimple)", "RPSIS"),
)

KEYS: tuple[str, ...] = tuple(lm.key for lm in LANDMARKS)
N_LANDMARKS = len(LANDMARKS)
PAPER_COLUMNS: tuple[str, ...] = tuple(lm.paper_column for lm in LANDMARKS)

#: Links as in the paper's JSON, 1-based.
PAPER_LINKS: tuple[tuple[int, int], ...] = ((9, 10), (7, 8), (5, 6), (3, 4), (1, 2))
#: The same links, 0-based, as an int array of shape (5, 2).
LINKS = np.asarray(PAPER_LINKS, dtype=int) - 1
N_LINKS = len(PAPER_LINKS)

#: Left/right pairs (0-based); the midline landmarks VP and NC map to themselves.
_PAIRS = ((2, 3), (4, 5), (6, 7), (8, 9))


def _flip_permutation() -> np.ndarray:
    perm = np.arange(N_LANDMARKS)
    for left, right in _PAIRS:
        perm[left], perm[right] = right, left
    return perm


#: ``points[FLIP_PERMUTATION]`` swaps left and right identities (after a mirror image).
FLIP_PERMUTATION = _flip_permutation()

#: Indices of the subject's left and right members of each bilateral pair.
LEFT = np.array([p[0] for p in _PAIRS])
RIGHT = np.array([p[1] for p in _PAIRS])


def index(key: str) -> int:
    """0-based index of a landmark key such as ``"LSH"``; raises KeyError naming the key."""
    try:
        return KEYS.index(key)
    except ValueError:
        raise KeyError(f"unknown landmark key {key!r}; known keys: {', '.join(KEYS)}") from None
