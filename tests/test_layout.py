"""The map of the code stays as issue 28 drew it: the README's Layout block is generated from the tree, every
import of archscout inside the package resolves (import-linter skips ones that do not), no ``__init__.py`` holds
logic, no class is over 300 lines or function over 100, and at most 10 modules sit at the top of the package.

``python tests/test_layout.py --write`` rewrites the README's Layout block from the tree."""
from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "archscout"
README = ROOT / "README.md"
FENCE = "```text\n"


def _summary(path: Path) -> str:
    """The first sentence of a module's (or package's ``__init__``) docstring."""
    source = path / "__init__.py" if path.is_dir() else path
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    first = re.sub(r":\w+:`~?\.?([^`]+)`", r"\1", first).replace("``", "`")
    return first.split(". ")[0].rstrip(".")


def layout_block() -> str:
    """One entry per top-level module and package of src/archscout, with its docstring's first sentence."""
    entries = sorted(p for p in PACKAGE.iterdir()
                     if (p.suffix == ".py" and p.name != "__init__.py") or (p.is_dir() and (p / "__init__.py").exists()))
    lines = ["src/archscout/"]
    for p in entries:
        name = p.name + "/" if p.is_dir() else p.name
        wrapped = textwrap.wrap(_summary(p), width=100)
        lines.append(f"  {name:<14} {wrapped[0] if wrapped else ''}".rstrip())
        lines += [" " * 17 + w for w in wrapped[1:]]
    lines += ["benchmarks/      scripts behind docs/benchmarks/ (each page names its command, machine and date)",
              "tests/           unit and end-to-end tests (offline), one folder per package"]
    return "\n".join(lines) + "\n"


def _readme_block(text: str) -> tuple[int, int]:
    start = text.index(FENCE, text.index("## Layout")) + len(FENCE)
    return start, text.index("```", start)


def test_the_readme_layout_block_is_the_tree():
    text = README.read_text()
    start, end = _readme_block(text)
    assert text[start:end] == layout_block(), "the README's Layout block is stale: python tests/test_layout.py --write"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path.name == "__init__.py"


def test_every_import_of_archscout_resolves_lazy_ones_included():
    bad = []
    for path, module, is_package in _modules():
        package = module if is_package else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("archscout")):
                continue
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            if importlib.util.find_spec(target) is None:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}, which does not exist")
                continue
            imported = importlib.import_module(target)
            bad += [f"{path.relative_to(ROOT)}:{node.lineno} {target} has no {a.name}" for a in node.names
                    if not hasattr(imported, a.name) and importlib.util.find_spec(f"{target}.{a.name}") is None]
    assert not bad, "\n".join(bad)


def test_no_init_holds_logic():
    allowed = (ast.Import, ast.ImportFrom)
    logic = []
    for path, _, is_package in _modules():
        if not is_package:
            continue
        for node in ast.parse(path.read_text()).body:
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            dunder_all = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] in (
                ["__all__"], ["__version__"])
            if not (isinstance(node, allowed) or docstring or dunder_all):
                logic.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not logic, "logic in an __init__.py: " + ", ".join(logic)


def test_no_class_over_300_lines_and_no_function_over_100():
    big = []
    for path, _, _ in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            limit = 300 if isinstance(node, ast.ClassDef) else 100
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert not big, "\n".join(big)


def test_at_most_ten_modules_at_the_top_of_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 10, top


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    text = README.read_text()
    start, end = _readme_block(text)
    README.write_text(text[:start] + layout_block() + text[end:])
    print("README.md: Layout block written")
