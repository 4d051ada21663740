"""Write outputs whole or not at all: temporary name, then an atomic rename.

Outputs get the modes a plain ``open(path, "w")`` or ``mkdir`` would give them (0666 / 0777 less the umask),
not the private 0600 / 0700 of the temporary names.

:func:`atomic_files` writes a set of outputs (a command's JSON and its pictures) under temporary names and
renames them into place together, the last one last; :func:`check_outputs` refuses, before any work starts, an
output that is one of the inputs, that two outputs share, or that cannot be written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path


class OutputError(ValueError):
    """An output path that must not or cannot be written; the message names it."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``path``; on success rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it replaces ``path``.

    If the block raises, ``path`` is left exactly as it was (absent or old).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists() or path.is_symlink():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_files(paths: Sequence[str | Path]) -> Iterator[list[Path]]:
    """A temporary name beside each of ``paths`` (hidden ``.NAME.*.tmp`` in the target's folder) to write to.

    When the block succeeds the temporaries are renamed into place in the order given, so the *last* path is the
    set's commit mark: once it is new, every other one is new.  If the block raises, no target changes and the
    temporaries are removed; a process killed (``kill -9``) before the renames leaves every target as it was
    (and its hidden temporaries behind)."""
    paths = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            os.close(fd)
            tmps.append(Path(tmp))
        yield tmps
        mode = 0o666 & ~_umask()
        for tmp in tmps:
            os.chmod(tmp, mode)
    except BaseException:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    for tmp, p in zip(tmps, paths):
        os.replace(tmp, p)


MAX_NAME_BYTES = 255 - len(".") - len(".12345678.tmp")  # the longest name whose temporary name still fits


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file: the same resolved path, or (both existing) the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_writable(folder: Path, label: str) -> None:
    """The nearest existing ancestor of ``folder`` is a directory we can create files in (probed, then removed)."""
    here = Path(os.path.abspath(folder))
    while not here.exists() and here != here.parent:
        if here.is_symlink():
            raise OutputError(f"{label}: {here} is a dangling symbolic link")
        here = here.parent
    if not here.is_dir():
        raise OutputError(f"{label}: {here} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=here)
    except OSError as exc:
        raise OutputError(f"{label}: cannot write in {here} ({exc.strerror or type(exc).__name__})") from None
    os.close(fd)
    os.unlink(probe)


def check_outputs(outputs: Iterable[tuple[str, str | Path, str]], inputs: Iterable[str | Path]) -> None:
    """Refuse, before any work, outputs that would overwrite an input or each other, or cannot be written.

    ``outputs``: ``(label, path, kind)`` with kind ``"file"`` or ``"dir"`` (a directory written whole, which must
    then hold no input either); ``inputs``: the paths the command reads.  Paths are compared resolved (symbolic
    links followed) and, for existing files, by inode (hard links)."""
    inputs = [Path(i) for i in inputs]
    seen: list[tuple[str, Path]] = []
    for label, path, kind in outputs:
        path = Path(path)
        if not str(path).strip():
            raise OutputError(f"{label}: empty path")
        for inp in inputs:
            if same_file(path, inp):
                raise OutputError(f"{label} {path}: is the input {inp}; inputs are never overwritten")
            if kind == "dir" and Path(os.path.realpath(inp)).is_relative_to(os.path.realpath(path)):
                raise OutputError(f"{label} {path}: the directory would replace the input {inp} it holds")
        for other_label, other in seen:
            if same_file(path, other):
                raise OutputError(f"{label} {path}: {other_label} is the same file; each output needs its own path")
        if len(os.fsencode(path.name)) > MAX_NAME_BYTES:
            raise OutputError(f"{label} {path}: file name longer than {MAX_NAME_BYTES} bytes")
        if kind == "file" and path.is_dir():
            raise OutputError(f"{label} {path}: is a directory; give a file name")
        if kind == "dir" and path.exists() and not path.is_dir():
            raise OutputError(f"{label} {path}: exists and is not a directory")
        _check_writable(path.parent, f"{label} {path}")
        seen.append((label, path))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all."""
    with atomic_file(path, encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)


def write_json(path: str | Path, obj) -> Path:
    """Write ``obj`` as indented JSON to ``path`` whole or not at all (the layout of every metrics file)."""
    with atomic_file(path, encoding="utf-8") as fh:
        json.dump(obj, fh, indent=1)
    return Path(path)
