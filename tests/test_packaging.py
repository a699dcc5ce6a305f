"""A wheel (a non-editable install) holds every package and data file of `src/` and the alembic scripts."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).parents[1]


def _files(folder: Path) -> list[PurePosixPath]:
    return [
        PurePosixPath(path.relative_to(folder).as_posix())
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    ]


@pytest.mark.slow
def test_the_wheel_ships_every_package_and_the_alembic_scripts(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("src", "alembic"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    packages = [f.parent for f in _files(ROOT / "src") if f.name == "__init__.py"]
    missing = [str(p) for p in packages if str(PurePosixPath("mosaic", p, "__init__.py")) not in shipped]
    assert missing == [], "add these packages to [tool.setuptools] packages"
    data = [str(PurePosixPath("mosaic", f)) for f in _files(ROOT / "src") if f.suffix != ".py"]
    assert "mosaic/http/static/app.js" in data and "mosaic/data/plans.toml" in data and "mosaic/data/ai_styles.toml" in data
    assert "mosaic/http/templates/base.html" in data and "mosaic/data/sample.png" in data  # pages, preset cards
    assert sorted(set(data) - shipped) == [], "add these files to [tool.setuptools.package-data]"
    scripts = [str(PurePosixPath("mosaic/_alembic", f)) for f in _files(ROOT / "alembic")]
    assert "mosaic/_alembic/versions/0001_ledger.py" in scripts
    assert sorted(set(scripts) - shipped) == []
