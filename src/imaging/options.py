"""The generation options of `POST /api/generate`, parsed from form fields with clear errors.

Accepted values are exactly those the spec documents; anything else is an `InvalidOption` naming the
field and the values it accepts. An empty field means "not given" (HTML forms send empty selects).
Fields this module does not know (the upload itself, say) are not its business and are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeVar, get_args

from mosaic.imaging.palettes import PaintSet, PaletteRefused, parse_palette

LocalMode = Literal["hex", "voronoi", "cbn", "lineart"]  # made here; `ai` by the upstream AI service
GenerationMode = Literal[LocalMode, "ai"]
Output = Literal["zip", "mystery", "answer", "legend", "full", "beauty", "svg"]
PageChoice = Literal["letter", "a4"]
Detail = Literal["simple", "standard", "detailed", "expert"]
Density = Literal["easy", "standard", "detailed", "expert"]

MODES: Final[tuple[GenerationMode, ...]] = get_args(GenerationMode)
OUTPUTS: Final[tuple[Output, ...]] = get_args(Output)
PAGES: Final[tuple[PageChoice, ...]] = get_args(PageChoice)
DETAILS: Final[tuple[Detail, ...]] = get_args(Detail)
DENSITIES: Final[tuple[Density, ...]] = get_args(Density)
COLORS_MIN: Final = 4
COLORS_MAX: Final = 20
COLORS_DEFAULT: Final = 12
HINT_CHARS_MAX: Final = 200
FIELDS: Final = ("mode", "output", "colors", "page", "preset", "detail", "density", "hint", "palette")
PALETTE_MODES: Final[tuple[LocalMode, ...]] = ("cbn", "hex", "voronoi")  # the modes that color with paints
_COLORS_PATTERN: Final = re.compile(r"[1-9][0-9]?")


class InvalidOption(ValueError):
    """A form field has a value the API does not accept; the message says which values it does."""

    code: Final = "invalid_option"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[InvalidOption], tuple[str, str]]:
        # Raised in a worker process, it must pickle back whole, or the pool breaks.
        return type(self), (self.field, self.message)


@dataclass(frozen=True, slots=True)
class GenerateOptions:
    """What to make from a photo. The defaults are the spec's."""

    mode: GenerationMode = "hex"
    output: Output = "zip"
    colors: int = COLORS_DEFAULT
    page: PageChoice = "letter"
    detail: Detail = "standard"
    density: Density = "standard"
    hint: str = ""
    preset: str | None = None
    palette: PaintSet | None = None  # the paints to choose `colors` of, by `palette=`

    def __post_init__(self) -> None:
        assert self.mode in MODES and self.output in OUTPUTS and self.page in PAGES
        assert self.detail in DETAILS and self.density in DENSITIES
        assert COLORS_MIN <= self.colors <= COLORS_MAX and len(self.hint) <= HINT_CHARS_MAX
        if self.palette is not None:
            assert self.mode in PALETTE_MODES and self.colors <= self.palette.size, (self.mode, self.colors)


DEFAULTS: Final = GenerateOptions()

_Choice = TypeVar("_Choice", bound=str)


def _choice(
    fields: Mapping[str, str], field: str, accepted: tuple[_Choice, ...], default: _Choice
) -> _Choice:
    value = fields.get(field, "")
    if value == "":
        return default
    for choice in accepted:
        if value == choice:
            return choice
    raise InvalidOption(field, f"{value!r} is not one of {', '.join(accepted)}")


def _colors(fields: Mapping[str, str], palette: PaintSet | None) -> int:
    """`colors`; with a palette, by default as many of its paints as fit (at most the default)."""
    value = fields.get("colors", "")
    if value == "":
        return COLORS_DEFAULT if palette is None else min(palette.size, COLORS_DEFAULT)
    if not _COLORS_PATTERN.fullmatch(value) or not COLORS_MIN <= int(value) <= COLORS_MAX:
        raise InvalidOption("colors", f"{value!r} is not a whole number from {COLORS_MIN} to {COLORS_MAX}")
    if palette is not None and int(value) > palette.size:
        message = f"{value} is more than the {palette.size} colors of palette {palette.id}"
        raise InvalidOption("colors", message)
    return int(value)


def _palette(fields: Mapping[str, str], mode: GenerationMode) -> PaintSet | None:
    value = fields.get("palette", "")
    if value == "":
        return None
    if mode not in PALETTE_MODES:
        raise InvalidOption("palette", f"applies to mode {', '.join(PALETTE_MODES)}, not to mode {mode}")
    try:
        return parse_palette(value)
    except PaletteRefused as exc:
        raise InvalidOption("palette", str(exc)) from None


def _with_preset(fields: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """Return the fields with the preset's fields laid over them, and the preset's name."""
    from mosaic.imaging.presets import preset_fields, preset_names  # presets read this vocabulary
    merged = {key: fields[key] for key in FIELDS if key in fields}
    name = merged.pop("preset", "")
    if name == "":
        return merged, None
    overrides = preset_fields(name)
    if overrides is None:
        accepted = ", ".join(preset_names())
        raise InvalidOption("preset", f"{name!r} is not one of {accepted} (see /api/presets)")
    merged.update(overrides)
    return merged, name


def parse_options(fields: Mapping[str, str]) -> GenerateOptions:
    """Parse the form fields of a generate request; a preset's fields override the request's.

    Raises
    ------
    InvalidOption
        A field (or preset) is not one of the documented values; the message lists them.
    """
    merged, preset = _with_preset(fields)
    hint = merged.get("hint", "")
    if len(hint) > HINT_CHARS_MAX:
        raise InvalidOption("hint", f"is {len(hint)} characters; at most {HINT_CHARS_MAX} are accepted")
    mode = _choice(merged, "mode", MODES, DEFAULTS.mode)
    palette = _palette(merged, mode)
    return GenerateOptions(
        mode=mode,
        output=_choice(merged, "output", OUTPUTS, DEFAULTS.output),
        colors=_colors(merged, palette),
        page=_choice(merged, "page", PAGES, DEFAULTS.page),
        detail=_choice(merged, "detail", DETAILS, DEFAULTS.detail),
        density=_choice(merged, "density", DENSITIES, DEFAULTS.density),
        hint=hint,
        preset=preset,
        palette=palette,
    )
