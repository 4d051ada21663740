"""Figures of the study (matplotlib, headless): depth frames, landmarks and links, label maps.

Every function returns a Figure; :func:`save` writes it as PNG atomically.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from backsurface.codec import grid  # noqa: E402
from backsurface.core.atomic import atomic_file  # noqa: E402
from backsurface.core.camera import PAPER_BACKGROUND_MM  # noqa: E402
from backsurface.core.landmarks import KEYS, LINKS  # noqa: E402


def save(fig, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    with atomic_file(path, "wb") as fh:
        fig.savefig(fh, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def show_depth(ax, depth_mm: np.ndarray, vmin: float | None = None, vmax: float | None = None, title: str = ""):
    """A depth frame in grey (near = dark), zeros (no reading) in black."""
    d = np.asarray(depth_mm, dtype=float)
    valid = d > 0
    lo = np.percentile(d[valid], 1) if vmin is None and valid.any() else (vmin or 0)
    hi = np.percentile(d[valid], 99) if vmax is None and valid.any() else (vmax or 1)
    img = np.ma.masked_where(~valid, d)
    cmap = plt.get_cmap("gray").with_extremes(bad="black")
    im = ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def show_body(ax, depth_mm: np.ndarray, points: list[np.ndarray] = (), max_mm: float = PAPER_BACKGROUND_MM,
              margin: float = 40):
    """The subject only (pixels beyond ``max_mm`` and zeros in black), zoomed on the given points (raw pixels).

    ``max_mm`` is the frame's background cut: pass the codec's (``codec.cut_mm``, a prediction's ``cut_mm``), or a
    subject found by depth beyond the paper's 1.7 m is drawn black.
    """
    if not (np.isfinite(max_mm) and max_mm > 0):
        raise ValueError(f"show_body: the background cut must be a finite depth > 0 mm, got {max_mm}")
    d = np.asarray(depth_mm, dtype=float)
    valid = (d > 0) & (d <= max_mm)
    lo, hi = np.percentile(d[valid], [2, 98]) if valid.any() else (None, None)
    show_depth(ax, np.where(valid, d, 0), vmin=lo, vmax=hi)
    pts = np.concatenate([np.empty((0, 2))] + [np.asarray(p, dtype=float).reshape(-1, 2) for p in points])
    pts = pts[np.isfinite(pts).all(axis=1)]
    if len(pts):
        (x0, y0), (x1, y1) = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        ax.set_xlim(x0, x1)
        ax.set_ylim(y1, y0)


def draw_landmarks(ax, points: np.ndarray, color: str = "red", labels: bool = True, size: float = 18, lw: float = 1.2):
    """Landmarks (10, 2) and the paper's five links; NaN points are skipped."""
    pts = np.asarray(points, dtype=float)
    for a, b in LINKS:
        if np.isfinite(pts[[a, b]]).all():
            ax.plot(pts[[a, b], 0], pts[[a, b], 1], "-", color=color, lw=lw, alpha=0.9)
    ok = np.isfinite(pts).all(axis=1)
    ax.scatter(pts[ok, 0], pts[ok, 1], s=size, c=color, edgecolors="black", linewidths=0.4, zorder=3)
    if labels:
        for i in np.flatnonzero(ok):
            ax.annotate(KEYS[i], pts[i], xytext=(4, -3), textcoords="offset points", fontsize=6.5, color="yellow")


def landmark_gallery(items: list[tuple[str, np.ndarray, np.ndarray, float]], crop: bool = True):
    """One panel per (title, depth, landmarks, background cut mm): the landmark definitions drawn on the bodies,
    each within its own cut (``preprocess.background_cut_mm``)."""
    fig, axes = plt.subplots(1, len(items), figsize=(3.4 * len(items), 4.6))
    for ax, (title, depth, pts, cut_mm) in zip(np.atleast_1d(axes), items):
        d = np.asarray(depth, dtype=float)
        body = d[(d > 0) & (d <= cut_mm)]
        lo, hi = (np.percentile(body, [1, 99]) if body.size else (None, None))
        show_depth(ax, np.where(d <= cut_mm, d, 0), vmin=lo, vmax=hi, title=title)
        draw_landmarks(ax, pts)
        if crop and np.isfinite(pts).any():
            c = np.nanmean(pts, axis=0)
            ax.set_xlim(c[0] - 110, c[0] + 110)
            ax.set_ylim(np.nanmax(pts[:, 1]) + 60, np.nanmin(pts[:, 1]) - 60)
    fig.tight_layout()
    return fig


def threshold_figure(raw_mm: np.ndarray, denoised_mm: np.ndarray, threshold_mm: float):
    """Paper Figure 2: a raw frame and the same frame after the background threshold, with depth histograms."""
    fig, ax = plt.subplots(2, 2, figsize=(9, 7.5), gridspec_kw={"height_ratios": [3, 1.3]})
    raw = np.asarray(raw_mm, dtype=float)
    den = np.asarray(denoised_mm, dtype=float)
    im = show_depth(ax[0, 0], raw, vmin=500, vmax=3000, title="(a) raw frame")
    fig.colorbar(im, ax=ax[0, 0], fraction=0.04, label="depth (mm)")
    im = show_depth(ax[0, 1], den, title=f"(b) denoised: r > {threshold_mm / 1000:g} m removed")
    fig.colorbar(im, ax=ax[0, 1], fraction=0.04, label="depth (mm)")
    bins = np.linspace(0, 4500, 91)
    ax[1, 0].hist(raw[raw > 0], bins=bins, color="0.4")
    ax[1, 1].hist(den[den > 0], bins=bins, color="tab:blue")
    for a in ax[1]:
        a.axvline(threshold_mm, color="red", ls="--", lw=1)
        a.set_xlabel("depth (mm)")
        a.set_ylabel("pixels")
    fig.tight_layout()
    return fig


def preprocess_figure(raw_mm: np.ndarray, denoised_mm: np.ndarray, image: np.ndarray, points_input: np.ndarray):
    """Raw frame, background removed, and the normalised network input with its landmarks."""
    fig, ax = plt.subplots(1, 3, figsize=(12, 4.2))
    show_depth(ax[0], raw_mm, vmin=500, vmax=3000, title="raw frame (mm)")
    show_depth(ax[1], denoised_mm, title="r > threshold and zeros removed")
    ax[2].imshow(image, cmap="gray", vmin=0, vmax=1)
    draw_landmarks(ax[2], points_input, labels=False, size=10)
    ax[2].set_title(f"network input {image.shape[1]}×{image.shape[0]}, [0, 1] (eq. 1)", fontsize=9)
    ax[2].set_xticks([])
    ax[2].set_yticks([])
    fig.tight_layout()
    return fig


def image_grid(images: list[np.ndarray], points: list[np.ndarray], titles: list[str], cols: int = 5):
    """Network-input images with their landmarks (paper Figure 3: augmentation)."""
    rows = int(np.ceil(len(images) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, pts, title in zip(axes.ravel(), images, points, titles):
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
        draw_landmarks(ax, pts, labels=False, size=8, lw=0.8)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def heatmap_figure(image: np.ndarray, heatmaps: np.ndarray, title: str = ""):
    """Paper Figure 4: the input, each landmark's heatmap, and all of them together."""
    from backsurface.core.landmarks import N_LANDMARKS  # noqa: PLC0415

    size = image.shape[0]
    extent = (-0.5, size - 0.5, size - 0.5, -0.5)
    fig, axes = plt.subplots(2, 6, figsize=(15, 5.6))
    panels = [("input", None)] + [(k, heatmaps[..., i]) for i, k in enumerate(KEYS)]
    panels.append(("all landmarks", heatmaps[..., :N_LANDMARKS].max(axis=-1)))
    for ax, (name, hm) in zip(axes.ravel(), panels):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=extent)
        if hm is not None:
            ax.imshow(hm, cmap="jet", alpha=0.55, vmin=0, vmax=1, extent=extent, interpolation="bilinear")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def affinity_figure(image: np.ndarray, pafs: np.ndarray, title: str = ""):
    """Paper Figure 6: the five landmark affinity fields as arrows over the input."""
    from backsurface.core.landmarks import PAPER_LINKS  # noqa: PLC0415

    size = image.shape[0]
    n = pafs.shape[0]
    stride = size // n
    centres = grid.cell_centres(n, stride)
    gx, gy = np.meshgrid(centres, centres)
    fig, axes = plt.subplots(1, 6, figsize=(16, 3.2))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("input", fontsize=9)
    for c, ax in enumerate(axes[1:]):
        u, v = pafs[..., 2 * c], pafs[..., 2 * c + 1]
        on = np.hypot(u, v) > 0
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.imshow(np.hypot(u, v), cmap="viridis", alpha=0.4, extent=(-0.5, size - 0.5, size - 0.5, -0.5))
        ax.quiver(gx[on], gy[on], u[on], v[on], color="yellow", angles="xy", scale_units="xy", scale=1 / stride,
                  width=0.006)
        ax.set_title(f"link {list(PAPER_LINKS[c])}", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
