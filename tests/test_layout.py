"""The layout's rules, read from the source: who may import whom, no import cycles, modules of a readable size.

``matcher`` is a library (no web or database code) that owns its input contract: it imports neither ``api`` nor
``synthetic``. ``synthetic`` imports no ``api``. The use cases of ``api`` import no HTTP code. No command-line tool
reaches into another's commands. No module imports another in a cycle. A module over 400 lines says why.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "matcher", "synthetic")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def imports(path: Path, module_level_only: bool) -> set[str]:
    """Modules named by the file's imports (``from a.b import c`` names a.b and a.b.c); imports under
    ``if TYPE_CHECKING:`` are left out, as are those inside functions when ``module_level_only``."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            if module_level_only:
                if isinstance(node, ast.If | ast.Try):
                    visit(node.body)
                    visit(node.orelse)
                    for handler in getattr(node, "handlers", ()):
                        visit(handler.body)
            else:
                visit([child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)])

    visit(ast.parse(path.read_text()).body)
    return found


def names_under(found: set[str], prefixes: tuple[str, ...]) -> set[str]:
    return {name for name in found if name.split(".")[0] in prefixes or name.startswith(prefixes)}


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("matcher", ("api", "synthetic", "fastapi", "starlette", "uvicorn", "httpx", "sqlalchemy", "psycopg")),
        ("synthetic", ("api",)),
        ("api.usecases", ("fastapi", "starlette", "pydantic", "api.http")),
        ("api.cli", ("matcher.cli", "synthetic.cli")),
        ("matcher.cli", ("api", "synthetic")),
        ("synthetic.cli", ("api", "matcher.cli")),
    ],
)
def test_a_package_imports_nothing_it_must_not(importer, forbidden):
    offences = {
        name: sorted(names_under(imports(path, module_level_only=False), forbidden))
        for name, path in modules().items()
        if name == importer or name.startswith(f"{importer}.")
    }
    assert {name: found for name, found in offences.items() if found} == {}


def test_no_module_imports_another_in_a_cycle():
    graph = {
        name: {dep for dep in imports(path, module_level_only=True) if dep in modules() and dep != name}
        for name, path in modules().items()
    }
    cycles, done = [], set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append([*trail[trail.index(name) :], name])
            return
        if name in done:
            return
        for dep in sorted(graph[name]):
            walk(dep, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])
    assert cycles == []


def test_a_module_over_400_lines_says_why():
    long = {
        name: len(path.read_text().splitlines())
        for name, path in modules().items()
        if len(path.read_text().splitlines()) > MAX_LINES
        and f"{MAX_LINES} lines" not in (ast.get_docstring(ast.parse(path.read_text())) or "")
    }
    assert long == {}


def test_the_rules_see_the_imports_they_judge():
    """The checks above would pass on nothing: they must find the imports that are there."""
    assert "matcher.comparison" in imports(modules()["matcher.tracer"], module_level_only=True)
    assert "matcher.contract.schema" in imports(modules()["synthetic.population"], module_level_only=False)
    assert len(modules()) > 100
