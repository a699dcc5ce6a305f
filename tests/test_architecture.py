"""The layout is the architecture: which of our packages may import which (read from the source)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mosaic"  # src/ is installed as this package
HTTP = f"{PACKAGE}.http"
HANDLER_LINES_MAX = 30


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _imported(path: Path) -> set[str]:
    return imported_modules(path.read_text("utf-8"), module=_module_name(path), is_package=path.name == "__init__.py")


def imported_modules(source: str, *, module: str, is_package: bool) -> set[str]:
    """Every module `source` (the text of `module`) imports, anywhere in it, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = parts[: len(parts) - (node.level - 1)] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            if target == PACKAGE or not node.module:  # `from mosaic import http`: the submodule
                found.update(f"{target}.{alias.name}" for alias in node.names)
            else:
                found.add(target)
    return found


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(f"{PACKAGE}.")


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_import_reader_finds_absolute_relative_package_and_nested_imports() -> None:
    source = (
        "import numpy\n"
        "from . import color\n"
        "from ..domain.keys import KeyRevoked\n"
        "from mosaic import http\n"
        "def late() -> None:\n"
        "    import mosaic.config\n"
    )
    found = imported_modules(source, module="mosaic.imaging.render", is_package=False)
    assert found == {"numpy", "mosaic.imaging.color", "mosaic.domain.keys", "mosaic.http", "mosaic.config"}


def _modules_of(layer: str) -> list[Path]:
    path = SRC / layer
    files = sorted(path.rglob("*.py")) if path.is_dir() else [SRC / f"{layer}.py"]
    assert files and all(f.exists() for f in files), f"src/{layer} has no modules"
    return files


def _ours_imported_by(layer: str) -> dict[str, set[str]]:
    """Each module of `layer` → the modules of ours it imports (outside `layer` itself)."""
    return {
        str(path.relative_to(SRC)): {
            m for m in _imported(path) if _ours(m) and not _inside(m, f"{PACKAGE}.{layer}")
        }
        for path in _modules_of(layer)
    }


def _breaking(layer: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    found = _ours_imported_by(layer)
    return {
        path: sorted(m for m in modules if not any(_inside(m, f"{PACKAGE}.{a}") for a in allowed))
        for path, modules in found.items()
        if any(not any(_inside(m, f"{PACKAGE}.{a}") for a in allowed) for m in modules)
    }


@pytest.mark.parametrize("layer", ["domain", "imaging"])
def test_domain_and_imaging_import_nothing_of_ours_outside_themselves(layer: str) -> None:
    assert _breaking(layer, allowed=()) == {}


def test_commands_import_the_domain_imaging_configuration_the_read_side_and_each_other_never_http_or_cli() -> None:
    assert _breaking("commands", allowed=("domain", "imaging", "config", "queries")) == {}


def test_queries_never_import_commands_http_or_cli() -> None:
    assert _breaking("queries", allowed=("domain", "config")) == {}


def test_http_imports_commands_and_queries_never_the_store_the_writer_or_sql() -> None:
    assert _breaking("http", allowed=("commands", "queries", "domain", "imaging", "config", "bootstrap")) == {}
    storage = ("mosaic.commands.store", "mosaic.commands.writer", "mosaic.queries.db", "eventsourcing",
               "psycopg", "sqlite3", "sqlalchemy", "alembic")
    leaks = {
        str(path.relative_to(SRC)): sorted(m for m in _imported(path) if any(_inside(m, s) for s in storage))
        for path in _modules_of("http")
    }
    assert {path: modules for path, modules in leaks.items() if modules} == {}
    sql = re.compile(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b")
    assert [str(p.relative_to(SRC)) for p in _modules_of("http") if sql.search(p.read_text("utf-8"))] == []


def test_only_the_composition_root_and_the_entry_points_import_bootstrap() -> None:
    entry_points = {*(SRC / "cli").rglob("*.py"), SRC / "http" / "server.py"}
    importers = sorted(
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if path not in entry_points and f"{PACKAGE}.bootstrap" in _imported(path)
    )
    assert importers == []


def test_only_the_cli_imports_the_http_layer_from_outside_it() -> None:
    outside_http = [path for path in sorted(SRC.rglob("*.py")) if not path.is_relative_to(SRC / "http")]
    importers = sorted(
        str(path.relative_to(SRC))
        for path in outside_http
        if not path.is_relative_to(SRC / "cli") and any(_inside(module, HTTP) for module in _imported(path))
    )
    assert importers == []


def test_the_top_level_holds_only_the_composition_root_the_configuration_and_the_console_entry() -> None:
    top = sorted(p.name for p in SRC.iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "bootstrap.py", "config.py"]
    assert (SRC / "cli" / "__init__.py").is_file()


def test_every_route_handler_is_short() -> None:
    from mosaic.http.routes import all_endpoints

    long_handlers = {}
    for endpoint in all_endpoints():
        lines, _ = inspect.getsourcelines(endpoint.handler)
        if len(lines) > HANDLER_LINES_MAX:
            long_handlers[endpoint.handler.__name__] = len(lines)
    assert long_handlers == {}
