"""JupyterLab widget for operator marking: the marker frame, clicks, Undo / Skip / Save (ipympl + ipywidgets).

In a notebook (``%matplotlib widget``)::

    session = MarkingSession("S001", "depth/S001.png")
    cut = LabelCodec.from_params(params).cut_mm(depth)  # the study's background cut for this frame
    display(marking_widget(session, depth, cut, on_save=lambda ann: records.append(ann)))

All state lives in the :class:`~backsurface.marking.MarkingSession`; the widget forwards clicks and buttons
to it and redraws.  :class:`MarkingView` holds the handlers so that tests can drive them without a browser.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backsurface.acquisition.marking import MarkingError, MarkingSession
from backsurface.figures.common import draw_landmarks, show_body


class MarkingView:
    """The drawing and event handling of the widget, independent of ipywidgets."""

    def __init__(self, session: MarkingSession, depth_mm: np.ndarray, ax, cut_mm: float,
                 on_save: Callable | None = None, margin_px: int = 30):
        """``cut_mm``: the frame's background cut (the study codec's ``LabelCodec.cut_mm``): the
        subject within it is drawn and zoomed on, the wall and floor behind it are black."""
        self.session, self.ax, self.on_save = session, ax, on_save
        self.message = ""
        valid = (depth_mm > 0) & (depth_mm <= cut_mm)  # the subject only: wall and floor lie beyond the cut
        rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
        corners = [[cols[0], rows[0]], [cols[-1], rows[-1]]] if valid.any() else []
        show_body(ax, depth_mm, [np.asarray(corners, float)], cut_mm, margin_px)  # clicks stay in raw pixels
        self._artists: list = []
        self.redraw()

    def status(self) -> str:
        return self.session.status() + (f" — {self.message}" if self.message else "")

    def redraw(self) -> None:
        for a in self._artists:
            a.remove()
        before = set(self.ax.lines) | set(self.ax.collections) | set(self.ax.texts)
        draw_landmarks(self.ax, self.session.points, color="yellow", labels=True, size=20)
        self._artists = [a for a in (*self.ax.lines, *self.ax.collections, *self.ax.texts) if a not in before]
        self.ax.set_title(self.session.status(), fontsize=9)
        self.ax.figure.canvas.draw_idle()

    def _do(self, action: Callable[[], None]) -> None:
        try:
            action()
            self.message = ""
        except MarkingError as exc:
            self.message = str(exc)
        self.redraw()

    def on_click(self, event) -> None:
        if event.inaxes is self.ax and event.button == 1 and event.xdata is not None:
            self._do(lambda: self.session.click(float(event.xdata), float(event.ydata)))

    def undo(self, *_):
        self._do(self.session.undo)

    def skip(self, *_):
        self._do(self.session.skip)

    def save(self, *_):
        def finish():
            ann = self.session.annotation()
            if self.on_save:
                self.on_save(ann)
            self.message = "saved"

        try:
            finish()
        except MarkingError as exc:
            self.message = str(exc)
        self.redraw()


def marking_widget(session: MarkingSession, depth_mm: np.ndarray, cut_mm: float, on_save: Callable | None = None):
    """The widget: status line, the frame (click to mark; ``cut_mm``: its background cut, see
    :class:`MarkingView`), and Undo / Skip / Save buttons."""
    import ipywidgets as widgets  # noqa: PLC0415
    import matplotlib.pyplot as plt  # noqa: PLC0415

    with plt.ioff():
        fig, ax = plt.subplots(figsize=(4.8, 5.4))
    fig.canvas.header_visible = False
    view = MarkingView(session, np.asarray(depth_mm, dtype=float), ax, cut_mm, on_save)
    status = widgets.HTML(view.status())
    buttons = [widgets.Button(description=d, button_style=s) for d, s in
               (("Undo", "warning"), ("Skip (not visible)", ""), ("Save", "success"))]

    def wrap(handler):
        def run(*args):
            handler(*args)
            status.value = view.status()
        return run

    fig.canvas.mpl_connect("button_press_event", wrap(view.on_click))
    for b, h in zip(buttons, (view.undo, view.skip, view.save)):
        b.on_click(wrap(h))
    box = widgets.VBox([status, fig.canvas, widgets.HBox(buttons)])
    box.view = view  # for programmatic access (and tests)
    return box
