"""Query parameters with limits: one parser, one error shape."""

from __future__ import annotations

from starlette.requests import Request

from mosaic.http.errors import ApiError


def int_query(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    """The whole-number query parameter `name` in low..high, `default` if absent, else a clear 400."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid_query", f"{name} must be a whole number from {low} to {high}")
    return int(raw)
