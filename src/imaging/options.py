"""The generation options of `POST /api/generate`, parsed from form fields with clear errors.

Accepted values are exactly those the spec documents; anything else is an `InvalidOption` naming the
field and the values it accepts. An empty field means "not given" (HTML forms send empty selects).
A field that is not one of FIELDS is an `UnknownField` with a did-you-mean hint: a typo such as
`colour=10` would otherwise be a silently ignored wish, charged for as if it were granted.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Final, Literal, TypeVar, get_args

from mosaic.imaging.palettes import PaintSet, PaletteRefused, parse_palette

# Made here; `ai` by the upstream AI service.
LocalMode = Literal["hex", "voronoi", "square", "cbn", "lineart"]
GenerationMode = Literal[LocalMode, "ai"]
Output = Literal["zip", "mystery", "answer", "legend", "full", "beauty", "svg", "book"]
PageChoice = Literal["letter", "a4"]
Orientation = Literal["auto", "portrait", "landscape"]  # auto: the one that prints the photo largest
Detail = Literal["simple", "standard", "detailed", "expert"]
Density = Literal["easy", "standard", "detailed", "expert"]
Bleed = Literal["none", "0.125in"]
Tiles = Literal["1x1", "2x2", "3x3"]

MODES: Final[tuple[GenerationMode, ...]] = get_args(GenerationMode)
OUTPUTS: Final[tuple[Output, ...]] = get_args(Output)
PAGES: Final[tuple[PageChoice, ...]] = get_args(PageChoice)
ORIENTATIONS: Final[tuple[Orientation, ...]] = get_args(Orientation)
DETAILS: Final[tuple[Detail, ...]] = get_args(Detail)
DENSITIES: Final[tuple[Density, ...]] = get_args(Density)
BLEEDS: Final[tuple[Bleed, ...]] = get_args(Bleed)
TILES: Final[tuple[Tiles, ...]] = get_args(Tiles)
POSTER_MODES_NOT: Final = ("lineart", "ai")  # a poster's sheets need numbered regions
TITLE_CHARS_MAX: Final = 80
COLORS_MIN: Final = 4
COLORS_MAX: Final = 20
COLORS_DEFAULT: Final = 12
HINT_CHARS_MAX: Final = 200
FIELDS: Final = (
    "mode", "output", "colors", "page", "preset", "detail", "density", "hint", "orientation", "palette",
    "title", "bleed", "tiles",
)
# the modes that color with paints
PALETTE_MODES: Final[tuple[LocalMode, ...]] = ("cbn", "hex", "voronoi", "square")
_COLORS_PATTERN: Final = re.compile(r"[1-9][0-9]?")


class InvalidOption(ValueError):
    """A form field has a value the API does not accept; the message says which values it does."""

    code: ClassVar[str] = "invalid_option"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(self._text(field, message))
        self.field = field
        self.message = message

    @staticmethod
    def _text(field: str, message: str) -> str:
        return f"{field}: {message}"

    def __reduce__(self) -> tuple[type[InvalidOption], tuple[str, str]]:
        # Raised in a worker process, it must pickle back whole, or the pool breaks.
        return type(self), (self.field, self.message)


class UnknownField(InvalidOption):
    """A form field that is none of FIELDS; the message suggests the nearest one."""

    code: ClassVar[str] = "unknown_field"

    @staticmethod
    def _text(field: str, message: str) -> str:
        return message  # the message already quotes the field

    @classmethod
    def named(cls, field: str) -> UnknownField:
        by_folded = {name.casefold(): name for name in FIELDS}
        near = difflib.get_close_matches(field.casefold(), by_folded, n=1, cutoff=0.6)
        if near:
            return cls(field, f'"{field}" is not a field; did you mean "{by_folded[near[0]]}"?')
        return cls(field, f'"{field}" is not a field; the fields are {", ".join(FIELDS)}')


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
    orientation: Orientation = "auto"
    palette: PaintSet | None = None  # the paints to choose `colors` of, by `palette=`
    title: str = ""  # output=book: its title page
    bleed: bool = False  # output=book: 0.125 in on every side
    tiles: int = 1  # a poster of tiles × tiles sheets (1: a page)

    def __post_init__(self) -> None:
        assert self.mode in MODES and self.output in OUTPUTS and self.page in PAGES
        assert self.orientation in ORIENTATIONS
        assert self.detail in DETAILS and self.density in DENSITIES
        assert COLORS_MIN <= self.colors <= COLORS_MAX and len(self.hint) <= HINT_CHARS_MAX
        if self.palette is not None:
            assert self.mode in PALETTE_MODES and self.colors <= self.palette.size, (self.mode, self.colors)
        assert len(self.title) <= TITLE_CHARS_MAX and f"{self.tiles}x{self.tiles}" in TILES

    @property
    def sheets(self) -> int:
        """Sheets of paper the result is printed on, what a poster is priced by."""
        return self.tiles * self.tiles


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


def _title(fields: Mapping[str, str]) -> str:
    title = fields.get("title", "").strip()
    if len(title) > TITLE_CHARS_MAX:
        raise InvalidOption("title", f"is {len(title)} characters; at most {TITLE_CHARS_MAX} are accepted")
    if not title.isprintable():
        raise InvalidOption("title", "holds a control character (a line break, a tab); send one line of text")
    return title


def _print_fields(fields: Mapping[str, str], options: GenerateOptions) -> None:
    """Refuse a book's or a poster's field where it does not apply, rather than ignore it."""
    if options.output != "book":
        for field in ("title", "bleed"):
            if fields.get(field, "") != "":
                raise InvalidOption(field, "applies to output=book only")
    if options.output == "book" and options.orientation == "landscape":
        raise InvalidOption("orientation", "a book's pages are portrait; leave orientation out")
    if options.tiles > 1:
        if options.mode in POSTER_MODES_NOT:
            raise InvalidOption("tiles", f"a poster needs numbered regions; mode={options.mode} has none")
        if fields.get("output", "") != "":
            raise InvalidOption("output", "a poster (tiles) is one PDF; leave output out")


def parse_options(fields: Mapping[str, str]) -> GenerateOptions:
    """Parse the form fields of a generate request; a preset's fields override the request's.

    Raises
    ------
    UnknownField
        A field is none of FIELDS (checked first, so a typo is never hidden by a preset).
    InvalidOption
        A field (or preset) is not one of the documented values; the message lists them.
    """
    for name in fields:
        if name not in FIELDS:
            raise UnknownField.named(name)
    merged, preset = _with_preset(fields)
    hint = merged.get("hint", "")
    if len(hint) > HINT_CHARS_MAX:
        raise InvalidOption("hint", f"is {len(hint)} characters; at most {HINT_CHARS_MAX} are accepted")
    mode = _choice(merged, "mode", MODES, DEFAULTS.mode)
    palette = _palette(merged, mode)
    options = GenerateOptions(
        mode=mode,
        output=_choice(merged, "output", OUTPUTS, DEFAULTS.output),
        colors=_colors(merged, palette),
        page=_choice(merged, "page", PAGES, DEFAULTS.page),
        detail=_choice(merged, "detail", DETAILS, DEFAULTS.detail),
        density=_choice(merged, "density", DENSITIES, DEFAULTS.density),
        hint=hint,
        preset=preset,
        orientation=_choice(merged, "orientation", ORIENTATIONS, DEFAULTS.orientation),
        palette=palette,
        title=_title(merged),
        bleed=_choice(merged, "bleed", BLEEDS, "none") != "none",
        tiles=int(_choice(merged, "tiles", TILES, "1x1")[0]),
    )
    _print_fields(merged, options)
    return options
