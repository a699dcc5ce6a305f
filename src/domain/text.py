"""Free text the ledger keeps for ever (e-mails, reasons): no control characters.

Events cannot be edited, so such text is refused before it is written: PostgreSQL's `text` cannot
hold NUL (a projection fed one fails on every retry and stalls every view behind it), a lone
surrogate cannot be encoded at all, and no reader of a statement wants escapes, line breaks or
invisible bidi overrides in it.
"""

from __future__ import annotations

import unicodedata

from mosaic.domain.errors import InvalidInput

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})  # control, format (zero-width, bidi), surrogate


def has_control_chars(text: str) -> bool:
    # `isprintable` is False for every refused category, so printable text costs one C call.
    return not text.isprintable() and any(unicodedata.category(ch) in REFUSED_CATEGORIES for ch in text)


def check_plain_text(text: str, *, field: str) -> None:
    if has_control_chars(text):
        raise InvalidInput(
            f"{field} must not contain control characters (NUL, tab, line breaks, invisible formatting)"
        )
