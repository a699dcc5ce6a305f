"""The API docs page: every endpoint of `/openapi.json` with its summary, who may call it and its
answers, and curl lines filled in with this server's base URL (the spec's own examples where it has
them)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from starlette.responses import Response

from mosaic.http.openapi import openapi_document
from mosaic.http.routing import Endpoint
from mosaic.http.web.pages import PageCall, PageRoute

KEY_PLACEHOLDER: Final = "us_live_YOUR_KEY"
_AUTH: Final = {
    "none": "no credentials", "api_key_or_jwt": "API key or session token", "jwt": "session token",
}
# The spec's examples, with {base} for this server (its own order).
SPEC_EXAMPLES: Final[dict[tuple[str, str], list[str]]] = {
    ("POST", "/api/generate"): [
        'curl -X POST {base}/api/generate -H "Authorization: Bearer {key}" '
        '-F "image=@photo.jpg" -F "mode=lineart" -F "output=zip" -o coloring-page.zip',
        'curl -X POST {base}/api/generate -H "Authorization: Bearer {key}" '
        '-F "image=@photo.jpg" -F "mode=cbn" -F "colors=10" -o color-by-number.zip',
    ],
    ("POST", "/api/bulk"): [
        'curl -X POST {base}/api/bulk -H "Authorization: Bearer {key}" -F "images=@photo1.jpg" '
        '-F "images=@photo2.jpg" -F "images=@photo3.jpg" -F "mode=lineart" -o bulk-coloring.zip',
    ],
    ("POST", "/api/ai-image"): [
        'curl -X POST {base}/api/ai-image -H "Authorization: Bearer {key}" '
        '-F "prompt=a cute unicorn in a flower garden" -F "style=coloring" -o unicorn.png',
    ],
    ("GET", "/api/credits/balance"): ['curl {base}/api/credits/balance -H "Authorization: Bearer {key}"'],
}


@dataclass(frozen=True, slots=True)
class DocEntry:
    anchor: str
    method: str
    path: str
    summary: str
    auth: str
    statuses: str
    curls: list[str]
    in_spec: bool
    operation: str  # this endpoint's part of /openapi.json, as indented JSON


def _curls(endpoint: Endpoint, base: str) -> tuple[list[str], bool]:
    spec = SPEC_EXAMPLES.get((endpoint.method, endpoint.path))
    if spec is not None:
        return [line.format(base=base, key=KEY_PLACEHOLDER) for line in spec], True
    method = "" if endpoint.method == "GET" else f"-X {endpoint.method} "
    credential = "$TOKEN" if endpoint.auth == "jwt" else KEY_PLACEHOLDER
    auth = "" if endpoint.auth == "none" else f' -H "Authorization: Bearer {credential}"'
    body = " -H \"Content-Type: application/json\" -d '{…}'" if endpoint.body is not None else ""
    return [f"curl {method}{base}{endpoint.path}{auth}{body}"], False


def entries(endpoints: list[Endpoint], base: str) -> list[DocEntry]:
    paths = openapi_document(endpoints)["paths"]
    found = []
    for endpoint in endpoints:
        operation = json.dumps(paths[endpoint.path][endpoint.method.lower()], indent=2, ensure_ascii=False)
        curls, in_spec = _curls(endpoint, base)
        anchor = endpoint.method.lower() + "-" + re.sub(r"[^a-z0-9]+", "-", endpoint.path.lower()).strip("-")
        statuses = ", ".join(str(s) for s in (endpoint.status, *endpoint.errors))
        found.append(DocEntry(anchor, endpoint.method, endpoint.path, endpoint.summary, _AUTH[endpoint.auth],
                              statuses, curls, in_spec, operation))
    found.sort(key=lambda entry: not entry.in_spec)
    return found


async def docs(call: PageCall) -> Response:
    found = entries(call.http.endpoints, call.base_url())
    return call.render("docs.html", entries=found, key=KEY_PLACEHOLDER)


ROUTES = [PageRoute("GET", "/docs", docs, signed_in=False)]
