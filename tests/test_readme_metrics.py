"""The README's `dvc metrics show` block is the committed run's (tools/readme_metrics.py)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import readme_metrics as rm  # noqa: E402


def test_the_readme_block_shows_the_committed_metrics():
    assert rm.main(["--check"]) == 0, "README.md's metrics block is stale: run python tools/readme_metrics.py"


def test_a_stale_output_is_found_and_rewritten(tmp_path):
    commands = ["dvc metrics show reports/metrics/clinical.json", "dvc metrics show reports/metrics/train_*.json"]
    fresh = rm.render({c: rm.run(c) for c in commands})
    stale = [line.replace("reports/metrics/clinical.json  ", "reports/metrics/clinical.json  9") for line in fresh]
    assert stale != fresh and sum(line.startswith("reports/metrics/train_") for line in fresh) >= 1  # the glob ran
    readme = tmp_path / "README.md"
    readme.write_text("\n".join(["# A README", rm.MARKER, "```console", *stale, "```", "after", ""]))
    assert rm.main(["--check", "--readme", str(readme)]) == 1
    assert rm.main(["--readme", str(readme)]) == 0
    assert readme.read_text().split("\n") == ["# A README", rm.MARKER, "```console", *fresh, "```", "after", ""]
    assert rm.main(["--readme", str(readme), "--root", str(tmp_path)]) == 2  # no project there: nothing written
    assert readme.read_text().split("\n")[3:-3] == fresh


@pytest.mark.parametrize(("text", "says"), [
    ("no block here\n", "no line"),
    (f"{rm.MARKER}\nnot a fence\n", "expected a ```console block"),
    (f"{rm.MARKER}\n```console\n$ dvc metrics show x\n", "never closed"),
])
def test_a_readme_without_the_marked_block_is_refused(text, says):
    with pytest.raises(rm.ReadmeError, match=says):
        rm.block_bounds(text.split("\n"))


def test_only_dvc_metrics_commands_are_run():
    with pytest.raises(rm.ReadmeError, match="rm -rf"):
        rm.commands(["$ dvc metrics show a", "$ rm -rf /"])
    assert rm.commands(["$ dvc metrics show a b", "Path  x", "", "$ dvc metrics show c"]) == [
        "dvc metrics show a b", "dvc metrics show c"]
