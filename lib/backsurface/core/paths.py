"""Project paths that hold wherever a notebook's kernel starts (papermill: caller's cwd; nbval: notebook dir)."""

from __future__ import annotations

from pathlib import Path

_MARKERS = ("dvc.yaml", "pyproject.toml")


def project_root(start: str | Path | None = None) -> Path:
    """The nearest ancestor of ``start`` (default: cwd) holding ``dvc.yaml`` and ``pyproject.toml``."""
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if all((d / m).exists() for m in _MARKERS):
            return d
    raise FileNotFoundError(f"no project root (a folder with {' and '.join(_MARKERS)}) above {here}")


def resolve(path: str | Path, root: Path | None = None) -> Path:
    """A path relative to the project root (absolute paths pass through)."""
    p = Path(path)
    return p if p.is_absolute() else (root or project_root()) / p
