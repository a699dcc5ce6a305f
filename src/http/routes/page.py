"""The account owner's web page: `GET /` and its two static files, over the same JSON API.

One HTML page, one script, one style sheet, shipped in the package (`mosaic/http/static`) and read
once at import. The script only calls the documented routes (sign-in, balance, statement, keys,
presets, generate, AI image) with the JWT it got from sign-in, so the page can do nothing the API
does not allow. A strict Content-Security-Policy (no inline script or style, nothing from another
origin) keeps an injected string from running; the script writes text with `textContent` only.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

from starlette.responses import Response

from mosaic.http.errors import NoSuchResource
from mosaic.http.routing import Call, Endpoint

STATIC_FILES: Final = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate, so an upgraded server serves its own script
}


def _read(name: str) -> bytes:
    return resources.files("mosaic.http").joinpath("static", name).read_bytes()


_INDEX: Final = _read("index.html")
_STATIC: Final = {name: _read(name) for name in STATIC_FILES}


async def index(call: Call) -> Response:
    return Response(_INDEX, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


async def static_file(call: Call) -> Response:
    name = call.request.path_params["name"]
    if name not in _STATIC:
        raise NoSuchResource("not_found", f"no static file {name[:64]!r}")
    return Response(_STATIC[name], media_type=STATIC_FILES[name], headers=PAGE_HEADERS)


ENDPOINTS = [
    Endpoint(
        "GET", "/", index, "The account owner's web page: sign in, balance, statement, keys, generate",
        produces=("text/html",), tags=("page",),
    ),
    Endpoint(
        "GET", "/static/{name}", static_file, "The web page's script and style sheet",
        produces=("text/javascript", "text/css"), errors=(404,), tags=("page",),
    ),
]
