"""The spec's `/api/ai-image` curl example, and `mode=ai`, against `mosaic serve` and a fake upstream."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
from PIL import Image

from tests.e2e.live import create_user_with_key, fixture_as_jpeg, server_env, serving
from tests.fakes.openai_server import serving as serving_fake

SPEC_BASE_URL = "https://mosaic-api.fly.dev"
AI_IMAGE_EXAMPLE = """curl -X POST https://mosaic-api.fly.dev/api/ai-image \\
  -H "Authorization: Bearer us_live_YOUR_KEY" \\
  -F "prompt=a cute unicorn in a flower garden" \\
  -F "style=coloring" \\
  -F "quality=low" \\
  -o ai-coloring.png"""
AI_COLORING = """curl -X POST https://mosaic-api.fly.dev/api/generate \\
  -H "Authorization: Bearer us_live_YOUR_KEY" \\
  -F "image=@photo.jpg" \\
  -F "mode=ai" \\
  -F "hint=a cup of coffee" \\
  -F "output=mystery" \\
  -o ai-page.png"""
SPEC_FILE = Path(__file__).parents[1] / "fixtures" / "spec" / "univers-studio-api.txt"
UPSTREAM_KEY = "sk-e2e-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def _curl(example: str, *, base_url: str, key: str, cwd: Path) -> str:
    command = example.replace(SPEC_BASE_URL, base_url).replace("us_live_YOUR_KEY", key)
    done = subprocess.run(
        command + ' -sS -w "%{http_code}"', check=False, shell=True, cwd=cwd, capture_output=True, text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_specs_ai_image_example_and_mode_ai_work_against_mosaic_serve(tmp_path: Path) -> None:
    assert AI_IMAGE_EXAMPLE in SPEC_FILE.read_text()
    fixture_as_jpeg("coffee.png", tmp_path / "photo.jpg", width_px=240)
    with serving_fake() as fake:
        env = server_env(
            f"sqlite:///{tmp_path / 'mosaic.db'}", MOSAIC_AI_BASE_URL=fake.base_url, MOSAIC_AI_API_KEY=UPSTREAM_KEY
        )
        key = create_user_with_key(env, "artist@example.com")
        with serving(env, tmp_path / "server.log") as server:
            assert _curl(AI_IMAGE_EXAMPLE, base_url=server.url, key=key, cwd=tmp_path) == "200"
            assert _curl(AI_COLORING, base_url=server.url, key=key, cwd=tmp_path) == "200"
            balance = httpx.get(f"{server.url}/api/credits/balance", headers={"Authorization": f"Bearer {key}"})
            assert balance.json()["balance"] == 800 - 2
        assert fake.calls_by_path == {"images/generations": 1, "images/edits": 1}
        assert set(fake.authorizations) == {f"Bearer {UPSTREAM_KEY}"}
    for name in ("ai-coloring.png", "ai-page.png"):
        with Image.open(tmp_path / name) as picture:
            assert picture.format == "PNG"
            picture.load()
    assert UPSTREAM_KEY[-12:] not in (tmp_path / "server.log").read_text()
