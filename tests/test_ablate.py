"""tools/ablate.py: bad command lines get one line and exit 2 before anything trains."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, message", [
    (["run", "x", "-S", "preprocess.crop=torso"], "-S 'preprocess.crop=torso': expected train.KEY=VALUE"),
    (["run", "x", "-S", "train.lr_shedule=cosine"], "params.yaml + -S: train.lr_shedule: unknown key"),
    (["run", "x", "-S", "train.epochs=ten"], "train.epochs: Input should be a valid integer, got 'ten'"),
    (["run", "../x"], "run name"),
    (["run", "x", "-S", "train.epochs"], "expected train.KEY=VALUE"),
    (["run", "x", "-S", "augment.shift_px=4"], "augment.shift_px is not one of the random copies' keys"),
    (["run", "x", "-S", "augment.hflip=maybe"], "augment.hflip: Input should be a valid boolean"),
    (["run", "x", "-S", "augment.hflip=true"], "-S augment.*: makes no copies (copies 0, hflip True"),
])
def test_bad_ablation_requests_are_one_line_and_exit_2(args, message, tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "ablate.py"), *args], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (ROOT / "build" / "ablation" / "x").exists()
