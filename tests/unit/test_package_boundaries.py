"""Who may import whom: the core imports no framework, the license authority is its own product
(it builds on the core and the shared infrastructure only), and no two packages import each other.

Read from the source with ``ast``, so an import inside a function counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import calkeeper

SOURCE = Path(calkeeper.__file__).parent
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "typer", "rich", "httpx", "pydantic",
              "pydantic_settings", "jinja2", "uvicorn", "ldap3", "prometheus_client", "argon2", "pygal"}
# The CLI is the top edge (``calkeeper authority ...`` are the vendor's commands) and the demo signs
# its own license: they alone may use the authority.
MAY_USE_THE_AUTHORITY = {"cli", "demo", "authority"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> Iterator[tuple[str, str]]:
    """Every (importing module, imported module) pair in calkeeper's source."""
    for path in sorted(SOURCE.rglob("*.py")):
        module = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield module, alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                yield module, node.module
                for alias in node.names:  # ``from calkeeper.api import errors`` imports calkeeper.infra.http_errors
                    yield module, f"{node.module}.{alias.name}"


def _package(module: str) -> str:
    """The part of calkeeper a module belongs to: ``calkeeper.api.app`` -> ``api``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _calkeeper_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, imported in _imports():
        if imported.startswith("calkeeper.") and _package(imported) != _package(module):
            edges.setdefault(_package(module), set()).add(_package(imported))
    return edges


def test_the_core_imports_no_framework_and_nothing_outside_itself() -> None:
    found = {(m, i) for m, i in _imports() if _package(m) == "core"
             and (i.split(".")[0] in FRAMEWORKS or (i.startswith("calkeeper.") and _package(i) != "core"))}
    assert found == set()


def test_the_shared_infrastructure_builds_on_the_core_only() -> None:
    found = {(m, i) for m, i in _imports() if _package(m) == "infra"
             and i.startswith("calkeeper.") and _package(i) not in {"core", "infra"}}
    assert found == set()


def test_the_license_authority_imports_only_the_core_and_the_shared_infrastructure() -> None:
    found = {(m, i) for m, i in _imports() if _package(m) == "authority"
             and i.startswith("calkeeper.") and _package(i) not in {"authority", "core", "infra"}}
    assert found == set()


def test_the_cal_server_imports_nothing_of_the_license_authority() -> None:
    found = {(m, i) for m, i in _imports() if _package(i) == "authority" and i.startswith("calkeeper.")
             and _package(m) not in MAY_USE_THE_AUTHORITY}
    assert found == set()


def test_no_two_packages_import_each_other_even_through_others() -> None:
    edges = _calkeeper_edges()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            for step in edges.get(todo.pop(), set()) - seen:
                if step == goal:
                    return True
                seen.add(step)
                todo.append(step)
        return False

    cycles = sorted(f"{a} -> {b} -> ... -> {a}" for a in edges for b in edges[a] if reaches(b, a))
    assert cycles == []
