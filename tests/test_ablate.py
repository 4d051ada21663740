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
    (["run", "x", "-S", "labels.stride=4"], "labels.stride must be 8"),
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
                                                             "augment.rotate_deg=5", "preprocess.crop=none"]])
def test_a_run_with_the_study_data_trains_on_the_labels_on_disk(pairs):
    ablate = _ablate()
    study = ablate.read_yaml(ROOT / "params.yaml")
    same = [f"augment.{k}={str(v).lower()}" for k, v in study["augment"].items()]
    same += [f"labels.{k}={v}" for k, v in study["labels"].items()]
    params, rebuild = ablate.study_params(ablate.parse_changes(pairs + same))
    assert not rebuild and params.augment.model_dump() == study["augment"]


@pytest.mark.parametrize("pair", ["augment.copies=0", "augment.copies=2", "augment.hflip=false", "augment.shift_px=4",
                                  "preprocess.crop=back", "preprocess.input_size=144", "labels.sigma_px=6"])
def test_a_run_that_changes_a_data_key_builds_its_own_data(pair):
    ablate = _ablate()
    params, rebuild = ablate.study_params(ablate.parse_changes([pair]))
    assert rebuild
    section, _, rest = pair.partition(".")
    key, value = rest.split("=")
    assert getattr(getattr(params, section), key) == ablate.yaml.safe_load(value)
