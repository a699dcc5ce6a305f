"""The web pages' script and style sheet, `GET /static/{name}`, shipped in the package
(`mosaic/http/static`) and read once at import. The pages themselves are `mosaic.http.web`'s.
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
STATIC_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",  # revalidate, so an upgraded server serves its own script
}


def _read(name: str) -> bytes:
    return resources.files("mosaic.http").joinpath("static", name).read_bytes()


_STATIC: Final = {name: _read(name) for name in STATIC_FILES}


async def static_file(call: Call) -> Response:
    name = call.request.path_params["name"]
    if name not in _STATIC:
        raise NoSuchResource("not_found", f"no static file {name[:64]!r}")
    return Response(_STATIC[name], media_type=STATIC_FILES[name], headers=STATIC_HEADERS)


ENDPOINTS = [
    Endpoint(
        "GET", "/static/{name}", static_file, "The web pages' script and style sheet",
        produces=("text/javascript", "text/css"), errors=(404,), tags=("page",),
    ),
]
