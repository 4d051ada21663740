"""The package's layout holds: layers import only downwards, the numeric core is free of TensorFlow and torch,
no import cycles, and every DVC stage depends on exactly the library code its notebook runs."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lib_imports as li  # noqa: E402

PKG = ROOT / "lib" / "backsurface"
LAYERS = ["core", "acquisition", "data", "codec", "net", "evaluation", "clinical", "figures"]
"""Bottom to top: raw frames → arrays → labels → models → metrics → clinical indices → figures and tables."""
NUMERIC_CORE = ["core", "data", "codec", "evaluation", "clinical"]
HEAVY = ("tensorflow", "keras", "torch", "onnxruntime", "tf2onnx")


def all_modules() -> list[str]:
    return sorted(li.module_name(p) for p in PKG.rglob("*.py"))


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else len(LAYERS)  # top level: above all


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for m in all_modules():
        path = li.module_file(m)
        graph[m] = li.imports_of_source(path.read_text(), m, path.name == "__init__.py") - {m}
    return graph


def layering_violations(graph: dict[str, set[str]]) -> list[str]:
    return [f"{a} (layer {LAYERS[layer_of(a)] if layer_of(a) < len(LAYERS) else 'top'}) imports {b}"
            for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a)]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if nxt.startswith(node + ".") or node.startswith(nxt + "."):
                continue  # a package and its own modules
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    return found


def test_the_package_is_a_handful_of_top_level_modules_and_one_subpackage_per_layer():
    top = sorted(p.name for p in PKG.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]
    assert sorted(d.name for d in PKG.iterdir() if (d / "__init__.py").is_file()) == sorted(LAYERS)


def test_layers_import_only_downwards():
    assert layering_violations(import_graph()) == []


def test_the_layering_check_catches_an_upward_import():
    broken = import_graph()
    broken["backsurface.codec.decode"] = broken["backsurface.codec.decode"] | {"backsurface.data.datasets",
                                                                               "backsurface.net.train"}
    assert layering_violations(broken) == ["backsurface.codec.decode (layer codec) imports backsurface.net.train"]


def test_no_import_cycles():
    assert cycles(import_graph()) == []
    broken = import_graph()
    broken["backsurface.acquisition.recording"] = {"backsurface.acquisition.kinect_live"}
    assert cycles(broken)  # kinect_live imports recording: the check sees the loop


def test_the_numeric_core_imports_neither_tensorflow_nor_torch():
    for m in all_modules():
        if layer_of(m) < len(LAYERS) and LAYERS[layer_of(m)] in NUMERIC_CORE:
            source = li.module_file(m).read_text()
            for heavy in HEAVY:
                assert f"import {heavy}" not in source and f"from {heavy}" not in source, f"{m} imports {heavy}"
    core = [m for m in all_modules() if layer_of(m) < len(LAYERS) and LAYERS[layer_of(m)] in NUMERIC_CORE]
    code = "import sys\n" + "".join(f"import {m}\n" for m in core) + f"print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---------------------------------------------------------------------------------------------------- DVC deps


def is_empty(module: str) -> bool:
    """A package marker: nothing but a docstring and constants (``__version__``), so no stage depends on it."""
    import ast

    body = ast.parse(li.module_file(module).read_text()).body
    return all(isinstance(n, ast.Expr | ast.Assign) and isinstance(n.value, ast.Constant) for n in body)


def stage_lib_deps(stage: dict) -> list[str]:
    return [d for d in stage["deps"] if d.startswith("lib/")]


def covers(dep: str, module: str) -> bool:
    f = str(li.module_file(module).relative_to(ROOT))
    return f == dep or f.startswith(dep.rstrip("/") + "/")


def dep_problems(stage: dict) -> list[str]:
    """What is wrong with one stage's lib deps: modules its notebook runs that no dep covers, deps that cover
    nothing it runs, and figure modules declared as a whole folder (they are declared one by one)."""
    notebook = next(d for d in stage["deps"] if d.startswith("notebooks/"))
    run = {m for m in li.notebook_closure(ROOT / notebook) if not is_empty(m)}
    deps = stage_lib_deps(stage)
    problems = [f"{notebook} runs {li.module_file(m).relative_to(ROOT)} but no dep covers it"
                for m in sorted(run) if not any(covers(d, m) for d in deps)]
    problems += [f"dep {d} covers nothing {notebook} runs" for d in deps if not any(covers(d, m) for m in run)]
    problems += [f"dep {d}: declare figure modules one by one" for d in deps
                 if d.rstrip("/") == "lib/backsurface/figures"]
    return problems


def stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def test_package_markers_run_no_code_except_the_network_layers():
    markers = {li.module_name(p) for p in PKG.rglob("__init__.py")}
    assert {m for m in markers if not is_empty(m)} == {"backsurface.net"}  # starts TensorFlow quietly
    assert "import" not in (PKG / "__init__.py").read_text()  # the version only: no stage needs it as a dep


@pytest.mark.parametrize("name", sorted(stages()))
def test_each_stage_depends_on_exactly_the_library_code_its_notebook_runs(name):
    assert dep_problems(stages()[name]) == []


def test_the_deps_check_catches_a_missing_and_a_stale_dep():
    stage = dict(stages()["evaluate"])
    stage["deps"] = [d for d in stage["deps"] if d != "lib/backsurface/codec"] + ["lib/backsurface/clinical"]
    problems = dep_problems(stage)
    assert any("runs lib/backsurface/codec/label_codec.py but no dep covers it" in p for p in problems)
    assert "dep lib/backsurface/clinical covers nothing notebooks/06_evaluate.ipynb runs" in problems
