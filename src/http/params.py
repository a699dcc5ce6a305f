"""Query parameters with limits: one parser, one error shape."""

from __future__ import annotations

from starlette.requests import Request

from mosaic.http.errors import BadRequest

QUERY_INT_CHARS_MAX = 19  # the digits of a signed 64-bit number: every bound a route declares fits


def int_query(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """The whole-number query parameter `name` in low..high, `default` if absent, else a clear 400.

    Only ASCII digits, and at most QUERY_INT_CHARS_MAX of them: `isdigit` alone admits "²" (which
    `int` refuses) and `int` refuses strings of thousands of digits: either would be a 500.
    """
    assert 0 <= low <= high and len(str(high)) <= QUERY_INT_CHARS_MAX, (low, high)
    raw = request.query_params.get(name)
    if raw is None:
        return default
    well_formed = raw.isascii() and raw.isdecimal() and len(raw) <= QUERY_INT_CHARS_MAX
    if not well_formed or not low <= int(raw) <= high:
        raise BadRequest("invalid_query", f"{name} must be a whole number from {low} to {high}")
    return int(raw)
