"""Routes without auth: `GET /api/presets`, `GET /healthz`, `GET /openapi.json`."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.bootstrap import Services
from mosaic.commands.ai import available_modes
from mosaic.http.errors import ApiError
from mosaic.http.openapi import openapi_document
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import HealthBody
from mosaic.imaging.presets import presets_catalogue

log = logging.getLogger(__name__)

HEALTH_TIMEOUT_S = 2.0
MODES_HEADER = "X-Available-Modes"  # on /api/presets: the modes this server runs (`ai` needs an upstream)


async def presets(call: Call) -> Response:
    modes = ",".join(available_modes(call.services.ai))
    return json_response(presets_catalogue(), headers={MODES_HEADER: modes})


def _database_answers(services: Services) -> None:
    with services.db.read() as tx:
        assert tx.one("SELECT 1") is not None


async def healthz(call: Call) -> Response:
    try:
        with anyio.fail_after(HEALTH_TIMEOUT_S):
            await run_in_threadpool(_database_answers, call.services)
    except Exception as exc:
        log.warning("health check: the database does not answer: %s", exc)
        raise ApiError(503, "database_unavailable", "the database does not answer") from None
    return json_response(HealthBody(status="ok", database="ok"))


async def openapi(call: Call) -> Response:
    document = openapi_document(call.http.endpoints)
    document["info"]["x-available-modes"] = list(available_modes(call.services.ai))
    return json_response(document)


ENDPOINTS = [
    Endpoint(
        "GET", "/api/presets", presets, "Every generation preset (no auth)",
        response=list[dict[str, Any]], tags=("meta",),
    ),
    Endpoint(
        "GET", "/healthz", healthz, "Health: the database answers", response=HealthBody,
        errors=(503,), tags=("meta",),
    ),
    Endpoint(
        "GET", "/openapi.json", openapi, "This OpenAPI 3.1 document", response=dict[str, Any],
        tags=("meta",),
    ),
]
