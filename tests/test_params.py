"""params.yaml schema: complete profiles, overlays, clear errors naming the key, the committed files in step."""

import tomllib
from pathlib import Path

import pytest
import yaml

from backsurface.core import params as P

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = P.read_yaml(ROOT / "params.yaml")


def with_(**sections):
    """The default profile with some sections deep-merged over it."""
    return P.deep_merge(DEFAULT, sections)


def test_committed_params_and_profiles_are_valid():
    default = P.load(ROOT / "params.yaml")
    assert default.acquire.cohort.n_subjects == 105 and default.split.n_test_subjects == 25
    paper = P.load(ROOT / "params.yaml", ROOT / "profiles/paper.yaml")
    assert paper.preprocess.input_size == 368 and paper.train.stages == 7
    assert paper.acquire.cohort.deformity_share == 0.0  # healthy volunteers, as in the paper
    smoke = P.load(ROOT / "params.yaml", ROOT / "profiles/smoke.yaml")
    assert smoke.preprocess.input_size == 96 and smoke.train.backbones == ("resnet50",)


def test_the_schema_holds_no_values_params_yaml_does():
    """One source of defaults: every key must be given, so a value can only come from a profile file."""
    with pytest.raises(P.ParamsError, match=r"params: seed: Field required"):
        P.validate({})
    partial = dict(DEFAULT)
    partial["augment"] = {k: v for k, v in DEFAULT["augment"].items() if k != "shift_px"}
    with pytest.raises(P.ParamsError, match=r"augment\.shift_px: Field required"):
        P.validate(partial)


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"acquire": {"cohort": {"n_subject": 3}}}, r"acquire\.cohort\.n_subject: unknown key"),
        ({"preprocess": {"input_size": "big"}}, r"preprocess\.input_size: .*integer"),
        ({"labels": {"sigma_px": -1}}, r"labels\.sigma_px: .*greater than 0"),
        ({"acquire": {"source": "camera"}}, r"acquire\.source: .*'synthetic', 'kinect' or 'import'"),
        ({"acquire": {"cohort": {"n_subjects": 4, "n_female": 5}}}, r"acquire\.cohort: .*n_female \(5\) exceeds"),
        ({"sede": 1}, r"sede: unknown key"),
        ({"train": {"weights": "imagenet21k"}}, r"train\.weights"),
        ({"train": {"backbones": ["vgg16"]}}, r"train\.backbones"),
        ({"train": {"backbones": ["vgg19", "vgg19"]}}, "without repeats"),
        ({"preprocess": {"input_size": 100}}, r"input_size must be a multiple of the backbones' stride 8"),
        ({"evaluate": {"pck_mm": -1}}, r"evaluate\.pck_mm"),
    ],
)
def test_bad_params_name_the_key(sections, message):
    with pytest.raises(P.ParamsError, match=message) as err:
        P.validate(with_(**sections), source="params.yaml")
    assert len(str(err.value).splitlines()) == 1  # one line: nothing else is wrong with the default


def test_apply_overlay_keeps_comments_and_only_changes_values(tmp_path):
    target = tmp_path / "params.yaml"
    original = (ROOT / "params.yaml").read_text()
    target.write_text(original)
    P.apply_overlay(target, ROOT / "profiles/paper.yaml")
    merged = target.read_text()
    assert P.load(target).preprocess.input_size == 368
    comments = [line for line in original.splitlines() if "#" in line]
    changed = [a for a, b in zip(original.splitlines(), merged.splitlines()) if a != b]
    assert len(original.splitlines()) == len(merged.splitlines())  # no line lost or added
    assert all("#" in b for a, b in zip(original.splitlines(), merged.splitlines()) if "#" in a)
    def leaves(tree):  # every value the overlay sets: a mapping under a key may be written on one line
        return sum(leaves(v) if isinstance(v, dict) else 1 for v in tree.values())
    assert len(comments) > 20 and 0 < len(changed) <= leaves(P.read_yaml(ROOT / "profiles/paper.yaml"))
    assert "stages: 7" in merged and "# paper: 7; 3 on the CPU" in merged


def test_apply_overlay_validates_before_writing(tmp_path):
    target = tmp_path / "params.yaml"
    target.write_text((ROOT / "params.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preprocess": {"input_sise": 368}}))
    before = target.read_text()
    with pytest.raises(P.ParamsError, match="input_sise: unknown key"):
        P.apply_overlay(target, bad)
    assert target.read_text() == before
    assert P.main(["check", str(target)]) == 0
    assert P.main(["check", str(bad)]) == 2
    assert P.main(["check", str(target), str(bad)]) == 2


@pytest.mark.parametrize("kind", ["directory", "binary", "missing", "not a mapping"])
def test_params_check_names_an_unreadable_file(tmp_path, kind, capsys):
    path = tmp_path / "params.yaml"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00\x81")
    elif kind == "not a mapping":
        path.write_text("- 1\n- 2\n")
    assert P.main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and len(err.strip().splitlines()) == 1


def test_clinical_cohort_is_new_people_with_the_clinical_size():
    p = P.load(ROOT / "params.yaml")
    v = P.clinical_cohort_params(p)
    assert v.seed == p.seed + 1 and v.acquire.cohort.n_subjects == p.clinical.n_subjects
    assert v.acquire.cohort.deformity_share == p.clinical.deformity_share and v.acquire.sensor == p.acquire.sensor
    t = P.clinical_cohort_params(p, tuning=True)  # the tuning cohort: other new people
    assert t.seed == p.seed + 2 and t.acquire.cohort.n_subjects == p.clinical.n_tuning_subjects
    assert t.seed not in {p.seed, v.seed} | {P.shifted_cohort_params(p, n).seed for n in p.generalise.cohorts}


def test_generalisation_cohorts_are_new_people_with_their_shifts():
    p = P.load(ROOT / "params.yaml")
    seeds = set()
    for name in p.generalise.cohorts:
        v = P.shifted_cohort_params(p, name)
        seeds.add(v.seed)
        assert v.seed >= p.seed + 1000 and v.acquire.cohort.n_subjects == p.generalise.n_subjects
        for section, values in p.generalise.cohorts[name].items():
            assert all(getattr(getattr(v.acquire, section), k) == val for k, val in values.items())
        assert v.preprocess == p.preprocess  # the study's preprocessing, as trained
    assert len(seeds) == len(p.generalise.cohorts) and not seeds & {p.seed, p.seed + 1}
    # a cohort standing beyond the fixed threshold is allowed here, on purpose
    far = p.model_dump()
    far["generalise"]["cohorts"] = {"far": {"sensor": {"distance_mm": 1800.0, "distance_jitter_mm": 100.0}}}
    assert P.shifted_cohort_params(P.validate(far), "far").acquire.sensor.distance_mm == 1800.0
    with pytest.raises(P.ParamsError, match="no cohort 'near'"):
        P.shifted_cohort_params(p, "near")
    # a cohort's people do not change when another cohort is added in front of it
    more = p.model_dump()
    more["generalise"]["cohorts"] = {"extra": {}, **more["generalise"]["cohorts"]}
    assert all(P.shifted_cohort_params(P.validate(more), n).seed == P.shifted_cohort_params(p, n).seed
               for n in p.generalise.cohorts)


@pytest.mark.parametrize("cohorts, message", [
    ({"x": {"cohort": {"age_mni": 50.0}}}, r"generalise: cohorts.x.cohort.age_mni: cannot be shifted"),
    ({"x": {"subject": {"age_min": 50.0}}}, r"generalise: cohorts.x.subject: unknown section"),
    ({"x": {"cohort": {"n_subjects": 5}}}, r"cohorts.x.cohort.n_subjects: cannot be shifted"),
    ({"../x": {}}, r"cohorts.../x: the name"),
    ({}, r"cohorts must name at least one cohort"),
    ({"old": {"cohort": {"age_min": 60.0}}}, r"params: old: acquire.cohort: age_min \(60.0\) exceeds age_max \(35.0\)"),
    ({"near_wall": {"sensor": {"wall_mm": 1400.0}}}, r"near_wall: acquire.sensor: wall_mm \(1400\) must stand"),
])
def test_generalisation_shifts_are_checked_naming_the_key(cohorts, message):
    data = P.load(ROOT / "params.yaml").model_dump()
    data["generalise"]["cohorts"] = cohorts
    with pytest.raises(P.ParamsError, match=message):
        P.validate(data)


def test_environment_yml_installs_the_project_with_pyproject_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    py = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert py == ["python=3.11"] and ">=3.11" in project["requires-python"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ['-e ".[dev]"']  # one source of truth for versions: pyproject.toml
    assert all("==" in dep for dep in project["dependencies"])


def test_notebooks_are_committed_without_outputs_and_read_the_whole_params_once():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be parameters"
        first = code[0].source
        assert 'params_file = "params.yaml"' in first and 'overlay = "profiles/smoke.yaml"' in first, path.name
        body = "\n".join(c.source for c in code[1:])
        assert body.count("load_study(params_file, overlay") == 1, f"{path.name}: validate the whole params once"
        assert "validate(" not in body, path.name


def test_dvc_stages_run_their_notebook_through_the_one_wrapper():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert stage["cmd"].startswith("tools/stage "), name
        notebook = next(d for d in stage["deps"] if d.startswith("notebooks/"))
        assert stage["cmd"].split()[1] == Path(notebook).stem, name
        assert "tools/stage" in stage["deps"], name


def test_train_matrix_reads_the_backbones_from_params():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert stages["train"]["matrix"]["backbone"] == "${train.backbones}"
    assert "artifacts/models/${clinical.backbone}" in stages["clinical"]["deps"]  # only the model it uses


def test_learning_rate_is_one_number_or_one_per_backbone():
    p = P.load(ROOT / "params.yaml")
    data = p.model_dump()
    data["train"]["learning_rate"] = 0.002
    assert all(P.validate(data).train.rate_of(bb) == 0.002 for bb in p.train.backbones)
    data["train"]["learning_rate"] = {"vgg19": 1e-4, "resnet50": 1e-3}
    data["train"]["backbones"] = ["vgg19", "resnet50", "resnet152"]
    with pytest.raises(P.ParamsError, match="train: learning_rate names nothing for resnet152"):
        P.validate(data)
    data["train"]["learning_rate"] = {"vgg19": 1e-4, "resnet50": 1e-3, "resnet152": 2.0}
    with pytest.raises(P.ParamsError, match="train.learning_rate"):
        P.validate(data)


def test_the_cosine_warm_up_is_shorter_than_training_and_the_leakage_backbone_has_a_rate():
    data = P.load(ROOT / "params.yaml").model_dump()
    data["train"] |= {"lr_schedule": "cosine", "warmup_epochs": 10,
                      "epochs": {"vgg19": 10, "resnet50": 15, "resnet152": 15}}  # the fewest epochs count
    with pytest.raises(P.ParamsError, match=r"train: warmup_epochs \(10\) must be fewer than epochs \(10\)"):
        P.validate(data)
    data = P.load(ROOT / "params.yaml").model_dump()
    data["train"] |= {"backbones": ["vgg19"], "learning_rate": {"vgg19": 1e-4}}
    data["leakage"]["learning_rate"] = None  # null: the leakage model takes its backbone's training rate
    with pytest.raises(P.ParamsError, match="learning_rate names nothing for resnet50, the leakage experiment's"):
        P.validate(data)


def test_the_leakage_model_trains_in_its_own_precision():
    from backsurface.net.train import TrainConfig
    data = P.load(ROOT / "params.yaml").model_dump()
    data["train"]["precision"], data["leakage"]["precision"] = "mixed_bfloat16", "float32"
    params = P.validate(data)
    assert TrainConfig.for_leakage(params).precision == "float32"
    assert TrainConfig.from_params(params, "resnet50").precision == "mixed_bfloat16"
    data["leakage"]["precision"] = "bf16"
    with pytest.raises(P.ParamsError, match="leakage.precision"):
        P.validate(data)


def test_the_leakage_model_takes_its_own_rate_or_its_backbones():
    from backsurface.net.train import TrainConfig
    data = P.load(ROOT / "params.yaml").model_dump()
    data["train"] |= {"backbones": ["vgg19"], "learning_rate": {"vgg19": 1e-4}}
    data["leakage"]["learning_rate"] = 2e-3  # its own: the training rates need not name its backbone
    assert TrainConfig.for_leakage(P.validate(data)).learning_rate == 2e-3
    data = P.load(ROOT / "params.yaml").model_dump()
    data["leakage"]["learning_rate"] = None
    data["train"]["learning_rate"] = {"vgg19": 1e-4, "resnet50": 5e-4, "resnet152": 3e-4}
    assert TrainConfig.for_leakage(P.validate(data)).learning_rate == 5e-4
    for bad in (0.0, 2.0, "0.001", True):
        data["leakage"]["learning_rate"] = bad
        with pytest.raises(P.ParamsError, match="leakage.learning_rate"):
            P.validate(data)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_flip_test_is_a_boolean(bad):
    data = with_(evaluate={"flip_test": bad})
    with pytest.raises(P.ParamsError, match="evaluate.flip_test"):
        P.validate(data)


def test_epochs_are_one_or_one_per_backbone():
    from backsurface.net.train import TrainConfig
    data = P.load(ROOT / "params.yaml").model_dump()
    data["train"]["epochs"] = {"vgg19": 10, "resnet50": 15, "resnet152": 20}
    q = P.validate(data)
    assert [TrainConfig.from_params(q, bb).epochs for bb in ("vgg19", "resnet50", "resnet152")] == [10, 15, 20]
    data["train"]["epochs"] = 12
    assert TrainConfig.from_params(P.validate(data), "resnet152").epochs == 12
    data["train"]["epochs"] = {"vgg19": 10, "resnet50": 15}
    with pytest.raises(P.ParamsError, match="train: epochs names nothing for resnet152"):
        P.validate(data)
    data["train"]["epochs"] = {"vgg19": 0, "resnet50": 15, "resnet152": 15}
    with pytest.raises(P.ParamsError, match="train.epochs.vgg19: Input should be greater than or equal to 1"):
        P.validate(data)


def test_the_schedule_is_one_or_one_per_backbone_and_constant_runs_record_no_warm_up():
    from backsurface.net.train import TrainConfig
    p = P.load(ROOT / "params.yaml")
    data = p.model_dump()
    data["train"] |= {"lr_schedule": {"vgg19": "constant", "resnet50": "cosine", "resnet152": "cosine"},
                      "warmup_epochs": 1}
    q = P.validate(data)
    assert [q.train.schedule_of(bb) for bb in ("vgg19", "resnet50")] == ["constant", "cosine"]
    assert TrainConfig.from_params(q, "vgg19").warmup_epochs == 0
    assert TrainConfig.from_params(q, "resnet50").warmup_epochs == 1
    data["train"]["lr_schedule"] = {"vgg19": "constant", "resnet50": "cosine"}
    with pytest.raises(P.ParamsError, match="train: lr_schedule names nothing for resnet152"):
        P.validate(data)
    data["train"]["lr_schedule"] = {"vgg19": "constant", "resnet50": "cosine", "resnet152": "linear"}
    with pytest.raises(P.ParamsError, match="train.lr_schedule"):
        P.validate(data)
