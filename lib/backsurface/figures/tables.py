"""Tables a reviewer reads: Markdown (and CSV beside it), written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from backsurface.core.atomic import atomic_file, write_text


def write_table(table: pd.DataFrame, path: str | Path, floatfmt: str = ".1f", caption: str = "",
                index: bool = False, csv: bool = False) -> str:
    """Write ``table`` as Markdown to ``path`` (``caption`` above it) and, with ``csv``, as ``<stem>.csv`` beside
    it (two decimals); return the Markdown table for display."""
    path = Path(path)
    md = table.to_markdown(index=index, floatfmt=floatfmt)
    write_text(path, (f"{caption}\n\n" if caption else "") + md + "\n")
    if csv:
        with atomic_file(path.with_suffix(".csv")) as fh:
            table.to_csv(fh, index=index, float_format="%.2f")
    return md
