"""Training health: the image-independent baseline and the check that fails a branch which learnt nothing."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from backsurface.codec import encode as labels  # noqa: E402
from backsurface.net import health  # noqa: E402
from backsurface.net.loss import stage_losses  # noqa: E402

SIZE = 32


def _labels(n=5, seed=0, drop=True):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(4, SIZE - 4, (n, 10, 2))
    if drop:
        pts[0, 3] = np.nan  # a missing landmark: its heatmap and both links masked out in that example
    out = [labels.render_labels(p, SIZE) for p in pts]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out]), np.stack([o[2] for o in out])


def _loss_of_constant(h, p, m, ch, cp):
    """The training loop's own per-branch loss (stage 1) of the constant prediction (ch, cp) for every example."""
    n = len(h)
    out = [tf.constant(np.broadcast_to(ch, h.shape).astype(np.float32)),
           tf.constant(np.broadcast_to(cp, p.shape).astype(np.float32))]
    per = stage_losses(out, tf.constant(h), tf.constant(p), tf.constant(m)).numpy()  # (n, 1, 2)
    return per[:, 0].sum(axis=0) / n


def test_baseline_equals_the_training_loss_of_the_masked_mean_prediction():
    h, p, m = _labels()
    assert m[0].min() == 0  # the dropped landmark is masked
    j = h.shape[-1]
    wh, wp = m[:, None, None, :j], m[:, None, None, j:]
    mean_h = (wh * h).sum(0) / np.maximum(m[:, :j].sum(0), 1)
    mean_p = (wp * p).sum(0) / np.maximum(m[:, j:].sum(0), 1)
    want = _loss_of_constant(h, p, m, mean_h, mean_p)
    got = health.baseline_losses(h, p, m)
    assert got["heatmaps"] == pytest.approx(want[0], rel=1e-5)
    assert got["pafs"] == pytest.approx(want[1], rel=1e-5)


@settings(max_examples=20, deadline=None)
@given(st.floats(-0.2, 0.2), st.floats(-0.2, 0.2))
def test_no_other_image_independent_prediction_scores_lower(dh, dp):
    """The masked per-pixel mean minimises the masked L2 among predictions that ignore the image."""
    h, p, m = _labels(n=4, seed=1)
    b = health.baseline_losses(h, p, m)
    j = h.shape[-1]
    mean_h = (m[:, None, None, :j] * h).sum(0) / m[:, :j].sum(0)
    mean_p = (m[:, None, None, j:] * p).sum(0) / m[:, j:].sum(0)
    other = _loss_of_constant(h, p, m, mean_h + dh, mean_p + dp)
    assert other[0] >= b["heatmaps"] * (1 - 1e-5) and other[1] >= b["pafs"] * (1 - 1e-5)


def _history(values):
    """One epoch's record with the given per-branch losses {(stage, branch): loss}."""
    return [{"epoch": 1, "loss/total": sum(values.values()),
             **{f"loss/stage{t}/{b}": v for (t, b), v in values.items()}}]


def test_a_branch_stuck_at_the_baseline_fails_with_its_name_and_the_remedy():
    baseline = {"heatmaps": 25.8, "pafs": 23.1}
    # the measured failure: the stage-3 affinity branch at 30.63 while everything else trained
    hist = _history({(1, "heatmaps"): 1.9, (1, "pafs"): 2.5, (2, "heatmaps"): 1.3, (2, "pafs"): 2.8,
                     (3, "heatmaps"): 1.3, (3, "pafs"): 30.63})
    with pytest.raises(health.TrainingHealthError,
                       match=r"resnet50 learnt nothing in 1 branch after 1 epochs: stage 3 affinity branch 30\.63 "
                             r"\(1\.33× the 23\.10 of an image-independent prediction\); the limit is 0\.5× "
                             r"\(train\.max_baseline_share\); lower the learning rate"):
        health.check(hist, baseline, 0.5, what="resnet50")
    rows = health.check(hist, baseline, None)  # off: reported, not raised
    assert [(r["stage"], r["branch"]) for r in rows] == [(1, "heatmaps"), (1, "pafs"), (2, "heatmaps"), (2, "pafs"),
                                                         (3, "heatmaps"), (3, "pafs")]
    assert rows[-1]["share"] == pytest.approx(30.63 / 23.1)


def test_trained_branches_pass_and_bad_limits_are_refused():
    baseline = {"heatmaps": 25.8, "pafs": 23.1}
    hist = _history({(1, "heatmaps"): 1.1, (1, "pafs"): 2.5})
    assert max(r["share"] for r in health.check(hist, baseline, 0.5)) < 0.2
    with pytest.raises(ValueError, match=r"max_share must be in \(0, 1\]"):
        health.check(hist, baseline, 1.5)
    with pytest.raises(ValueError, match="no epoch"):
        health.check([], baseline, 0.5)
    with pytest.raises(ValueError, match="labels disagree"):
        health.baseline_losses(np.zeros((2, 4, 4, 11)), np.zeros((2, 4, 4, 10)), np.zeros((2, 20)))


def test_training_fails_loudly_when_a_branch_stays_above_the_limit(tmp_path):
    """Wired into the training loop: with an impossible limit the run raises once every epoch has run, and a run
    stopped early (to be resumed) is not judged."""
    from backsurface.net import train

    h, p, m = _labels(n=2, drop=False)
    data = {"images": np.random.default_rng(0).random((2, SIZE, SIZE)).astype(np.float32),
            "heatmaps": h, "pafs": p, "masks": m}
    cfg = train.TrainConfig(backbone="resnet50", input_size=SIZE, stages=1, width=8, refine_kernel=3,
                            feature_channels=8, weights="none", weights_dir=None, epochs=2, batch_size=2,
                            learning_rate=1e-3, lr_schedule="constant", warmup_epochs=0, seed=3, strategy="default",
                            precision="float32", stride=8)
    part = train.train(cfg, data, tmp_path, stop_after=1, log=None, max_baseline_share=1e-6)
    assert len(part.health) == 2
    with pytest.raises(health.TrainingHealthError, match=r"resnet50 \(1 stages, lr 0\.001\) learnt nothing in 2 "
                                                         r"branches after 2 epochs: stage 1 heatmap branch"):
        train.train(cfg, data, tmp_path, log=None, max_baseline_share=1e-6)


def test_a_diverged_run_is_sick_and_a_branch_with_nothing_to_learn_is_judged_by_its_loss():
    baseline = {"heatmaps": 25.8, "pafs": 0.0}  # e.g. every link masked: the affinity labels carry nothing
    with pytest.raises(health.TrainingHealthError, match=r"stage 1 heatmap branch nan"):
        health.check(_history({(1, "heatmaps"): float("nan"), (1, "pafs"): 0.0}), baseline, 0.5)
    rows = health.check(_history({(1, "heatmaps"): 1.0, (1, "pafs"): 0.0}), baseline, 0.5)
    assert [r["share"] for r in rows] == [pytest.approx(1.0 / 25.8), 0.0]
    with pytest.raises(health.TrainingHealthError, match=r"stage 1 affinity branch 0\.50 \(inf×"):
        health.check(_history({(1, "heatmaps"): 1.0, (1, "pafs"): 0.5}), baseline, 0.5)
    nan_first = health.worst(health.check(_history({(1, "heatmaps"): float("nan"), (1, "pafs"): 0.0}), baseline,
                                          None))
    assert nan_first["branch"] == "heatmaps"
