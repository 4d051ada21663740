"""params.yaml schema: defaults, clear errors naming the key, overlays, the committed files in step."""

import tomllib
from pathlib import Path

import pytest
import yaml

from backsurface import params as P

ROOT = Path(__file__).resolve().parents[1]


def test_committed_params_and_paper_overlay_are_valid():
    default = P.load(ROOT / "params.yaml")
    assert default.acquire.cohort.n_subjects == 105 and default.split.n_test_subjects == 25
    merged = P.validate(P.deep_merge(P.read_yaml(ROOT / "params.yaml"), P.read_yaml(ROOT / "profiles/paper.yaml")))
    assert merged.preprocess.input_size == 368
    assert merged.acquire.cohort.deformity_share == 0.0  # healthy volunteers, as in the paper


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"acquire": {"cohort": {"n_subject": 3}}}, r"acquire\.cohort\.n_subject: unknown key"),
        ({"preprocess": {"input_size": "big"}}, r"preprocess\.input_size: .*integer"),
        ({"labels": {"sigma_px": -1}}, r"labels\.sigma_px: .*greater than 0"),
        ({"acquire": {"source": "camera"}}, r"acquire\.source: .*'synthetic', 'kinect' or 'import'"),
        ({"acquire": {"cohort": {"n_subjects": 4, "n_female": 5}}}, r"acquire\.cohort: .*n_female \(5\) exceeds"),
        ({"sede": 1}, r"sede: unknown key"),
    ],
)
def test_bad_params_name_the_key(data, message):
    with pytest.raises(P.ParamsError, match=message):
        P.validate(data, source="params.yaml")


def test_apply_overlay_validates_before_writing(tmp_path):
    target = tmp_path / "params.yaml"
    target.write_text(yaml.safe_dump({"seed": 1, "preprocess": {"input_size": 184, "crop": "none"}}))
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"preprocess": {"input_size": 368}}))
    P.apply_overlay(target, good)
    assert P.read_yaml(target) == {"seed": 1, "preprocess": {"input_size": 368, "crop": "none"}}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"preprocess": {"input_sise": 368}}))
    before = target.read_text()
    with pytest.raises(P.ParamsError, match="input_sise: unknown key"):
        P.apply_overlay(target, bad)
    assert target.read_text() == before
    assert P.main(["check", str(target)]) == 0
    assert P.main(["check", str(bad)]) == 1


def test_environment_yml_installs_the_project_with_pyproject_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    py = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert py == ["python=3.11"] and ">=3.11" in project["requires-python"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip_section == ['-e ".[dev]"']  # one source of truth for versions: pyproject.toml
    assert all("==" in dep for dep in project["dependencies"])


def test_notebooks_are_committed_without_outputs_and_with_a_parameters_cell():
    import nbformat

    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        assert "parameters" in code[0].metadata.get("tags", []), f"{path.name}: first code cell must be parameters"


def test_dvc_stages_run_the_notebooks_with_params_injected():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        assert "papermill" in stage["cmd"] and "-f params.yaml" in stage["cmd"], name
        notebook = next(d for d in stage["deps"] if d.startswith("notebooks/"))
        assert f"reports/notebooks/{Path(notebook).stem}" in stage["cmd"], name


def test_train_matrix_matches_the_backbones_in_params():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    params = P.load(ROOT / "params.yaml")
    assert stages["train"]["matrix"]["backbone"] == list(params.train.backbones)


def test_train_and_evaluate_params_are_checked():
    with pytest.raises(P.ParamsError, match=r"train\.weights"):
        P.validate({"train": {"weights": "imagenet21k"}})
    with pytest.raises(P.ParamsError, match=r"train\.backbones"):
        P.validate({"train": {"backbones": ["vgg16"]}})
    with pytest.raises(P.ParamsError, match="without repeats"):
        P.validate({"train": {"backbones": ["vgg19", "vgg19"]}})
    with pytest.raises(P.ParamsError, match=r"input_size must be a multiple of the backbones' stride 8"):
        P.validate({"preprocess": {"input_size": 100}})
    with pytest.raises(P.ParamsError, match=r"evaluate\.pck_mm"):
        P.validate({"evaluate": {"pck_mm": -1}})
