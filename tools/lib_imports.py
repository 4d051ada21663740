"""Which library code a notebook or module runs: the transitive closure of its ``backsurface`` imports.

Used by the tests (``tests/test_layout.py``: the DVC deps of every stage cover exactly that code, and the
layers import only downwards) and by hand::

    python tools/lib_imports.py notebooks/06_evaluate.ipynb     # the lib paths a stage must depend on
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIB = ROOT / "lib"
PACKAGE = "backsurface"


def module_file(name: str) -> Path | None:
    """The file of a dotted module name under lib/ (a package's ``__init__.py``), or None."""
    base = LIB.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def module_name(path: Path) -> str:
    rel = path.resolve().relative_to(LIB).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of_source(source: str, current: str = "", is_package: bool = False) -> set[str]:
    """Every ``backsurface`` module that ``source`` imports, anywhere in it (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = current.split(".") if is_package else current.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, node.module] if node.module else base)
            else:
                mod = node.module or ""
            if mod.split(".")[0] != PACKAGE:
                continue
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names if module_file(f"{mod}.{a.name}")}
    return {m for m in found if module_file(m)}


def with_parents(names: set[str]) -> set[str]:
    """Importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` too."""
    out = set(names)
    for n in names:
        parts = n.split(".")
        out |= {".".join(parts[:i]) for i in range(1, len(parts))}
    return out


def closure(start: set[str]) -> set[str]:
    todo, seen = list(with_parents(start)), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        todo += with_parents(imports_of_source(path.read_text(), name, path.name == "__init__.py")) - seen
    return seen


def notebook_source(path: Path) -> str:
    nb = json.loads(Path(path).read_text())
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"
                     and not "".join(c["source"]).lstrip().startswith(("%", "!")))


def notebook_closure(path: Path) -> set[str]:
    return closure(imports_of_source(notebook_source(path)))


def files(modules: set[str]) -> list[str]:
    return sorted(str(module_file(m).relative_to(ROOT)) for m in modules)


def minimal_deps(modules: set[str]) -> list[str]:
    """The shortest list of lib paths that covers exactly ``modules``: a package folder where every file in it
    (sub-packages included) is in the set, else the files one by one."""
    wanted = {module_file(m).resolve() for m in modules}

    def cover(folder: Path) -> list[str]:
        everything = {p.resolve() for p in folder.rglob("*.py")}
        if everything and everything <= wanted:
            return [str(folder.relative_to(ROOT))]
        out = [str(p.relative_to(ROOT)) for p in sorted(folder.glob("*.py")) if p.resolve() in wanted]
        for sub in sorted(d for d in folder.iterdir() if d.is_dir() and (d / "__init__.py").is_file()):
            out += cover(sub)
        return out

    return cover(LIB / PACKAGE)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        mods = notebook_closure(Path(arg)) if arg.endswith(".ipynb") else closure({module_name(Path(arg))})
        print(arg)
        for f in minimal_deps(mods):
            print("  -", f)
