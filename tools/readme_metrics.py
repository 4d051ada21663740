"""The README's ``dvc metrics show`` block, regenerated from the committed ``reports/metrics`` (or checked).

    python tools/readme_metrics.py           # rewrite the block's outputs in README.md
    python tools/readme_metrics.py --check   # exit 1, naming the first stale command, if the block is out of date

The block is the README's ``console`` code block that follows the line ``<!-- dvc metrics: tools/readme_metrics.py
-->``; each ``$ dvc metrics show PATH...`` line in it is run (a ``*`` in a path expanded as a shell would, sorted)
and the lines up to the next command are its output, so the README never shows numbers typed in by hand or left
from an earlier run.  ``tests/test_readme_metrics.py`` runs the check.
"""

from __future__ import annotations

import argparse
import glob
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- dvc metrics: tools/readme_metrics.py -->"
PROMPT = "$ "


class ReadmeError(ValueError):
    """A README without the marked block, or a block whose commands are not ``dvc metrics show``."""


def block_bounds(lines: list[str]) -> tuple[int, int]:
    """Indices of the first and last line inside the marked ``console`` block (the fences excluded)."""
    try:
        start = lines.index(MARKER)
    except ValueError:
        raise ReadmeError(f"README.md: no line {MARKER!r} before the metrics block") from None
    if start + 1 >= len(lines) or lines[start + 1].strip() != "```console":
        raise ReadmeError(f"README.md line {start + 2}: expected a ```console block after {MARKER!r}")
    for end in range(start + 2, len(lines)):
        if lines[end].strip() == "```":
            return start + 2, end - 1
    raise ReadmeError(f"README.md line {start + 2}: the metrics block is never closed")


def commands(block: list[str]) -> list[str]:
    found = [line[len(PROMPT):] for line in block if line.startswith(PROMPT)]
    for c in found:
        if not c.startswith("dvc metrics show "):
            raise ReadmeError(f"README.md metrics block: {c!r} is not a `dvc metrics show` command")
    return found


def run(command: str, root: Path = ROOT) -> list[str]:
    """The output lines of one ``dvc metrics show`` command, run in ``root`` with its globs expanded."""
    args = [sys.executable, "-m"]  # this interpreter's dvc, whatever PATH holds
    for word in shlex.split(command):
        matches = sorted(glob.glob(word, root_dir=root)) if "*" in word else []
        args.extend(matches or [word])
    out = subprocess.run(args, cwd=root, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise ReadmeError(f"`{command}` failed ({out.returncode}): {' '.join(out.stderr.split())}")
    lines = [line.rstrip() for line in out.stdout.rstrip("\n").splitlines()]
    rows = [line.split() for line in lines[1:]]
    if not rows or any(len(r) < 2 for r in rows) or "failed to load" in out.stderr:  # never write an empty table
        raise ReadmeError(f"`{command}` in {root}: no metrics found ({' '.join(out.stderr.split()) or 'no rows'})")
    return lines


def render(outputs: dict[str, list[str]]) -> list[str]:
    """The block's lines: each command after the prompt, its output, a blank line between commands."""
    new: list[str] = []
    for i, (c, out) in enumerate(outputs.items()):
        if i:
            new.append("")
        new += [PROMPT + c, *out]
    return new


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only say whether the block is up to date (exit 1 if not)")
    ap.add_argument("--readme", default=str(ROOT / "README.md"))
    ap.add_argument("--root", default=str(ROOT), help="the DVC project whose metrics are shown")
    args = ap.parse_args(argv)
    path, root = Path(args.readme), Path(args.root)
    try:
        lines = path.read_text().split("\n")
        first, last = block_bounds(lines)
        block = lines[first:last + 1]
        outputs = {c: run(c, root) for c in commands(block)}  # each command run once
    except (ReadmeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    new = render(outputs)
    if args.check:
        if new == block:
            print(f"{path}: the metrics block matches reports/metrics")
            return 0
        stale = next((c for c, out in outputs.items() if out != _output_of(block, c)), "the layout")
        print(f"{path}: the metrics block is out of date (first: `{stale}`); run python tools/readme_metrics.py",
              file=sys.stderr)
        return 1
    text = "\n".join(lines[:first] + new + lines[last + 1:])
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)
    print(f"{path}: {len(commands(block))} commands' outputs rewritten")
    return 0


def _output_of(block: list[str], command: str) -> list[str]:
    i = block.index(PROMPT + command) + 1
    out = []
    while i < len(block) and not block[i].startswith(PROMPT):
        out.append(block[i])
        i += 1
    while out and not out[-1]:
        out.pop()
    return out


if __name__ == "__main__":
    sys.exit(main())
