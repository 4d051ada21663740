"""tools/ablate.py: bad command lines get one line and exit 2 before anything trains;
which runs build their own data."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, message", [
    (["run", "x", "-S", "acquire.cohort=x"], "-S 'acquire.cohort=x': expected SECTION.KEY=VALUE"),
    (["run", "x", "-S", "preprocess.crop=head"], "params.yaml + -S: preprocess.crop: Input should be"),
    (["run", "x", "-S", "labels.stride=2"], "labels.stride must be 8 (the backbones' output stride) or 4"),
    (["run", "x", "-S", "train.lr_shedule=cosine"], "params.yaml + -S: train.lr_shedule: unknown key"),
    (["run", "x", "-S", "train.epochs=ten"], "train.epochs: Input should be a valid integer, got 'ten'"),
    (["run", "../x"], "run name"),
    (["run", "x", "-S", "train.epochs"], "expected SECTION.KEY=VALUE"),
    (["run", "x", "-S", "augment.shift=4"], "params.yaml + -S: augment.shift: unknown key"),
    (["run", "x", "-S", "augment.hflip=maybe"], "augment.hflip: Input should be a valid boolean"),
    (["run", "x", "-S", "augment.copies=-1"], "augment.copies: Input should be greater than or equal to 0"),
])
def test_bad_ablation_requests_are_one_line_and_exit_2(args, message, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), *args], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (ROOT / "build" / "ablation" / "x").exists()


def _ablate():
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablate", ROOT / "tools" / "ablate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("pairs", [[], ["train.epochs=3"], ["augment.copies=1", "augment.hflip=true",
                                                             "augment.rotate_deg=5"]])
def test_a_run_with_the_study_data_trains_on_the_labels_on_disk(pairs):
    ablate = _ablate()
    study = ablate.read_yaml(ROOT / "params.yaml")
    same = [f"augment.{k}={str(v).lower()}" for k, v in study["augment"].items()]
    same += [f"labels.{k}={v}" for k, v in study["labels"].items()]
    same += [f"preprocess.{k}={v}" for k, v in study["preprocess"].items()]  # the study's own values: no change
    params, rebuild = ablate.study_params(ablate.parse_changes(pairs + same))
    assert not rebuild and params.augment.model_dump() == study["augment"]


@pytest.mark.parametrize("pair", ["augment.copies=0", "augment.copies=2", "augment.hflip=false", "augment.shift_px=4",
                                  "preprocess.crop=torso", "preprocess.input_size=144", "labels.sigma_px=6"])
def test_a_run_that_changes_a_data_key_builds_its_own_data(pair):
    ablate = _ablate()
    params, rebuild = ablate.study_params(ablate.parse_changes([pair]))
    assert rebuild
    section, _, rest = pair.partition(".")
    key, value = rest.split("=")
    assert getattr(getattr(params, section), key) == ablate.yaml.safe_load(value)


@pytest.mark.parametrize("pair, group, key", [("acquire.cohort.deformity_share=0", "cohort", "deformity_share"),
                                              ("acquire.sensor.distance_mm=1600", "sensor", "distance_mm")])
def test_a_run_that_changes_the_cohort_or_sensor_draws_its_training_cohort_and_tests_on_the_studys(pair, group, key):
    ablate = _ablate()
    changes = ablate.parse_changes([pair, "train.epochs=13"])
    assert set(changes) == {pair.partition("=")[0], "epochs"}
    params, rebuild = ablate.study_params(changes)
    assert rebuild and ablate.redraws(params)
    assert getattr(getattr(params.acquire, group), key) == ablate.yaml.safe_load(pair.partition("=")[2])
    assert params.train.epochs == 13
    study = ablate.with_study_acquire(params)  # the test split and the cohorts: params.yaml's acquire
    assert study.acquire.model_dump() == ablate.validate(ablate.read_yaml(ROOT / "params.yaml"),
                                                         source="p").acquire.model_dump()
    assert study.train.epochs == 13
    same, _ = ablate.study_params(ablate.parse_changes(["augment.scale=0.3"]))
    assert not ablate.redraws(same)


@pytest.mark.parametrize("pair", ["acquire.cohort=x", "acquire.seed.x=1", "acquire.cohort.a.b=1", "acquire.source=x"])
def test_an_acquire_key_must_name_a_cohort_or_sensor_key(pair):
    ablate = _ablate()
    with pytest.raises(ablate.AblationError, match="acquire.cohort.KEY / acquire.sensor.KEY"):
        ablate.parse_changes([pair])
    with pytest.raises(ablate.ParamsError, match="acquire.cohort.n_subject: unknown key"):
        ablate.study_params(ablate.parse_changes(["acquire.cohort.n_subject=3"]))


def test_labels_on_disk_of_another_crop_or_copy_count_are_refused(synthetic, tmp_path):
    from backsurface.acquisition.acquire import write_cohort
    from backsurface.codec.label_codec import LabelCodec
    from backsurface.data import datasets

    ablate = _ablate()
    write_cohort(list(synthetic), tmp_path / "raw", progress=False)
    params, _ = ablate.study_params(ablate.parse_changes(["preprocess.crop=back", "augment.copies=1",
                                                          "augment.hflip=true"]))
    codec, a = LabelCodec.from_params(params), params.augment
    frames = datasets.preprocess_cohort(tmp_path / "raw", params.preprocess, progress=False)
    train = datasets.extra_augmentations(frames, a.copies, a.hflip, a.rotate_deg, a.scale, a.depth_noise, 0)
    splits = {"train": codec.encode_dataset(train)}
    ablate._check_labels_on_disk(splits, params, codec, tmp_path / "raw")  # the labels of these params pass
    whole, _ = ablate.study_params(ablate.parse_changes(["preprocess.crop=none", "augment.copies=1",
                                                         "augment.hflip=true"]))
    with pytest.raises(ablate.AblationError, match="was not preprocessed with params.yaml's preprocess .crop 'none'"):
        ablate._check_labels_on_disk(splits, whole, LabelCodec.from_params(whole), tmp_path / "raw")
    none, _ = ablate.study_params(ablate.parse_changes(["preprocess.crop=back", "augment.copies=0"]))
    with pytest.raises(ablate.AblationError, match="makes 1 per image"):
        ablate._check_labels_on_disk(splits, none, LabelCodec.from_params(none), tmp_path / "raw")


def test_machine_detail_reads_the_cpu_model_and_the_kernel_flags(monkeypatch):
    ablate = _ablate()
    monkeypatch.setattr(ablate, "matmul_gflops", lambda: 123.4)  # timed for real in every ablation run, not here
    cpuinfo = ("processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n"
               "processor\t: 1\nmodel name\t: Example CPU 9000\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    d = ablate.machine_detail(cpuinfo)
    assert d["cpu"] == "Example CPU 9000"
    assert d["isa"] == ["avx2", "avx512f", "avx512_vnni"]
    assert d["matmul_gflops"] == 123.4
    assert ablate.machine_detail("flags : fpu sse2\n")["isa"] == []
    assert 0.0 < _ablate().matmul_gflops(n=64, repeats=1) < float("inf")


def test_the_table_leaves_what_an_older_run_did_not_record_blank(tmp_path):
    import json
    import shutil

    ablate = _ablate()
    runs = tmp_path / "runs"
    runs.mkdir()
    old = json.loads((ROOT / "reports" / "ablation" / "runs" / "lr1e-3_cosine.json").read_text())
    assert "machine_detail" not in old and "test_flip" not in old  # a run from before both records
    shutil.copy(ROOT / "reports" / "ablation" / "runs" / "lr1e-3_cosine.json", runs)
    dark = {**old["test"], "inplane_mre_mm": 4.321,
            "inplane_mre_mm_by_landmark": {**old["test"]["inplane_mre_mm_by_landmark"], "RPSIS": 9.876}}
    new = {**old, "name": "new", "test_flip": old["test"], "worst_branch_share": 0.04,
           "test_flip_by_decoding": {"logparabola": old["test"], "dark": dark},
           "machine_detail": {"cpu": "Example CPU", "cores": 2, "isa": ["avx2"], "matmul_gflops": 99.6}}
    (runs / "new.json").write_text(json.dumps(new))
    ablate.RUNS = runs
    md = ablate.table(tmp_path / "training.md")
    assert "nan" not in md
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert "Example CPU, 2 cores, AVX2, 100 GFLOP/s" in rows["new"]
    assert "GFLOP/s" not in rows["lr1e-3_cosine"]
    header = [c.strip() for c in md.splitlines()[2].split("|")]
    cells = {name: [c.strip() for c in line.split("|")] for name, line in rows.items()}
    dark_col, rpsis_col = header.index("flip, DARK"), header.index("RPSIS flip, DARK")
    assert (cells["new"][dark_col], cells["new"][rpsis_col]) == ("4.3", "9.9")
    assert (cells["lr1e-3_cosine"][dark_col], cells["lr1e-3_cosine"][rpsis_col]) == ("", "")
    assert (tmp_path / "training.md").read_text() == md


def test_a_cohort_the_params_do_not_name_is_refused_before_any_training():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), "run", "x", "--cohorts", "swayy"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "swayy" in r.stderr and "generalise.cohorts" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_cohort_table_lists_each_cohort_with_its_ratio_to_the_runs_test_split():
    ablate = _ablate()
    run = {"name": "r", "changes": {"augment.rotate_deg": 10}, "cohort_ratio_reference": "test_flip",
           "test_flip": {"inplane_mre_mm": 4.0},
           "cohorts": {"sway": {"inplane_mre_mm": 6.2, "to_test_ratio": 1.55},
                       "deformed": {"inplane_mre_mm": 4.4, "to_test_ratio": 1.1, "found_pct": 100.0},
                       "distance": {"inplane_mre_mm": 44.5, "to_test_ratio": 9.11, "found_pct": 87.5}}}
    md = ablate.cohort_table([run, {"name": "old", "changes": {}}])
    assert "6.2 (1.55)" in md and "4.4 (1.10)" in md and "augment.rotate_deg=10" in md
    assert md.count("% found") == 1  # only the cohort with frames not found says so
    assert "44.5 (9.11), 87.5 % found" in md  # frames without a subject found: the mean is over the others
    assert "| old" not in md
    assert ablate.cohort_table([{"name": "old", "changes": {}}]) == ""


def test_an_acquire_key_without_a_value_is_refused():
    ablate = _ablate()
    with pytest.raises(ablate.AblationError, match="expected SECTION.KEY=VALUE"):
        ablate.parse_changes(["acquire.cohort.deformity_share"])


def test_a_drawn_cohort_never_trains_on_a_study_test_subject():
    import numpy as np

    ablate = _ablate()
    ids = np.array(["S001", "S002", "S003", "S004"])
    train = {"subject_ids": ids, "ids": np.array(["a", "b", "c", "d"]), "points": np.zeros((4, 10, 2))}
    test = {"subject_ids": np.array(["S002", "S004"])}
    kept = ablate.without_test_subjects(train, test)
    assert list(kept["subject_ids"]) == ["S001", "S003"] and list(kept["ids"]) == ["a", "c"]
    assert kept["points"].shape == (2, 10, 2)
    with pytest.raises(ablate.AblationError, match="no training subject outside"):
        ablate.without_test_subjects(train, {"subject_ids": ids})


@pytest.mark.parametrize("overlay, message", [({"acquire": {"source": "import"}}, "only from the synthetic source"),
                                              ({"split": {"mode": "image"}}, "needs the subject split")])
def test_a_drawn_cohort_needs_the_synthetic_source_and_the_subject_split(overlay, message, tmp_path):
    from backsurface.core.params import deep_merge, read_yaml, validate

    ablate = _ablate()
    params = validate(deep_merge(read_yaml(ROOT / "params.yaml"), overlay), source="test")
    with pytest.raises(ablate.AblationError, match=message):
        ablate.draw_training_cohort(params, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()
