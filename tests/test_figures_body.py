"""The body figures show the subject within its frame's background cut, not the paper's fixed 1.7 m."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from backsurface.figures.common import show_body  # noqa: E402
from backsurface.figures.evaluation import prediction_overlays  # noqa: E402


def _frame(subject_mm: float, wall_mm: float = 3000.0) -> tuple[np.ndarray, np.ndarray]:
    d = np.full((60, 80), wall_mm)
    body = np.zeros_like(d, dtype=bool)
    body[10:50, 30:50] = True
    d[body] = subject_mm + np.linspace(0, 50, body.sum())  # a little relief
    return d, body


def _shown(ax) -> np.ma.MaskedArray:
    return ax.images[0].get_array()


def test_a_subject_at_1_9_m_is_drawn_within_its_cut_and_the_wall_is_not():
    d, body = _frame(1900.0)
    fig, ax = plt.subplots()
    show_body(ax, d, max_mm=1900.0 + 700.0)
    shown = _shown(ax)
    assert not np.ma.getmaskarray(shown)[body].any()  # every body pixel drawn
    assert np.ma.getmaskarray(shown)[~body].all()  # the wall in black
    plt.close(fig)


def test_the_paper_cut_would_draw_that_subject_black():
    d, body = _frame(1900.0)
    fig, ax = plt.subplots()
    show_body(ax, d)  # the default: the paper's r > 1.7 m
    assert np.ma.getmaskarray(_shown(ax))[body].all()
    plt.close(fig)


@pytest.mark.parametrize("bad", [float("nan"), 0.0, -5.0, float("inf")])
def test_a_cut_that_is_no_depth_is_refused(bad):
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="background cut"):
        show_body(ax, _frame(1500.0)[0], max_mm=bad)
    plt.close(fig)


def test_prediction_overlays_use_each_frames_own_cut():
    near, near_body = _frame(1300.0)
    far, far_body = _frame(1900.0)
    pts = np.tile([[40.0, 30.0]], (10, 1))
    fig = prediction_overlays([("near", near, pts, pts, 2000.0), ("far", far, pts, pts, 2600.0)], cols=2)
    a, b = fig.axes[:2]
    assert not np.ma.getmaskarray(_shown(a))[near_body].any()
    assert not np.ma.getmaskarray(_shown(b))[far_body].any()
    plt.close(fig)
