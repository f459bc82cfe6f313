"""The direction of imports between the packages, and no import circles.

The graph is read with ``ast`` from the source, counting every import: at module level, inside
functions and under ``TYPE_CHECKING`` alike (an import moved into a function to dodge a circle
is still a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("intent", "personalization", "content_pool", "service")
HTTP = ("fastapi", "starlette")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}  # fmt: skip


def _imported(module: str, path: Path) -> Iterator[str]:
    """Every module name ``module`` imports (absolute, relative resolved)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    """``{module: {project modules it imports}}`` (``from a import b`` counts ``a.b`` when
    ``b`` is a module, else ``a``)."""
    modules = _modules()
    return {module: {name for name in _imported(module, path) if name in modules and
                     name != module} for module, path in modules.items()}  # fmt: skip


def _all_imports() -> dict[str, set[str]]:
    modules = _modules()
    return {module: set(_imported(module, path)) for module, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph``, or ``None``."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {name}"
        for module, names in _all_imports().items() if module.split(".")[0] == package
        for name in names if name.split(".")[0] in forbidden
    )  # fmt: skip


def test_the_graph_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("def f():\n    from service.app import create_app\n    from . import deps\n")
    assert {"service.app", "service.deps"} <= set(_imported("service.mod", source))
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_there_is_no_import_circle() -> None:
    assert _cycle(_graph()) is None


@pytest.mark.parametrize(("package", "forbidden"), [
    ("intent", ("personalization", "content_pool", "service")),
    ("content_pool", ("personalization", "intent", "service")),
    ("personalization", ("service",)),
    *((package, HTTP) for package in ("intent", "personalization", "content_pool")),
])  # fmt: skip
def test_dependencies_point_inward(package: str, forbidden: tuple[str, ...]) -> None:
    assert _offenders(package, forbidden) == []
