"""API keys: generate (shown once), list, revoke after a confirmation; the use cases of `/api/keys`."""

from __future__ import annotations

from functools import partial
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.commands.owners import CreatedKey
from mosaic.domain.errors import Failure, NotFound
from mosaic.http.web.pages import PageCall, PageRoute


async def _keys_page(
    call: PageCall, *, status: int = 200, created: CreatedKey | None = None, revoked: bool = False
) -> Response:
    rows = await run_in_threadpool(call.http.use_cases.views.keys_of_user, call.who.user_id)
    return call.render("keys.html", status=status, keys=rows, name="", created=created, revoked=revoked)


async def keys(call: PageCall) -> Response:
    return await _keys_page(call, revoked="revoked" in call.request.query_params)


async def create_key(call: PageCall) -> Response:
    name = call.fields.get("name", "")
    try:
        created = await run_in_threadpool(
            partial(call.http.use_cases.owners.create_key, user_id=call.who.user_id, name=name)
        )
    except Failure as failure:
        rows = await run_in_threadpool(call.http.use_cases.views.keys_of_user, call.who.user_id)
        return call.failed("keys.html", failure, keys=rows, name=name, created=None, revoked=False)
    return await _keys_page(call, status=201, created=created)


def _key_id(call: PageCall) -> UUID:
    raw = call.request.path_params["key_id"]
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no API key {raw[:64]!r}") from None


async def confirm_revoke(call: PageCall) -> Response:
    key_id = _key_id(call)
    found = await run_in_threadpool(call.http.use_cases.views.key, str(key_id))
    if found is None or found.user_id != call.who.user_id or found.revoked_at is not None:
        raise NotFound("no such active API key of yours")
    return call.render("revoke.html", key=found)


async def revoke_key(call: PageCall) -> Response:
    key_id = _key_id(call)
    await run_in_threadpool(
        partial(call.http.use_cases.owners.revoke_key, user_id=call.who.user_id, key_id=key_id)
    )
    call.http.auth.forget_key(str(key_id))
    return call.redirect("/keys?revoked=1")


ROUTES = [
    PageRoute("GET", "/keys", keys),
    PageRoute("POST", "/keys", create_key),
    PageRoute("GET", "/keys/{key_id}/revoke", confirm_revoke),
    PageRoute("POST", "/keys/{key_id}/revoke", revoke_key),
]
