"""Issue 13's limits on the package's shape: no module over 300 lines, no function over 60 (from its ``def``), and
no ``Any`` in a public function's signature. Nothing else checks them; the largest module is near the limit."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "solidarity_mailer"
MODULES = sorted(PACKAGE.rglob("*.py"))
Function = ast.FunctionDef | ast.AsyncFunctionDef


def functions(path: Path) -> list[tuple[list[str], Function]]:
    """Every function of the module with the names of the classes and functions around it."""
    found: list[tuple[list[str], Function]] = []

    def visit(node: ast.AST, outer: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, Function):
                found.append((outer, child))
            if isinstance(child, Function | ast.ClassDef):
                visit(child, [*outer, child.name])

    visit(ast.parse(path.read_text(encoding="utf-8")), [])
    return found


def test_no_module_is_over_300_lines() -> None:
    lines = {p.relative_to(PACKAGE).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in MODULES}
    assert len(lines) > 100 and {name: n for name, n in lines.items() if n > 300} == {}


def test_no_function_is_over_60_lines() -> None:
    def length(f: Function) -> int:
        return (f.end_lineno or f.lineno) - f.lineno + 1

    long = [f"{p.relative_to(PACKAGE)}:{f.lineno} {f.name} ({length(f)})"
            for p in MODULES for _, f in functions(p) if length(f) > 60]
    assert long == []


def test_no_any_in_a_public_signature() -> None:
    def public(outer: list[str], f: Function) -> bool:
        return not any(name.startswith("_") for name in [*outer, f.name] if not name.startswith("__"))

    found = []
    for p in MODULES:
        for outer, f in functions(p):
            annotations = [a.annotation for a in [*f.args.posonlyargs, *f.args.args, *f.args.kwonlyargs,
                                                  f.args.vararg, f.args.kwarg] if a and a.annotation] + [f.returns]
            if public(outer, f) and f.name != "__reduce__" and any(  # __reduce__: the pickle protocol's own type
                    isinstance(n, ast.Name) and n.id == "Any" for a in annotations if a for n in ast.walk(a)):
                found.append(f"{p.relative_to(PACKAGE)}:{f.lineno} {f.name}")
    assert found == []
