"""`GET /api/credits/balance` (API key or JWT) and `GET /api/credits/history` (the statement, paged)."""

from __future__ import annotations

from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.errors import NotFound
from mosaic.http.errors import BadRequest, NotPermitted
from mosaic.http.params import int_query
from mosaic.http.routing import Call, Endpoint, QueryParam, json_response
from mosaic.http.schemas import BalanceBody, HistoryBody, StatementLineBody
from mosaic.queries.views import STATEMENT_PAGE_MAX

HISTORY_PAGE_DEFAULT = 100
STAFF_ROLES = frozenset({"support", "auditor"})


async def balance(call: Call) -> Response:
    account_id = call.who.account_id
    cache = call.http.balances
    found = cache.get(account_id)
    if found is None:
        position = cache.position
        found = await run_in_threadpool(call.use_cases.views.balance, account_id)
        if found is None:
            raise NotFound("this account has no balance yet")
        cache.put(account_id, position=position, balance=found)
    return json_response(
        BalanceBody(found.balance, found.monthly_quota, found.plan_name, found.sub_status)
    )


def _account_for_history(call: Call) -> str:
    """Your own account; support and auditors may name any account with `account_id`."""
    wanted = call.request.query_params.get("account_id")
    if wanted is None or wanted == call.who.account_id:
        return call.who.account_id
    if call.who.kind != "jwt" or call.who.role not in STAFF_ROLES:
        raise NotPermitted("forbidden", "only support staff and auditors may read another account")
    try:  # account ids are UUIDs; anything else (a NUL byte, which PostgreSQL's text refuses) is a 400
        return str(UUID(wanted))
    except ValueError:
        raise BadRequest("invalid_query", "account_id must be an account id (a UUID)") from None


async def history(call: Call) -> Response:
    after = int_query(call.request, "after", default=0, low=0, high=2**62)
    limit = int_query(call.request, "limit", default=HISTORY_PAGE_DEFAULT, low=1, high=STATEMENT_PAGE_MAX)
    account_id = _account_for_history(call)
    lines = await run_in_threadpool(
        call.use_cases.views.statement, account_id, after_line=after, limit=limit
    )
    body = HistoryBody(
        lines=[
            StatementLineBody(
                line.line, line.at, line.kind, line.reference, line.tool,
                line.delta_credits, line.balance_after, line.reason, line.actor,
            )
            for line in lines
        ],
        next_after=lines[-1].line if len(lines) == limit else None,
    )
    return json_response(body)


ENDPOINTS = [
    Endpoint(
        "GET", "/api/credits/balance", balance, "Your credit balance and plan",
        auth="api_key_or_jwt", response=BalanceBody, errors=(401, 403, 429), tags=("credits",),
    ),
    Endpoint(
        "GET", "/api/credits/history", history, "Your statement: every credit event, paged",
        auth="api_key_or_jwt", response=HistoryBody, errors=(400, 401, 403, 429), tags=("credits",),
        query=(
            QueryParam("after", {"type": "integer", "minimum": 0}, "the `next_after` of the page before"),
            QueryParam(
                "limit", {"type": "integer", "minimum": 1, "maximum": STATEMENT_PAGE_MAX},
                f"lines per page (default {HISTORY_PAGE_DEFAULT})",
            ),
            QueryParam(
                "account_id", {"type": "string", "format": "uuid"},
                "support and auditors only: another account",
            ),
        ),
    ),
]
