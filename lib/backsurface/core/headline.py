"""Headline metrics: the few numbers per stage that ``dvc metrics show`` and ``dvc exp show`` compare.

A stage writes its full summary (configuration, counts, confidence intervals, nested per-landmark values) to
``reports/summaries/<stage>.json``, which the front page and the next stages read, and its headline, which DVC
tracks as metrics, in one or both of two shapes:

* ``reports/metrics/<stage>.json``: one flat set of numbers (a training run, the curve-angle estimate);
* ``reports/metrics/<stage>/<row>.json``: one file per row of the same few keys (a backbone, a cohort, a split
  protocol, a screening threshold).  ``dvc metrics show reports/metrics/<stage>`` prints one line per file, so a
  stage's headline reads as a small table instead of one line of every key of every row.

A headline is flat; each key names its unit (:data:`UNITS`: ``inplane_mm``, ``sdr10mm_pct``, ``auc_10deg``,
``angle_r``, …); each value is a finite number rounded for the table, except a key naming which index a number
belongs to (an ``index`` token, e.g. ``auc_index_10deg``), whose value is that index's name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

from backsurface.core.atomic import atomic_dir, write_json

UNITS = frozenset({"mm", "pct", "deg", "s", "ratio", "share", "r", "auc", "loss"})
"""Underscore-separated tokens that name a unit or a dimensionless kind; a headline key holds at least one."""

ROW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
"""A row's file name (without ``.json``): letters, digits, ``_``, ``.``, ``-``; no leading dot or separator."""

NAMES = "index"
"""A key with this token names the index a number belongs to; its value is a string."""


class HeadlineError(ValueError):
    """A headline that is not flat, names no unit, or holds a value that is not a finite number."""


def headline(values: Mapping[str, object], digits: int = 4) -> dict[str, float | str]:
    """``values`` checked (flat, a unit in every key, finite numbers) and rounded to ``digits`` decimals."""
    out: dict[str, float | str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise HeadlineError(f"headline key {key!r}: not a name")
        if NAMES in key.split("_"):
            if not isinstance(value, str):
                raise HeadlineError(f"headline key {key!r}: names an index, so its value is a name, got {value!r}")
            out[key] = value
            continue
        if not UNITS & set(key.split("_")):
            raise HeadlineError(f"headline key {key!r}: names no unit (one of {', '.join(sorted(UNITS))})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise HeadlineError(f"headline key {key!r}: {value!r} is not a finite number")
        out[key] = round(float(value), digits)
    return out


def write(reports_dir: str | Path, stage: str, summary: Mapping, values: Mapping[str, object] | None,
          rows: Mapping[str, Mapping[str, object]] | None = None) -> Path:
    """Write ``summary`` to ``summaries/<stage>.json``, the headline ``values`` (when given) to
    ``metrics/<stage>.json`` and each of ``rows`` (when given) to ``metrics/<stage>/<row>.json``, that folder whole
    (a row of an earlier run that is not in ``rows`` is gone).  Every headline is checked first: nothing is written
    for a bad one.  Returns the summary's path."""
    checked = None if values is None else headline(values)
    checked_rows = None if rows is None else {_row_name(name): headline(row) for name, row in rows.items()}
    if checked_rows is not None and not checked_rows:
        raise HeadlineError(f"headline of {stage}: no rows")
    path = write_json(Path(reports_dir) / "summaries" / f"{stage}.json", summary)
    if checked is not None:
        write_json(Path(reports_dir) / "metrics" / f"{stage}.json", checked)
    if checked_rows is not None:
        with atomic_dir(Path(reports_dir) / "metrics" / stage) as tmp:
            for name, row in checked_rows.items():
                write_json(tmp / f"{name}.json", row)
    return path


def _row_name(name: object) -> str:
    if not isinstance(name, str) or not ROW_NAME.fullmatch(name):
        raise HeadlineError(f"headline row {name!r}: not a file name (letters, digits, _ . -)")
    return name
