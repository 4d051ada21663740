"""The front page (reports/README.md): every number read from its source, no number typed by hand, every link
resolving, on a small run made here and on the committed page."""

import json
from pathlib import Path

import pytest

from backsurface.figures import front_page

ROOT = Path(__file__).resolve().parents[1]
BACKBONES = ["vgg19", "resnet50"]
LANDMARKS = front_page.LANDMARKS


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj, encoding="utf-8")


def _split(base: float) -> dict:
    return {"inplane_mre_mm": base, "inplane_median_mm": base - 1, "inplane_sdr_10mm_pct": 55.5,
            "inplane_mre_mm_by_landmark": {k: base + i / 10 for i, k in enumerate(LANDMARKS)},
            "inplane_mre_mm_healthy": base - 0.5, "inplane_mre_mm_deformed": base + 3.25}


@pytest.fixture
def reports(tmp_path):
    r = tmp_path / "reports"
    _write(r / "summaries/acquire.json", {"n_subjects": 105, "n_female": 50, "n_deformed": 32})
    for n, bb in enumerate(BACKBONES):
        _write(r / f"summaries/train_{bb}.json", {
            "weights": "none (random init)", "epochs": 10, "n_parameters": 1234567 + n, "train_seconds": 1800.0 + n,
            "train_images_per_second": 2.25, "config": {"input_size": 184, "stages": 3, "width": 64,
                                                         "learning_rate": 1e-4, "lr_schedule": "constant",
                                                         **({"precision": "mixed_bfloat16"} if n else {})}})
    _write(r / "summaries/evaluate.json", {"vgg19": {"test": _split(11.75)}, "resnet50": {"test": _split(9.5)},
                                         "best_backbone": "resnet50",
                                         "labels_floor": {"test": {"inplane_mre_mm": 1e-6, "surface_mre_mm": 0.003}}})
    _write(r / "summaries/leakage.json", {"image_split_test_images_leaked_%": 100.0, "test_inplane_mre_mm_image": 17.4,
                                        "test_inplane_mre_mm_subject": 18.6, "error_ratio_subject_over_image": 1.07})
    _write(r / "summaries/generalise.json", {c: {bb: {"inplane_mre_mm": 12.0 + i + j, "found_pct": 100.0 - 25 * i}
                                               for j, bb in enumerate(BACKBONES)}
                                           for i, c in enumerate(("new_people", "distance"))})
    _write(r / "summaries/clinical.json", {
        "backbone": "resnet50", "n_subjects": 100, "n_tuning_subjects": 100, "angle_mae_deg": 4.75,
        "angle_mae_deg_ci": [4.0, 5.5], "angle_rmse_deg": 6.125, "angle_r": 0.875, "angle_mae_deg_true_landmarks": 4.25,
        "screening_deg": [10.0, 20.0], "auc_index": {"10deg": "curve_deg", "20deg": "|scapular_depth_asym_mm|"},
        **{f"auc_{k}": 0.9 for k in ("10deg", "20deg")}, **{f"auc_{k}_ci": [0.8, 0.95] for k in ("10deg", "20deg")},
        **{f"sensitivity_{k}_pct": 88.0 for k in ("10deg", "20deg")},
        **{f"specificity_{k}_pct": 77.0 for k in ("10deg", "20deg")},
        "ppotsi_auc_predicted": 0.625, "shoulder_obliquity_r_predicted": -0.5, "ppotsi_costliest_landmark": "LSH",
        "ppotsi_auc_true_landmarks_10deg": 0.9875, "ppotsi_costliest_auc_lost_10deg": 0.0412})
    for metric in ("pck", "pdj"):
        _write(r / f"tables/evaluate/comparison_{metric}.md", "| split | VP |\n|:--|--:|\n| test | 99.5 |\n")
    for fig in ("evaluate/pck_curve.png", "evaluate/error_boxplots.png", "leakage/split_leakage.png",
                "generalise/cohort_errors.png", "clinical/angle_agreement.png", "clinical/screening_roc_10deg.png",
                "clinical/screening_roc_20deg.png"):
        _write(r / "figures" / fig, "png")
    for nb, seconds in (("01_acquire", 60.0), ("05_train_vgg19", 1200.0), ("07_clinical", None)):
        _write(r / f"notebooks/{nb}.ipynb", {"metadata": {"papermill": {"duration": seconds}}})
    front_page.write(r, BACKBONES, tmp_path)
    _write(r / "front_page/08_front_page.ipynb", "{}")  # the stage's own executed notebook, outside notebooks/
    return r


def test_the_page_says_what_its_sources_say_and_nothing_else(reports):
    page = (reports / "README.md").read_text(encoding="utf-8")
    assert front_page.check(reports) == [] and front_page.unsourced_numbers(reports) == []
    for expected in ("| resnet50 | 9.5 | 8.5 | 55.5 |", "4.8°", "AUC 0.90 (95% CI 0.80-0.95)", "32 with a",
                     "| distance | 13.0 (75) | 14.0 (75) |", "| vgg19 | 184 | 3 | 64 | 10 | 0.0001 | constant",
                     # a summary older than train.precision trained in float32
                     "| vgg19 | 184 | 3 | 64 | 10 | 0.0001 | constant | `float32` |",
                     "| resnet50 | 184 | 3 | 64 | 10 | 0.0001 | constant | `mixed_bfloat16` |",
                     "partial POTSI reaches AUC 0.99; with one landmark predicted at a time",
                     "the costliest, `LSH`, takes 0.041 of that AUC",
                     "the executed notebooks took 21 min in all", "training 20 min of it"):
        assert expected in page, expected
    assert "| test | 99.5 |" in page  # an included table, verbatim


def test_a_number_that_differs_from_its_file_or_is_typed_by_hand_is_found(reports):
    metrics = reports / "summaries/evaluate.json"
    data = json.loads(metrics.read_text())
    data["resnet50"]["test"]["inplane_mre_mm"] = 9.9
    metrics.write_text(json.dumps(data))
    assert any("summaries/evaluate.json ['resnet50', 'test', 'inplane_mre_mm']" in p for p in front_page.check(reports))
    _write(reports / "notebooks/01_acquire.ipynb", {"metadata": {"papermill": {"duration": 600.0}}})  # a rerun
    assert any(p.startswith("sum of") and "the file gives 30, the page 21" in p for p in front_page.check(reports))
    page = reports / "README.md"
    page.write_text(page.read_text().replace("## Limitations", "About 42 mm better than palpation.\n\n## Limitations"))
    assert front_page.unsourced_numbers(reports) == ["42"]


def test_a_training_notebook_of_a_backbone_the_run_dropped_is_not_counted(reports, tmp_path):
    _write(reports / "notebooks/05_train_resnet18.ipynb", {"metadata": {"papermill": {"duration": 6000.0}}})
    front_page.write(reports, BACKBONES, tmp_path)
    page = (reports / "README.md").read_text(encoding="utf-8")
    assert "the executed notebooks took 21 min in all" in page and "05_train_resnet18" not in page
    assert front_page.check(reports) == []


def test_every_link_and_picture_of_the_page_resolves(reports):
    targets = front_page.links(reports)
    assert "figures/evaluate/pck_curve.png" in targets and "notebooks/07_clinical.ipynb" in targets
    assert [t for t in targets if not (reports / t).is_file()] == []


def test_the_method_links_the_ablation_table_only_where_there_is_one(reports):
    page, _ = front_page.build(reports, BACKBONES)
    assert front_page.ABLATION not in page
    (reports / front_page.ABLATION).parent.mkdir(parents=True)
    (reports / front_page.ABLATION).write_text("| run |\n")
    front_page.write(reports, BACKBONES)
    assert front_page.ABLATION in front_page.links(reports)
    assert [t for t in front_page.links(reports) if not (reports / t).is_file()] == []


def test_the_committed_front_page_matches_the_committed_reports():
    reports = ROOT / "reports"
    assert (reports / "README.md").is_file(), "reports/README.md is written by the front_page stage: dvc repro"
    assert front_page.check(reports) == []
    assert front_page.unsourced_numbers(reports) == []
    assert [t for t in front_page.links(reports) if not (reports / t).is_file()] == []
    assert "reports/README.md" in (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n", 2)[1]


def test_the_leakage_finding_says_what_the_run_measured(reports, tmp_path):
    """The heading follows the run: a leaky split that does not flatter is not called flattering."""
    assert "## Finding 3: the paper's image-level split flatters" in (reports / "README.md").read_text()
    _write(reports / "summaries/leakage.json", {"image_split_test_images_leaked_%": 100.0,
                                                "test_inplane_mre_mm_image": 28.4, "test_inplane_mre_mm_subject": 24.4,
                                                "error_ratio_subject_over_image": 0.86})
    front_page.write(reports, BACKBONES, tmp_path)
    page = (reports / "README.md").read_text()
    assert "flatters" not in page.split("## Finding 3")[1].split("\n")[0]
    assert "In this run the leaky split does not flatter" in page and front_page.check(reports) == []


def test_a_column_named_after_its_threshold_is_not_a_typed_number(reports):
    """The success threshold in a column name ("within 10 mm") is a definition, whatever the run's numbers."""
    page = reports / "README.md"
    assert "within 10 mm (%)" in page.read_text()
    page.write_text(page.read_text().replace("## Limitations", "Within 10 mm, 42 landmarks.\n\n## Limitations"))
    assert front_page.unsourced_numbers(reports) == ["42"]


def test_the_method_says_whether_the_run_used_the_test_time_flip(reports, tmp_path):
    assert "test-time flip" not in (reports / "README.md").read_text()
    front_page.write(reports, BACKBONES, tmp_path, flip_test=True)
    method = (reports / "README.md").read_text().split("## The method")[1].split("##")[0]
    assert "test-time flip, `evaluate.flip_test`" in method and front_page.check(reports) == []


def test_the_commit_marker_counts_code_changes_not_the_reports_being_written(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                       env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                            "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})

    git("init", "-q")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.py").write_text("x = 1\n")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "README.md").write_text("old page\n")
    git("add", "-A")
    git("commit", "-qm", "c")
    clean = front_page._commit(tmp_path)
    assert len(clean) == 12 and not clean.endswith("-dirty")
    (tmp_path / "reports" / "README.md").unlink()  # DVC removes the page before the stage writes it again
    assert front_page._commit(tmp_path) == clean
    (tmp_path / "lib" / "a.py").write_text("x = 2\n")
    assert front_page._commit(tmp_path) == clean + "-dirty"


@pytest.mark.parametrize("crop", ["none", "torso", "back"])
def test_the_method_names_the_crop_and_its_figures_come_from_the_library(reports, tmp_path, crop):
    from backsurface.data.preprocess import describe_crop

    _write(reports / "summaries/preprocess.json", {"n_frames": 105, "input_size": 184, "crop": crop})
    front_page.write(reports, BACKBONES, tmp_path)
    method = (reports / "README.md").read_text().split("## The method")[1].split("##")[0]
    assert f"{describe_crop(crop)} (`preprocess.crop: {crop}`)" in method
    assert front_page.check(reports) == [] and front_page.unsourced_numbers(reports) == []
    # a figure of the crop's words that the library does not give is found
    sources = json.loads((reports / "README.sources.json").read_text())
    library = [n for n in sources["numbers"] if "library" in n]
    assert bool(library) is (crop != "torso")
    if library:
        library[0]["text"] = "7×7"
        (reports / "README.sources.json").write_text(json.dumps(sources))
        assert front_page.check(reports) == [f"describe_crop('{crop}',): does not give 7×7 on the page"]
