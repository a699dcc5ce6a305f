"""The spec's three curl examples, unchanged but for the base URL and the key, against `mosaic serve`."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import httpx

from tests.e2e.live import create_user_with_key, fixture_as_jpeg, server_env, serving

SPEC_BASE_URL = "https://mosaic-api.fly.dev"
SPEC_EXAMPLES = {
    "coloring page": """curl -X POST https://mosaic-api.fly.dev/api/generate \\
  -H "Authorization: Bearer us_live_YOUR_KEY" \\
  -F "image=@photo.jpg" \\
  -F "mode=lineart" \\
  -F "output=zip" \\
  -o coloring-page.zip""",
    "color by number": """curl -X POST https://mosaic-api.fly.dev/api/generate \\
  -H "Authorization: Bearer us_live_YOUR_KEY" \\
  -F "image=@photo.jpg" \\
  -F "mode=cbn" \\
  -F "colors=10" \\
  -o color-by-number.zip""",
    "bulk": """curl -X POST https://mosaic-api.fly.dev/api/bulk \\
  -H "Authorization: Bearer us_live_YOUR_KEY" \\
  -F "images=@photo1.jpg" \\
  -F "images=@photo2.jpg" \\
  -F "images=@photo3.jpg" \\
  -F "mode=lineart" \\
  -o bulk-coloring.zip""",
}
SPEC_FILE = Path(__file__).parents[1] / "fixtures" / "spec" / "univers-studio-api.txt"


def _run_curl(example: str, *, base_url: str, key: str, cwd: Path) -> str:
    """Run the example in a shell, as a user pastes it; returns the HTTP status curl saw."""
    command = example.replace(SPEC_BASE_URL, base_url).replace("us_live_YOUR_KEY", key)
    done = subprocess.run(
        command + ' -sS -w "%{http_code}"', check=False, shell=True, cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _balance(base_url: str, key: str) -> int:
    response = httpx.get(f"{base_url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    balance: int = response.json()["balance"]
    return balance


def test_the_examples_are_the_specs_own(tmp_path: Path) -> None:
    spec = SPEC_FILE.read_text()
    for example in SPEC_EXAMPLES.values():
        assert example in spec


def test_the_specs_three_curl_examples_work_against_mosaic_serve_and_charge_as_its_table(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'mosaic.db'}")
    key = create_user_with_key(env, "buyer@example.com")
    fixture_as_jpeg("coffee.png", tmp_path / "photo.jpg")
    for n, name in enumerate(("chelsea.png", "astronaut.png", "color.png"), start=1):
        fixture_as_jpeg(name, tmp_path / f"photo{n}.jpg", width_px=360)
    with serving(env, tmp_path / "server.log") as server:
        start = _balance(server.url, key)
        assert _run_curl(SPEC_EXAMPLES["coloring page"], base_url=server.url, key=key, cwd=tmp_path) == "200"
        assert _balance(server.url, key) == start - 1
        assert _run_curl(SPEC_EXAMPLES["color by number"], base_url=server.url, key=key, cwd=tmp_path) == "200"
        assert _balance(server.url, key) == start - 2
        assert _run_curl(SPEC_EXAMPLES["bulk"], base_url=server.url, key=key, cwd=tmp_path) == "200"
        assert _balance(server.url, key) == start - 5
    for name in ("coloring-page.zip", "color-by-number.zip"):
        with zipfile.ZipFile(tmp_path / name) as archive:
            assert archive.testzip() is None
            assert {"mystery.png", "answer.png", "legend.png", "palette.json"} <= set(archive.namelist())
    with zipfile.ZipFile(tmp_path / "bulk-coloring.zip") as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
    assert {"photo1/mystery.png", "photo2/mystery.png", "photo3/mystery.png", "manifest.json"} <= names
