"""Auditors (JWT with role `auditor`, read-only): the event log with chain hashes, and a signed digest.

`GET /api/audit/events` answers JSON lines (application/x-ndjson), one event each, in log order; the
`hash` of each line is the audit chain's value at that position (see `mosaic.queries.chain`).
`GET /api/audit/digest` signs the chain's head with the server's Ed25519 key; keep it, and later
`mosaic audit verify --digest FILE` (or any tool recomputing the chain) proves the history up to it.
"""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.http.errors import NotPermitted
from mosaic.http.params import int_query
from mosaic.http.routing import Call, Endpoint, QueryParam, json_response
from mosaic.queries import digest as digests
from mosaic.queries.audit_reads import EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX


def _auditor(call: Call) -> None:
    if call.who.kind != "jwt" or call.who.role != "auditor":
        raise NotPermitted("forbidden", "this needs an auditor sign-in")


async def events(call: Call) -> Response:
    _auditor(call)
    after = int_query(call.request, "after", default=0, low=0, high=2**62)
    limit = int_query(call.request, "limit", default=EVENTS_PAGE_DEFAULT, low=1, high=EVENTS_PAGE_MAX)
    body = await run_in_threadpool(partial(call.use_cases.audit.events, after=after, limit=limit))
    return Response(body, media_type="application/x-ndjson")


async def digest(call: Call) -> Response:
    _auditor(call)
    return json_response(await run_in_threadpool(call.use_cases.audit.digest))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/audit/events",
        events,
        "The event log as JSON lines with chain hashes (auditors)",
        auth="jwt",
        response=None,
        errors=(400, 401, 403, 429),
        tags=("audit",),
        query=(
            QueryParam("after", {"type": "integer", "minimum": 0}, "only events after this position"),
            QueryParam(
                "limit", {"type": "integer", "minimum": 1, "maximum": EVENTS_PAGE_MAX}, "events per page"
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/api/audit/digest",
        digest,
        "The chain's head, signed with the server's Ed25519 key (auditors)",
        auth="jwt",
        response=digests.Digest,
        errors=(401, 403, 404, 429),
        tags=("audit",),
    ),
]
