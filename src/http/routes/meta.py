"""Routes without auth: `GET /api/presets`, `GET /api/palettes`, `GET /healthz`, `GET /readyz`,
`GET /metrics`, `GET /openapi.json`. `/metrics` is for the operator's scraper: the production
guide's proxy config keeps it off the public side."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.commands.ai import available_modes
from mosaic.http.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from mosaic.http.metrics import exposition
from mosaic.http.openapi import openapi_document
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import HealthBody, PaletteColorBody, PaletteSetBody, ReadyBody
from mosaic.imaging.palettes import catalogue
from mosaic.imaging.presets import presets_catalogue
from mosaic.queries.health import DatabaseUnavailable

HEALTH_TIMEOUT_S = 2.0
MODES_HEADER = "X-Available-Modes"  # on /api/presets: the modes this server runs (`ai` needs an upstream)


def _modes(call: Call) -> list[str]:
    return list(available_modes(call.use_cases.generate.upstream))


async def presets(call: Call) -> Response:
    return json_response(presets_catalogue(), headers={MODES_HEADER: ",".join(_modes(call))})


async def palettes(call: Call) -> Response:
    return json_response([
        PaletteSetBody(
            s.id, s.name, s.maker, s.kind, s.product_code, s.size, s.source,
            [PaletteColorBody(p.number, p.hex, p.name, p.code) for p in s.paints],
        )
        for s in catalogue()
    ])


async def healthz(call: Call) -> Response:
    """Alive: the process answers on its event loop. The database is readiness's business, so an
    outage of it makes servers unready (taken out of the proxy's rotation), not restarted."""
    return json_response(HealthBody(status="ok"))


async def readyz(call: Call) -> Response:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT_S):
            ready = await run_in_threadpool(call.use_cases.health.readiness)
    except TimeoutError:
        raise DatabaseUnavailable(f"the database did not answer within {HEALTH_TIMEOUT_S:g} s") from None
    return json_response(ReadyBody("ready", "ok", ready.schema_revision, ready.views_lag_events))


async def metrics_text(call: Call) -> Response:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT_S):
            lag = await run_in_threadpool(call.use_cases.health.views_lag)
    except TimeoutError:
        raise DatabaseUnavailable(f"the database did not answer within {HEALTH_TIMEOUT_S:g} s") from None
    return Response(exposition(lag), media_type=METRICS_CONTENT_TYPE)


async def openapi(call: Call) -> Response:
    document = openapi_document(call.http.endpoints)
    document["info"]["x-available-modes"] = _modes(call)
    return json_response(document)


ENDPOINTS = [
    Endpoint(
        "GET", "/api/presets", presets, "Every generation preset (no auth)",
        response=list[dict[str, Any]], tags=("meta",),
    ),
    Endpoint(
        "GET", "/api/palettes", palettes,
        "The paint sets for palette= (no auth): each paint with its set number, name and maker's code",
        response=list[PaletteSetBody], tags=("meta",),
    ),
    Endpoint(
        "GET", "/healthz", healthz, "Liveness: the process answers (the database is /readyz's)",
        response=HealthBody, tags=("meta",),
    ),
    Endpoint(
        "GET", "/readyz", readyz,
        "Readiness: the database answers, its schema is current, the views are caught up (503 otherwise)",
        response=ReadyBody, errors=(503,), tags=("meta",),
    ),
    Endpoint(
        "GET", "/metrics", metrics_text,
        "Prometheus metrics of this host's serving processes, and the views' lag (for the operator)",
        produces=("text/plain",), errors=(503,), tags=("meta",),
    ),
    Endpoint(
        "GET", "/openapi.json", openapi, "This OpenAPI 3.1 document", response=dict[str, Any],
        tags=("meta",),
    ),
]
