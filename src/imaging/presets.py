"""Generation presets: named sets of fields, kept as data in `data/presets.json`.

A preset sets the look (mode, colors, detail or density), not the delivery (output, page), and the
fields it sets override the request's (the spec: "overrides other params"). `GET /api/presets`
returns `presets_catalogue()`.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from mosaic.imaging.options import DENSITIES

PRESETS_MAX = 100
PRESET_NAME_CHARS_MAX = 40
PRESET_FIELDS = frozenset({"mode", "colors", "detail", "density"})
PRESET_LEVELS = DENSITIES  # a preset is rated on the mosaics' scale of levels


@lru_cache(maxsize=1)
def _presets() -> tuple[dict[str, Any], ...]:
    text = resources.files("mosaic.imaging").joinpath("data/presets.json").read_text("utf-8")
    presets = tuple(json.loads(text)["presets"])
    assert 0 < len(presets) <= PRESETS_MAX
    names = [preset["name"] for preset in presets]
    assert len(set(names)) == len(names), "duplicate preset name"
    for preset in presets:
        assert 0 < len(preset["name"]) <= PRESET_NAME_CHARS_MAX, preset["name"]
        assert set(preset["fields"]) <= PRESET_FIELDS, preset["fields"]
        assert preset["level"] in PRESET_LEVELS, preset["level"]
        assert preset["title"] and preset["description"]
    return presets


def preset_names() -> tuple[str, ...]:
    """Return every preset's name, in catalogue order."""
    return tuple(str(preset["name"]) for preset in _presets())


def preset_fields(name: str) -> dict[str, str] | None:
    """Return the form fields preset `name` sets (values as strings), or None if there is none."""
    for preset in _presets():
        if preset["name"] == name:
            return {str(key): str(value) for key, value in preset["fields"].items()}
    return None


def preset_title(name: str) -> str:
    """Return preset `name`'s title (printed in the page footer), or "" if there is none."""
    for preset in _presets():
        if preset["name"] == name:
            return str(preset["title"])
    return ""


def presets_catalogue() -> list[dict[str, Any]]:
    """Return a fresh copy of every preset (name, title, description, level, fields) for the API."""
    return [json.loads(json.dumps(preset)) for preset in _presets()]
