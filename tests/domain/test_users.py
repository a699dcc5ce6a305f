"""E-mails: what registration accepts, and what a lookup refuses before it reaches the database."""

from __future__ import annotations

import pytest

from mosaic.domain.errors import InvalidInput
from mosaic.domain.users import checked_email, normalise_email

CONTROL_CHARS = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u200b", "\u202e", "\ufeff", "\ud800"]


def test_an_email_is_trimmed_and_lowercased() -> None:
    assert checked_email("  Ada@Example.COM\n") == "ada@example.com"


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_an_email_with_a_control_format_or_surrogate_character_is_refused(char: str) -> None:
    for email in (f"a{char}@x.com", f"ada@ex{char}ample.com", f"ad{char}a@example.com"):
        with pytest.raises(InvalidInput, match="control"):
            checked_email(email)


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_an_email_lookup_with_a_control_character_is_refused_not_sent_to_the_database(char: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_email(f"a{char}@x.com")


def test_letters_of_any_script_are_not_control_characters() -> None:
    assert checked_email("zoë@exämple.com") == "zoë@exämple.com"
