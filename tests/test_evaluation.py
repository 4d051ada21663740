"""Evaluation end to end on hand-made frames: labels → decode → raw frame → depth → metrics; the predictor."""

import numpy as np
import pytest
from helpers import codec

from backsurface.codec import encode as labels
from backsurface.core import camera, contract
from backsurface.data.preprocess import preprocess_frame
from backsurface.data.surface import surface_depth
from backsurface.evaluation import paper as paper_numbers
from backsurface.evaluation import scoring as evaluation

SIZE = 96


def _frame():
    """A 'back' (a plane tilted from 1450 to 1514 mm top to bottom) before a far wall, and ten landmarks on it."""
    d = np.full((camera.HEIGHT, camera.WIDTH), 2600, np.uint16)
    d[60:380, 150:360] = (1450 + np.arange(60, 380) // 5)[:, None]
    pts = np.array([[255, 90], [255, 330], [190, 100], [320, 100], [200, 170], [310, 170], [180, 250],
                    [330, 250], [220, 300], [290, 300]], float)
    return d, pts


def _split(n=3):
    d, pts = _frame()
    image, t = preprocess_frame(d, 1700.0, SIZE)
    pin = t.raw_to_input(pts)
    heat, pafs, mask = labels.render_labels(pin, SIZE)
    true_mm = camera.KINECT_V2.back_project(pts, d[pts[:, 1].astype(int), pts[:, 0].astype(int)].astype(float))
    data = {"ids": np.array([f"F{i}" for i in range(n)]), "subject_ids": np.array(["A", "A", "B"][:n]),
            "transforms": np.tile(t.to_row(), (n, 1)), "points_raw": np.tile(pts, (n, 1, 1)),
            "points_mm": np.tile(true_mm, (n, 1, 1)), "images": np.tile(image[..., 0], (n, 1, 1))}
    return data, np.tile(heat, (n, 1, 1, 1)), np.tile(pafs, (n, 1, 1, 1)), {f"F{i}": d.astype(float)
                                                                             for i in range(n)}


def test_label_heatmaps_localise_to_the_true_points_in_pixels_and_mm():
    data, heat, pafs, depths = _split()
    loc = evaluation.localise(heat, pafs, data, depths, codec(SIZE))
    assert np.nanmax(loc.errors_px) < 1e-4  # float32 heatmaps
    assert np.nanmax(loc.errors_mm) < 1e-3
    s = evaluation.score(loc, 150.0, 0.2, n_boot=50, seed=0)
    assert s["pck"]["Total"] == 100.0 and s["pdj"]["Total"] == 100.0
    assert s["n_subjects"] == 2 and s["n_off_body_predictions"] == 0
    assert all(v > 0.5 for v in s["link_score_mean"].values())  # short links at 96² blend with 0 at the ends


def test_perfect_predictions_have_a_surface_floor_of_exactly_zero():
    data, heat, pafs, depths = _split()
    true_surface = evaluation.surface_points(depths, data["ids"], data["points_raw"], codec(SIZE))
    again = evaluation.surface_points(depths, data["ids"], data["points_raw"].copy(), codec(SIZE))
    assert np.isfinite(true_surface).all() and np.all(np.linalg.norm(again - true_surface, axis=-1) == 0.0)
    # the decoded label heatmaps: sub-1e-4 px off, the same depth pixels: a floor of a few nanometres
    decoded = evaluation.localise(heat, pafs, data, depths, codec(SIZE))
    assert np.array_equal(decoded.true_surface_mm, true_surface)
    assert np.nanmax(decoded.surface_errors_mm) < 1e-3 and np.nanmax(decoded.inplane_errors_mm) < 1e-3
    s = evaluation.score(decoded, 150.0, 0.2, n_boot=20, seed=0)
    assert s["surface_mre_mm_ci"][0] < 1e-3 and s["inplane"]["Total"]["within_2mm"] == 100.0


def test_a_prediction_shifted_on_the_plane_scores_its_shift_in_plane():
    data, heat, pafs, depths = _split(2)
    shifted = np.roll(heat, 1, axis=2)  # one output cell to the right: stride input px
    loc = evaluation.localise(shifted, pafs, data, depths, codec(SIZE))
    step_raw = codec(SIZE).stride / data["transforms"][0][0]  # input px → raw px (scale_x)
    assert np.allclose(loc.pred_raw[..., 0] - loc.true_raw[..., 0], step_raw, atol=1e-3)
    assert np.allclose(loc.inplane_errors_mm, step_raw * loc.true_mm[..., 2] / camera.KINECT_V2.fx, atol=1e-2)
    assert np.all(loc.surface_errors_mm >= loc.inplane_errors_mm * 0.99)  # the tilted plane adds relief, never less


def test_a_prediction_off_the_body_still_counts_as_an_error():
    data, heat, pafs, depths = _split()
    heat = heat.copy()
    heat[:, :, :, 0] = 0.0
    heat[:, 1, 1, 0] = 1.0  # VP predicted in the top-left corner: wall, no body depth there
    loc = evaluation.localise(heat, pafs, data, depths, codec(SIZE))
    assert loc.off_body[:, 0].all() and not loc.off_body[:, 1:].any()
    assert np.all(loc.errors_mm[:, 0] > 150.0)
    s = evaluation.score(loc, 150.0, 0.2, n_boot=50, seed=0)
    assert s["pck"]["VP"] == 0.0 and s["pck"]["Total"] == pytest.approx(90.0)


def test_tables_have_the_paper_layout():
    data, heat, pafs, depths = _split()
    loc = evaluation.localise(heat, pafs, data, depths, codec(SIZE))
    s = evaluation.score(loc, 150.0, 0.2, n_boot=20, seed=0)
    scores = {("resnet50", "test"): s, ("resnet50", "train"): s}
    t = evaluation.accuracy_table(scores, "pck")
    assert list(t.columns) == ["split", "backbone", "VP", "NC", "LSH", "RSH", "LS", "RS", "LW", "RW", "LPSIS",
                               "RPSIS", "Total"]
    assert t["split"].tolist() == ["train", "test"]
    comp = paper_numbers.comparison_table(t, "pdj")
    paper = comp[(comp["source"] == "paper") & (comp["split"] == "test") & (comp["backbone"] == "resnet152")]
    assert paper["Total"].item() == 80.9 and paper["LS"].item() == 58.0  # the paper's Table 2, test, ResNet-152
    assert len(evaluation.headline_table(scores)) == 2


def test_examples_are_typical_then_worst_without_repeats():
    data, heat, pafs, depths = _split(3)
    loc = evaluation.localise(heat, pafs, data, depths, codec(SIZE))
    loc.pred_raw[2] += 5.0
    rows = evaluation.pick_examples(loc, n_typical=2, n_worst=1)
    assert rows[-1] == 2 and len(set(rows)) == 3


def test_bad_raw_cohort_is_named(tmp_path):
    (tmp_path / "annotations.json").write_text("[]")
    with pytest.raises(contract.ContractError, match="cohort.csv"):
        evaluation.raw_depths(tmp_path, np.array(["X1"]))


def test_predictor_writes_paper_format_records(tmp_path):
    from helpers import untrained_model

    from backsurface.net.inference import KerasRunner
    from backsurface.net.predictor import Predictor

    m = untrained_model("resnet50", 32, stages=1, width=4, feature_channels=4)
    d, _ = _frame()
    p = Predictor(KerasRunner(m), codec(32))
    records = p.annotate({"F1": d.astype(float), "F2": d.astype(float)})
    assert [r.id for r in records] == ["F1", "F2"]
    contract.write_annotations(tmp_path / "landmarks.json", records)
    back = contract.read_annotations(tmp_path / "landmarks.json")
    pts = back[0].points()
    assert pts.shape == (10, 2) and np.isfinite(pts).all()
    assert (pts >= 0).all() and (pts[:, 0] <= camera.WIDTH - 1).all() and (pts[:, 1] <= camera.HEIGHT - 1).all()
    assert len(back[0].model_extra["confidence"]) == 10 and len(back[0].model_extra["link_scores"]) == 5
    with pytest.raises(ValueError, match="bad"):
        p.predict({"bad": np.zeros((10, 10))})


def test_surface_depth_window_ignores_far_pixels():
    d, pts = _frame()
    z = surface_depth(d.astype(float), np.array([[150.0, 60.0]]), 1700.0)
    assert z[0] == 1462.0  # on the box's corner: rows 58-62, body rows 60-62 at 1462 mm; the wall is ignored


def test_scoring_keeps_the_frames_and_translations_and_drops_the_random_copies():
    from backsurface.evaluation.scoring import with_raw_map

    t = np.tile([1.0, 1.0, 0.0, 0.0, 0.0, 0.0], (4, 1))
    t[[1, 3]] = np.nan
    data = {"transforms": t, "ids": np.array(["a", "b", "c", "d"]), "images": np.arange(4.0)}
    kept = with_raw_map(data)
    assert kept["ids"].tolist() == ["a", "c"] and kept["images"].tolist() == [0.0, 2.0]
    assert kept["transforms"].shape == (2, 6)


def test_a_model_of_another_scheme_is_refused_naming_what_differs():
    from backsurface.codec.label_codec import LabelCodec
    from backsurface.evaluation.scoring import SchemeMismatch, require_same_scheme

    data = LabelCodec(input_size=184, crop="back", threshold_mm=1700.0, background="nearest", body_depth_mm=300.0,
                      stride=8, sigma_px=8.0, cutoff=4.6, limb_width_px=4.0, decoding="logparabola")
    require_same_scheme(data, LabelCodec.from_dict(data.to_dict()), "same.keras")  # the same scheme passes
    # a model decoded otherwise reads the same images through the same transforms
    require_same_scheme(LabelCodec.from_dict({**data.to_dict(), "decoding": "dark"}), data, "dark.keras")
    other = LabelCodec.from_dict({**data.to_dict(), "crop": "none", "input_size": 144})
    with pytest.raises(SchemeMismatch, match=r"old\.keras: .*input_size 144 \(data 184\), crop 'none' \(data 'back'\)"):
        require_same_scheme(other, data, "old.keras")
