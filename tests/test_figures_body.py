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


def test_the_landmark_gallery_draws_each_body_within_its_cut():
    from backsurface.figures.common import landmark_gallery

    far, far_body = _frame(1900.0)
    pts = np.tile([[40.0, 30.0]], (10, 1))
    fig = landmark_gallery([("far", far, pts, 2600.0)], crop=False)
    shown = fig.axes[0].images[0].get_array()
    assert (np.asarray(shown)[far_body] > 0).all() and (np.asarray(shown)[~far_body] == 0).all()
    plt.close(fig)


def test_the_marking_view_zooms_on_a_subject_beyond_1_7_m():
    from backsurface.acquisition.marking import MarkingSession
    from backsurface.figures.marking_widget import MarkingView

    far, far_body = _frame(1900.0)
    fig, ax = plt.subplots()
    MarkingView(MarkingSession("S001", "depth/S001.png"), far, ax, cut_mm=2600.0)
    x0, x1 = ax.get_xlim()
    y1, y0 = ax.get_ylim()
    cols, rows = np.flatnonzero(far_body.any(axis=0)), np.flatnonzero(far_body.any(axis=1))
    assert x0 <= cols[0] and x1 >= cols[-1] and y0 <= rows[0] and y1 >= rows[-1]  # the body is in view
    assert not np.ma.getmaskarray(_shown(ax))[far_body].any()
    plt.close(fig)


def test_the_report_page_draws_the_subject_within_the_results_cut():
    import pandas as pd

    from backsurface.clinical.subject import SubjectResult
    from backsurface.figures.report import report_figure

    far, far_body = _frame(1900.0)
    indices = pd.DataFrame([{"index": "trunk_tilt", "value": 1.0, "unit": "°", "low": -2.0, "high": 2.0,
                             "flag": "normal"}])
    result = SubjectResult(indices,
                           pd.DataFrame(columns=["curve", "angle_deg", "plus_minus_deg", "convex", "apex_share"]),
                           pd.DataFrame(columns=["screen", "estimate_deg", "cutoff_deg", "call"]), None, "",
                           cut_mm=2600.0)
    fig = report_figure("S001", far, np.tile([[40.0, 30.0]], (10, 1)), result, "model")
    assert not np.ma.getmaskarray(fig.axes[0].images[0].get_array())[far_body].any()
    plt.close(fig)
