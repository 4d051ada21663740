"""A one-page report for one subject, as PDF or self-contained HTML (the ``report`` command, the clinical stage).

The page shows the depth frame with the predicted landmarks and the spine line, the curve-angle estimate with
its uncertainty, every index against its healthy reference range with a flag, the screening calls, the model
and weights used, and that this is a research tool, not a diagnosis.
"""

from __future__ import annotations

import base64
import html
import io
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from backsurface.clinical.subject import SubjectResult  # noqa: E402
from backsurface.core.atomic import atomic_file  # noqa: E402
from backsurface.figures.common import draw_landmarks, show_body  # noqa: E402

DISCLAIMER = ("Research tool, not a diagnosis: the estimate comes from a depth image of the back surface and a "
              "model validated on synthetic subjects only; a curve must be confirmed by a clinician and, where "
              "indicated, a radiograph.")
FORMATS = (".pdf", ".html")


def _fmt(v: float, digits: int = 1) -> str:
    return f"{v:.{digits}f}" if np.isfinite(v) else "n/a"


def angle_lines(result: SubjectResult) -> list[str]:
    lines = []
    for r in result.angles.itertuples():
        if not r.convex:
            lines.append(f"{r.curve}: no curve found")
            continue
        lines.append(f"{r.curve}: {_fmt(r.angle_deg)}° ± {_fmt(r.plus_minus_deg)}° (95%), convex to the {r.convex}, "
                     f"apex at {100 * r.apex_share:.0f}% of C7→natal cleft")
    if np.isfinite(result.major_deg):
        lines.append(f"major curve ({result.major_method}): {_fmt(result.major_deg)}° ± "
                     f"{_fmt(result.major_plus_minus_deg)}° (95%)")
    for r in result.calls.itertuples():
        lines.append(f"screen {r.screen}: {r.call or 'n/a'} (estimate {_fmt(r.estimate_deg)}°, "
                     f"cut-off {_fmt(r.cutoff_deg)}°)")
    return lines


def _picture(ax, depth, points_px, result: SubjectResult, title: str):
    show_body(ax, depth, [points_px], max_mm=result.cut_mm, margin=45)
    draw_landmarks(ax, points_px, color="yellow", labels=True, size=16)
    if result.spine is not None:
        ax.plot(result.spine[1], result.spine[0], "-", color="cyan", lw=1.6, label="spine line")
        ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title, fontsize=9)


def report_figure(title: str, depth: np.ndarray, points_px: np.ndarray, result: SubjectResult, model_line: str):
    """The page as a Matplotlib figure (A4 landscape)."""
    fig = plt.figure(figsize=(11.69, 8.27))
    fig.suptitle(title, fontsize=12, x=0.02, ha="left")
    _picture(fig.add_axes([0.02, 0.17, 0.34, 0.74]), depth, points_px, result, "depth frame, predicted landmarks")
    text = fig.add_axes([0.40, 0.70, 0.58, 0.22])
    text.axis("off")
    text.text(0, 1, "Curve-angle estimate (spine line, calibrated; major curve from the surface signs)\n"
              + "\n".join(angle_lines(result)), va="top",
              fontsize=9, family="monospace")
    tab = fig.add_axes([0.40, 0.17, 0.58, 0.52])
    tab.axis("off")
    rows = [[r.index, f"{_fmt(r.value, 2)} {r.unit}".strip(), f"{_fmt(r.low, 2)} … {_fmt(r.high, 2)}", r.flag]
            for r in result.indices.itertuples()]
    t = tab.table(cellText=rows, colLabels=["index", "value", "healthy 95% range", "flag"], loc="upper center",
                  cellLoc="left", colWidths=[0.42, 0.18, 0.26, 0.14])
    t.auto_set_font_size(False)
    t.set_fontsize(7.5)
    t.scale(1, 1.15)
    for n, row in enumerate(rows, start=1):
        if row[3] == "outside":
            for c in range(4):
                t[n, c].set_facecolor("#ffd9d9")
    foot = "\n".join([*textwrap.wrap(model_line, 150), *(textwrap.wrap(f"not computed: {result.reasons}", 150)
                                                           if result.reasons else []), *textwrap.wrap(DISCLAIMER, 150)])
    fig.text(0.02, 0.02, foot, fontsize=7.5, va="bottom")
    return fig


def _html(title: str, depth, points_px, result: SubjectResult, model_line: str) -> str:
    fig = plt.figure(figsize=(4.2, 5.2))
    _picture(fig.add_axes([0.02, 0.02, 0.96, 0.9]), depth, points_px, result, "depth frame, predicted landmarks")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    img = base64.b64encode(buf.getvalue()).decode("ascii")
    e = html.escape
    rows = "\n".join(
        f"<tr class='{e(r.flag)}'><td>{e(r.index)}</td><td>{e(_fmt(r.value, 2))} {e(r.unit)}</td>"
        f"<td>{e(_fmt(r.low, 2))} … {e(_fmt(r.high, 2))}</td><td>{e(r.flag)}</td></tr>"
        for r in result.indices.itertuples())
    angles = "".join(f"<li>{e(line)}</li>" for line in angle_lines(result))
    reasons = f"<p>Not computed: {e(result.reasons)}</p>" if result.reasons else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto}} img{{float:left;margin-right:1.5em}}
table{{border-collapse:collapse;font-size:0.85em}} td,th{{border:1px solid #ccc;padding:2px 6px}}
tr.outside{{background:#ffd9d9}} .foot{{clear:both;font-size:0.8em;color:#444;padding-top:1em}}</style></head>
<body><h1>{e(title)}</h1>
<img alt="depth frame with the predicted landmarks and the spine line" src="data:image/png;base64,{img}">
<h2>Curve-angle estimate (spine line, calibrated; major curve from the surface signs)</h2><ul>{angles}</ul>
<h2>Indices against the healthy reference range</h2>
<table><tr><th>index</th><th>value</th><th>healthy 95% range</th><th>flag</th></tr>
{rows}
</table>{reasons}
<p class="foot">{e(model_line)}<br><strong>{e(DISCLAIMER)}</strong></p>
</body></html>
"""


def write_report(path: str | Path, title: str, depth: np.ndarray, points_px: np.ndarray, result: SubjectResult,
                 model_line: str, suffix: str | None = None) -> Path:
    """Write the page to ``path`` (``.pdf`` or ``.html``, by its suffix or ``suffix``), whole or not at all."""
    path = Path(path)
    suffix = (suffix or path.suffix).lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: a report is written as {' or '.join(FORMATS)}")
    if suffix == ".html":
        with atomic_file(path, encoding="utf-8") as fh:
            fh.write(_html(title, depth, points_px, result, model_line))
        return path
    fig = report_figure(title, depth, points_px, result, model_line)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="pdf")
    plt.close(fig)
    return path
