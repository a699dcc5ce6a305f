"""The layout is the architecture: which of our packages may import which (read from the source)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mosaic"  # src/ is installed as this package
HTTP = f"{PACKAGE}.http"
# Only the entry points may start the server: the CLI modules and the composition root.
HTTP_IMPORTERS = ("cli*.py", "bootstrap.py")


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


@pytest.mark.parametrize("layer", ["domain", "imaging"])
def test_domain_and_imaging_import_nothing_of_ours_outside_themselves(layer: str) -> None:
    files = sorted((SRC / layer).rglob("*.py"))
    assert files, f"src/{layer} has no modules"
    leaks = {
        str(path.relative_to(SRC)): sorted(
            module
            for module in _imported(path)
            if _ours(module) and not _inside(module, f"{PACKAGE}.{layer}")
        )
        for path in files
    }
    assert {path: modules for path, modules in leaks.items() if modules} == {}


def test_only_the_cli_and_the_composition_root_import_the_http_layer() -> None:
    allowed = {path for pattern in HTTP_IMPORTERS for path in SRC.glob(pattern)}
    outside_http = [path for path in sorted(SRC.rglob("*.py")) if not path.is_relative_to(SRC / "http")]
    importers = sorted(
        str(path.relative_to(SRC))
        for path in outside_http
        if path not in allowed and any(_inside(module, HTTP) for module in _imported(path))
    )
    assert importers == []
