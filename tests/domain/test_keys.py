from __future__ import annotations

import secrets

from mosaic.domain.keys import (
    BASE62,
    KEY_BODY_CHARS,
    KEY_CHARS,
    display_prefix,
    is_well_formed_key,
    key_from_body,
)


def a_key() -> str:
    return key_from_body("".join(secrets.choice(BASE62) for _ in range(KEY_BODY_CHARS)))


def test_a_generated_key_is_well_formed() -> None:
    key = a_key()
    assert key.startswith("us_live_") and len(key) == KEY_CHARS
    assert is_well_formed_key(key)


def test_any_single_typo_is_caught_by_the_checksum() -> None:
    key = a_key()
    for position in range(len("us_live_"), len(key)):
        replacement = "A" if key[position] != "A" else "B"
        typo = key[:position] + replacement + key[position + 1 :]
        assert not is_well_formed_key(typo), position


def test_malformed_candidates_are_not_keys() -> None:
    key = a_key()
    for candidate in ("", "us_live_", key[:-1], key + "x", "us_test_" + key[8:], key.replace(key[10], "-")):
        assert not is_well_formed_key(candidate)


def test_the_display_prefix_is_short_and_reveals_little() -> None:
    key = a_key()
    assert display_prefix(key) == key[:14]
