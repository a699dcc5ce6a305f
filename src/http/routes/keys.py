"""API key management: `POST/GET /api/keys`, `DELETE /api/keys/{key_id}`. JWT only.

A new key is shown in the 201 body once and exists nowhere else. A revoked key is dropped from this
server's key cache as soon as the views show the revocation.
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.errors import NotFound
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import CreatedKeyBody, CreateKeyRequest, KeyBody, KeysBody

_NO_STORE = {"Cache-Control": "no-store"}


async def create_key(call: Call) -> Response:
    assert isinstance(call.body, CreateKeyRequest)
    created = await run_in_threadpool(
        partial(call.use_cases.owners.create_key, user_id=call.who.user_id, name=call.body.name)
    )
    body = CreatedKeyBody(created.key_id, created.plain_key, created.prefix, created.name, created.created_at)
    return json_response(body, status=201, headers=_NO_STORE)


async def list_keys(call: Call) -> Response:
    rows = await run_in_threadpool(call.use_cases.views.keys_of_user, call.who.user_id)
    keys = [KeyBody(r.key_id, r.prefix, r.name, r.created_at, r.last_used_at, r.revoked_at) for r in rows]
    return json_response(KeysBody(keys))


async def revoke_key(call: Call) -> Response:
    raw = call.request.path_params["key_id"]
    try:
        key_id = UUID(raw)
    except ValueError:
        raise NotFound(f"no API key {raw[:64]!r}") from None
    revoke = partial(call.use_cases.owners.revoke_key, user_id=call.who.user_id, key_id=key_id)
    await run_in_threadpool(revoke)
    call.http.auth.forget_key(str(key_id))
    return Response(status_code=204)


ENDPOINTS = [
    Endpoint(
        "POST", "/api/keys", create_key, "Create an API key (shown this once)",
        auth="jwt", body=CreateKeyRequest, response=CreatedKeyBody, status=201,
        errors=(400, 401, 409, 413, 429), tags=("keys",),
    ),
    Endpoint(
        "GET", "/api/keys", list_keys,
        "List your API keys, active first, newest first (prefix, name, dates; never the key)",
        auth="jwt", response=KeysBody, errors=(401, 429), tags=("keys",),
    ),
    Endpoint(
        "DELETE", "/api/keys/{key_id}", revoke_key, "Revoke one of your API keys",
        auth="jwt", status=204, errors=(401, 404, 429), tags=("keys",),
    ),
]
