"""Kinect capture protocol over a recorded stream, and the operator-marking state machine."""

import itertools

import numpy as np
import pytest

from backsurface.acquisition import acquire
from backsurface.acquisition.kinect_live import (
    CaptureError,
    CaptureProtocol,
    KinectSource,
    RecordedStream,
    combine,
    grab,
    subject_distance_mm,
)
from backsurface.acquisition.marking import MarkingError, MarkingSession
from backsurface.core import camera, contract


def frame(distance=1500, seed=0):
    rng = np.random.default_rng(seed)
    f = np.full((camera.HEIGHT, camera.WIDTH), 2600, np.uint16)
    f[60:380, 150:360] = distance + rng.integers(-3, 4, (320, 210))
    f[rng.random(f.shape) < 0.02] = 0  # dropouts differ from frame to frame
    return f


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        self.t += s


def test_combine_is_the_median_over_readings():
    a, b, c = (np.full((2, 2), v, np.uint16) for v in (10, 12, 50))
    b[0, 0] = 0
    c[0, 0] = 0
    c[1, 1] = 0
    out = combine([a, b, c])
    assert out[0, 1] == 12 and out[1, 1] == 11  # median of 10, 12 (the 0 is no reading)
    assert out[0, 0] == 0  # a reading in 1 of 3 frames only


def test_grab_gives_up_on_a_stalled_or_empty_stream_with_a_clear_error():
    clock = FakeClock()
    stalled = RecordedStream([frame()] + [None] * 10**6, serial="SN1")
    with pytest.raises(CaptureError, match=r"SN1: no frame for 5 s after 1 of 3 frames"):
        grab(stalled, 3, timeout_s=5.0, poll_s=0.1, clock=clock, sleep=clock.sleep)
    clock = FakeClock()
    empty = RecordedStream(itertools.repeat(np.zeros((camera.HEIGHT, camera.WIDTH), np.uint16)))
    with pytest.raises(CaptureError, match="only empty frames"):
        grab(empty, 2, timeout_s=1.0, poll_s=0.1, clock=clock, sleep=clock.sleep)
    with pytest.raises(CaptureError, match=r"\(10, 10\) frame"):
        grab(RecordedStream([np.ones((10, 10))]), 1)


def test_capture_follows_the_protocol_and_writes_the_contract(tmp_path):
    frames = [frame(1500, s) for s in range(4)]
    prompts = []
    src = KinectSource(RecordedStream(frames, serial="SN7"), ["S001"], CaptureProtocol(n_frames=2),
                       prompt=prompts.append)
    recs = list(src)
    assert [r.id for r in recs] == ["S001_c7", "S001"] and len(src) == 2
    assert "warm up" in prompts[0] and "only the C7 marker" in prompts[1] and "all ten markers" in prompts[2]
    assert recs[1].extra["sensor_serial"] == "SN7" and recs[1].extra["combine"] == "per-pixel median"
    np.testing.assert_array_equal(recs[0].depth, combine(frames[:2]))
    acquire.write_cohort(recs, tmp_path / "raw", progress=False)
    anns, cohort = contract.read_cohort(tmp_path / "raw")
    assert anns[1].model_extra["markers"] == "all" and np.isnan(anns[1].points()).all()


def test_subject_too_far_is_asked_to_move_then_capture_fails_without_writing(tmp_path):
    assert subject_distance_mm(frame(2000)) == pytest.approx(2000, abs=3)
    prompts = []
    src = KinectSource(RecordedStream(itertools.repeat(frame(2000))), ["S001"],
                       CaptureProtocol(n_frames=1, max_repositions=2), prompt=prompts.append)
    with pytest.raises(CaptureError, match="not at 1500 ± 200 mm after 2 repositionings"):
        acquire.write_cohort(src, tmp_path / "raw", progress=False)
    assert sum("stand about 1500 mm" in p for p in prompts) == 2
    assert not (tmp_path / "raw").exists()


def test_marking_session_state_machine():
    s = MarkingSession("S001", "depth/S001.png")
    assert s.current == "VP" and "1/10" in s.status() and "vertebra prominens" in s.status()
    s.click(250, 100)
    s.click(255, 330)
    s.skip()  # LSH not visible
    s.click(300, 120)
    s.undo()  # RSH clicked wrongly
    assert s.current == "RSH" and np.isnan(s.points[3]).all()
    with pytest.raises(MarkingError, match="outside the 512x424 frame"):
        s.click(600, 10)
    for x in range(7):
        s.click(200 + 10 * x, 150 + 10 * x)
    assert s.done and "9 marked, 1 skipped" in s.status()
    with pytest.raises(MarkingError, match="undo before clicking"):
        s.click(1, 1)
    ann = s.annotation()
    assert ann.landmarks[4:6] == [-1.0, -1.0] and ann.landmarks[:2] == [250.0, 100.0]
    assert np.isnan(ann.points()[2]).all()


def test_marking_cannot_finish_early_or_undo_nothing():
    s = MarkingSession("S002", "depth/S002.png")
    with pytest.raises(MarkingError, match="nothing to undo"):
        s.undo()
    s.click(10, 10)
    with pytest.raises(MarkingError, match="NC and 8 more"):
        s.annotation()


def test_marking_view_forwards_clicks_and_buttons():
    import matplotlib.pyplot as plt

    from backsurface.figures.marking_widget import MarkingView

    fig, ax = plt.subplots()
    saved = []
    view = MarkingView(MarkingSession("S003", "depth/S003.png"), frame().astype(float), ax,
                       cut_mm=2500.0, on_save=saved.append)

    class Click:
        def __init__(self, x, y, inaxes=ax, button=1):
            self.xdata, self.ydata, self.inaxes, self.button = x, y, inaxes, button

    view.on_click(Click(250, 100))
    view.on_click(Click(250, 100, inaxes=None))  # outside the image: ignored
    view.on_click(Click(250, 100, button=3))  # right button: ignored
    assert view.session.step == 1 and "NC" in view.status()
    view.save()
    assert not saved and "still to mark" in view.status()
    view.undo()
    for _ in range(10):
        view.skip()
    view.save()
    assert len(saved) == 1 and saved[0].id == "S003" and "saved" in view.status()
    plt.close(fig)


def test_marks_are_saved_into_the_cohort_without_touching_frames(tmp_path):
    src = KinectSource(RecordedStream(frame(1500, s) for s in range(4)), ["S001"], CaptureProtocol(n_frames=2),
                       prompt=lambda _m: None)
    acquire.write_cohort(src, tmp_path / "raw", progress=False)
    png = (tmp_path / "raw" / "depth" / "S001.png").read_bytes()
    s = MarkingSession("S001", "depth/S001.png")
    for k in range(10):
        s.click(200 + 5 * k, 100 + 20 * k)
    from backsurface.acquisition.marking import save_marks

    save_marks(tmp_path / "raw", [s.annotation()])
    anns, _ = contract.read_cohort(tmp_path / "raw")
    by = {a.id: a for a in anns}
    assert by["S001"].points()[9].tolist() == [245.0, 280.0] and np.isnan(by["S001_c7"].points()).all()
    assert by["S001"].model_extra["sensor_serial"] == "recorded"  # the capture fields survive
    assert (tmp_path / "raw" / "depth" / "S001.png").read_bytes() == png
    with pytest.raises(MarkingError, match="no recording with id 'S009'"):
        save_marks(tmp_path / "raw", [s.annotation().model_copy(update={"id": "S009"})])
