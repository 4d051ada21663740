"""Headline metrics (what `dvc metrics show` compares) and the data files of the DVC plots."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.core import headline
from backsurface.core.landmarks import KEYS
from backsurface.figures import plot_data


def test_a_headline_is_flat_names_its_units_and_holds_finite_numbers():
    got = headline.headline({"vgg19_inplane_mm": 13.858922, "auc_10deg": 0.94886, "angle_r": 0.855,
                             "best_sdr10mm_pct": 41.92, "auc_index_10deg": "curve_deg", "train_images_per_s": 2})
    assert got == {"vgg19_inplane_mm": 13.8589, "auc_10deg": 0.9489, "angle_r": 0.855, "best_sdr10mm_pct": 41.92,
                   "auc_index_10deg": "curve_deg", "train_images_per_s": 2.0}
    for bad, why in [({"n_subjects": 105}, "names no unit"), ({"inplane": 1.0}, "names no unit"),
                     ({"x_mm": float("nan")}, "not a finite number"), ({"x_mm": float("inf")}, "not a finite number"),
                     ({"x_mm": [1.0, 2.0]}, "not a finite number"), ({"x_mm": {"a": 1}}, "not a finite number"),
                     ({"x_mm": True}, "not a finite number"), ({"x_mm": "12"}, "not a finite number"),
                     ({"auc_index": 0.9}, "its value is a name"), ({"": 1.0}, "not a name")]:
        with pytest.raises(headline.HeadlineError, match=why):
            headline.headline(bad)


def test_write_puts_the_summary_beside_the_headline_and_a_bad_headline_writes_nothing(tmp_path):
    summary = {"config": {"lr": 1e-4}, "n_subjects": 105, "ci": [1.0, 2.0], "inplane_mre_mm": 13.0}
    path = headline.write(tmp_path, "evaluate", summary, {"best_inplane_mm": 13.0})
    assert path == tmp_path / "summaries" / "evaluate.json" and json.loads(path.read_text()) == summary
    assert json.loads((tmp_path / "metrics" / "evaluate.json").read_text()) == {"best_inplane_mm": 13.0}
    headline.write(tmp_path, "acquire", {"n_subjects": 3}, None)  # counts only: a summary, no metrics file
    assert (tmp_path / "summaries" / "acquire.json").exists() and not (tmp_path / "metrics" / "acquire.json").exists()
    with pytest.raises(headline.HeadlineError, match="'n_frames': names no unit"):
        headline.write(tmp_path, "labels", {"n_frames": 3}, {"n_frames": 3})
    assert not (tmp_path / "summaries" / "labels.json").exists()


def test_rows_go_one_file_each_into_the_stages_folder_written_whole(tmp_path):
    rows = {"vgg19": {"inplane_mm": 13.86, "pck_pct": 99.1}, "labels_floor": {"surface_mm": 0.0}}
    headline.write(tmp_path, "evaluate", {"n": 1}, None, rows=rows)
    folder = tmp_path / "metrics" / "evaluate"
    assert sorted(p.name for p in folder.iterdir()) == ["labels_floor.json", "vgg19.json"]
    assert json.loads((folder / "vgg19.json").read_text()) == rows["vgg19"]
    headline.write(tmp_path, "evaluate", {"n": 1}, None, rows={"resnet50": {"inplane_mm": 13.2}})
    assert [p.name for p in folder.iterdir()] == ["resnet50.json"]  # the rows of the earlier run are gone
    headline.write(tmp_path, "clinical", {"n": 1}, {"angle_mae_deg": 3.8}, rows={"10deg": {"auc": 0.98}})
    metrics = tmp_path / "metrics"
    assert (metrics / "clinical.json").is_file() and (metrics / "clinical" / "10deg.json").is_file()
    for bad, why in [({"../x": {"a_mm": 1.0}}, "not a file name"), ({".hidden": {"a_mm": 1.0}}, "not a file name"),
                     ({"ok": {"n": 1}}, "names no unit"), ({}, "no rows")]:
        with pytest.raises(headline.HeadlineError, match=why):
            headline.write(tmp_path, "generalise", {"n": 1}, None, rows=bad)
    assert not (tmp_path / "summaries" / "generalise.json").exists() and not (metrics / "generalise").exists()


def test_every_committed_headline_prints_within_120_columns_in_dvc_metrics_show():
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    metrics = root / "reports" / "metrics"
    dvc = shutil.which("dvc")
    if dvc is None or not (root / ".dvc").is_dir() or not metrics.is_dir():
        pytest.skip("needs dvc and the repository's committed reports/metrics")
    targets = sorted(p for p in metrics.iterdir() if p.is_dir()) + sorted(metrics.glob("*.json"))
    assert targets
    for target in targets:
        out = subprocess.run([dvc, "metrics", "show", str(target.relative_to(root))], cwd=root, capture_output=True,
                             text=True, check=True).stdout
        width = max(len(line) for line in out.splitlines())
        assert 20 < width <= 120, (target.name, width, out)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(0.0, 150.0), min_size=1, max_size=40))
def test_error_cdf_is_the_share_at_or_below_each_error(errors):
    e = np.full((len(errors), len(KEYS)), np.nan)
    e[:, 0] = errors  # VP only; every other landmark not evaluable
    table = plot_data.error_cdf_table(e, 100.0, points=11)
    assert list(table.columns) == ["error_mm", *KEYS, "all"]
    want = [100.0 * np.mean(np.asarray(errors) <= x) for x in np.linspace(0, 100, 11)]
    np.testing.assert_allclose(table["VP"], want)
    np.testing.assert_allclose(table["all"], want)  # the NaNs do not count
    assert table["NC"].isna().all()
    assert (np.diff(table["VP"]) >= 0).all()


def test_pck_and_roc_tables_and_their_csv(tmp_path):
    thr = np.linspace(0, 100, 5)
    t = plot_data.pck_curve_table({"vgg19": (thr, np.array([0, 50, 90, 99, 100.0]), 70.0),
                                   "resnet50": (thr, np.array([0, 40, 80, 95, 100.0]), 65.0)})
    assert list(t.columns) == ["threshold_mm", "vgg19", "resnet50"] and t["resnet50"].iloc[2] == 80
    with pytest.raises(ValueError, match="thresholds differ"):
        plot_data.pck_curve_table({"a": (thr, thr, 1.0), "b": (thr + 1, thr, 1.0)})
    with pytest.raises(ValueError, match="errors must be"):
        plot_data.error_cdf_table(np.zeros((3, 4)), 100.0)
    roc = plot_data.roc_table(np.array([0, 0.1, 1.0]), np.array([0, 0.8, 1.0]))
    path = plot_data.write_csv(roc, tmp_path / "roc_10deg.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), roc)
    with pytest.raises(ValueError, match="one length"):
        plot_data.roc_table(np.zeros(3), np.zeros(2))


def test_each_stage_headline_has_its_rows_and_a_unit_in_every_key():
    from backsurface.clinical.cohort import clinical_headline
    from backsurface.evaluation.generalise import generalise_headline
    from backsurface.evaluation.leakage import leakage_headline
    from backsurface.evaluation.scoring import evaluation_headline
    from backsurface.net.train import training_headline

    test = {"inplane_mre_mm": 12.2, "inplane_sdr_10mm_pct": 49.8, "surface_mre_mm": 15.5, "pck": 99.6, "pdj": 99.6}
    summary = {"vgg19": {"test": test | {"inplane_mre_mm": 13.0}}, "resnet50": {"test": test},
               "labels_floor": {"test": {"inplane_mre_mm": 0.0, "surface_mre_mm": 0.0}}, "best_backbone": "resnet50"}
    rows = evaluation_headline(summary, ["vgg19", "resnet50"])
    assert list(rows) == ["vgg19", "resnet50", "labels_floor"] and rows["vgg19"]["inplane_mm"] == 13.0
    assert rows["labels_floor"] == {"inplane_mm": 0.0, "surface_mm": 0.0}

    cohorts = {"older": {"resnet50": {"inplane_mre_mm": 18.3, "found_pct": 100.0}},
               "far": {"resnet50": {"inplane_mre_mm": float("nan"), "found_pct": 0.0}}}
    rows = generalise_headline(cohorts, "resnet50", 12.2)
    assert rows["older"] == {"found_pct": 100.0, "inplane_mm": 18.3, "to_test_ratio": pytest.approx(1.5)}
    assert rows["far"] == {"found_pct": 0.0}  # nobody found: the row says so instead of vanishing

    table = pd.DataFrame([{"protocol": "subject", "test in-plane error mm": 18.0, "train in-plane error mm": 18.4,
                           "share_leaked_%": 0.0},
                          {"protocol": "image", "test in-plane error mm": 18.5, "train in-plane error mm": 18.0,
                           "share_leaked_%": 100.0}])
    rows = leakage_headline(table)
    assert rows["image_split"] == {"inplane_mm": 18.5, "train_inplane_mm": 18.0, "leaked_pct": 100.0}

    clin = {"angle_mae_deg": 3.9, "angle_rmse_deg": 5.5, "angle_r": 0.91, "angle_mae_deg_true_landmarks": 3.3,
            "shoulder_obliquity_r_predicted": -0.85, "screening_deg": [10.0, 20.0],
            "positive_10deg_pct": 56.0, "auc_10deg": 0.98, "sensitivity_10deg_pct": 86.0,
            "specificity_10deg_pct": 98.0, "positive_20deg_pct": 0.0, "auc_20deg": float("nan")}
    angle, rows = clinical_headline(clin)
    assert angle["angle_mae_true_deg"] == 3.3 and angle["shoulder_r"] == -0.85
    assert rows["10deg"] == {"positive_pct": 56.0, "auc": 0.98, "sensitivity_pct": 86.0, "specificity_pct": 98.0}
    assert rows["20deg"] == {"positive_pct": 0.0}  # one class: no AUC, and the row says why

    train = training_headline({"last_epoch_loss": 5.0, "loss_ratio_last_to_first": 0.01,
                               "train_images_per_second": 3.8, "train_seconds": 1575.0, "health": {"s1": 0.04}})
    assert train == {"last_loss": 5.0, "loss_ratio": 0.01, "images_per_s": 3.8, "time_s": 1575.0, "worst_share": 0.04}
    for row in [*evaluation_headline(summary, ["vgg19"]).values(), angle, *rows.values(), train]:
        headline.headline(row)  # every key names its unit
