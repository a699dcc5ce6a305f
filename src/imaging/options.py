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

# Made here; `ai` by the upstream AI service.
LocalMode = Literal["hex", "voronoi", "square", "cbn", "lineart"]
GenerationMode = Literal[LocalMode, "ai"]
Output = Literal["zip", "mystery", "answer", "legend", "full", "beauty", "svg"]
PageChoice = Literal["letter", "a4"]
Orientation = Literal["auto", "portrait", "landscape"]  # auto: the one that prints the photo largest
Detail = Literal["simple", "standard", "detailed", "expert"]
Density = Literal["easy", "standard", "detailed", "expert"]

MODES: Final[tuple[GenerationMode, ...]] = get_args(GenerationMode)
OUTPUTS: Final[tuple[Output, ...]] = get_args(Output)
PAGES: Final[tuple[PageChoice, ...]] = get_args(PageChoice)
ORIENTATIONS: Final[tuple[Orientation, ...]] = get_args(Orientation)
DETAILS: Final[tuple[Detail, ...]] = get_args(Detail)
DENSITIES: Final[tuple[Density, ...]] = get_args(Density)
COLORS_MIN: Final = 4
COLORS_MAX: Final = 20
COLORS_DEFAULT: Final = 12
HINT_CHARS_MAX: Final = 200
FIELDS: Final = ("mode", "output", "colors", "page", "preset", "detail", "density", "hint", "orientation")
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

    def __post_init__(self) -> None:
        assert self.mode in MODES and self.output in OUTPUTS and self.page in PAGES
        assert self.orientation in ORIENTATIONS
        assert self.detail in DETAILS and self.density in DENSITIES
        assert COLORS_MIN <= self.colors <= COLORS_MAX and len(self.hint) <= HINT_CHARS_MAX


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


def _colors(fields: Mapping[str, str]) -> int:
    value = fields.get("colors", "")
    if value == "":
        return COLORS_DEFAULT
    if not _COLORS_PATTERN.fullmatch(value) or not COLORS_MIN <= int(value) <= COLORS_MAX:
        raise InvalidOption("colors", f"{value!r} is not a whole number from {COLORS_MIN} to {COLORS_MAX}")
    return int(value)


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
    return GenerateOptions(
        mode=_choice(merged, "mode", MODES, DEFAULTS.mode),
        output=_choice(merged, "output", OUTPUTS, DEFAULTS.output),
        colors=_colors(merged),
        page=_choice(merged, "page", PAGES, DEFAULTS.page),
        detail=_choice(merged, "detail", DETAILS, DEFAULTS.detail),
        density=_choice(merged, "density", DENSITIES, DEFAULTS.density),
        hint=hint,
        preset=preset,
        orientation=_choice(merged, "orientation", ORIENTATIONS, DEFAULTS.orientation),
    )
