"""`/api/presets` and the OpenAPI document say which modes this server runs: `ai` only with an upstream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.http.ai.conftest import AiApp

LOCAL_MODES = ["hex", "voronoi", "square", "cbn", "lineart"]


@pytest.mark.parametrize(("base_url", "modes"), [(None, [*LOCAL_MODES, "ai"]), ("", LOCAL_MODES)])
def test_presets_and_openapi_list_ai_only_when_an_upstream_is_configured(
    make_ai: Callable[..., AiApp], base_url: str | None, modes: list[str]
) -> None:
    ai = make_ai(base_url=base_url)
    presets = ai.client.get("/api/presets")
    assert presets.status_code == 200 and isinstance(presets.json(), list)
    assert presets.headers["x-available-modes"].split(",") == modes
    document = ai.client.get("/openapi.json").json()
    assert document["info"]["x-available-modes"] == modes
    operation = document["paths"]["/api/ai-image"]["post"]
    assert {"400", "402", "502", "503"} <= set(operation["responses"])
    assert set(operation["responses"]["200"]["content"]) == {"image/png"}
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["prompt"]
    assert form["properties"]["style"]["enum"] == ["coloring", "cartoon", "realistic", "pixel-art", "watercolor", "sticker"]
    assert form["properties"]["size"]["enum"] == ["1024x1024", "1024x1536", "1536x1024"]
    assert form["properties"]["quality"]["enum"] == ["low", "medium", "high"]
    assert "502" in document["paths"]["/api/generate"]["post"]["responses"]
    assert ai.fake.calls == 0
