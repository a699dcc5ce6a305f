"""Support staff (JWT with role `support`): find an account, read its charges, refund, grant, re-plan.

Every action is a ledger event recording the staff member and the reason (`mosaic.commands.support`);
refunds and grants are idempotent under `Idempotency-Key` (rule 4) through `answer_once`, as paid
routes are: the same key and body replay the first answer, the same key with another body (another
charge, amount or account) is 422. The ledger derives the refund or grant id from the key as well,
so even after the stored answer expires a repeat is never applied twice, and a reuse on the same
account is still 422.
A `user` or `auditor` token gets 403.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.accounts import GRANT_CREDITS_MAX, REASON_CHARS_MAX
from mosaic.domain.errors import NotFound
from mosaic.domain.users import normalise_email
from mosaic.http.errors import BadRequest, NotPermitted
from mosaic.http.idempotent import answer_once, body_digest, idempotency_key
from mosaic.http.params import int_query
from mosaic.http.routing import Call, Endpoint, QueryParam, json_response
from mosaic.queries.views import STATEMENT_PAGE_MAX, AccountSummary

Reason = Annotated[str, Meta(min_length=3, max_length=REASON_CHARS_MAX)]
Credits = Annotated[int, Meta(ge=1, le=GRANT_CREDITS_MAX)]


class RefundRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    charge_id: UUID  # decoded as one, so nothing else (a NUL byte PostgreSQL's text refuses) is looked up
    amount: Credits
    reason: Reason


class GrantRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount: Credits
    reason: Reason


class PlanRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    plan: Annotated[str, Meta(min_length=1, max_length=50)]


class RefundBody(msgspec.Struct, frozen=True):
    amount: int
    at: str
    reason: str | None
    issued_by: str | None


class ChargeBody(msgspec.Struct, frozen=True):
    charge_id: str
    tool: str
    summary: str
    cost_credits: int
    refunded_credits: int
    captured_at: str
    refunds: list[RefundBody]


class ChargesBody(msgspec.Struct, frozen=True):
    account_id: str
    charges: list[ChargeBody]
    next_after: str | None


class RefundedBody(msgspec.Struct, frozen=True):
    refund_id: str
    charge_id: str
    account_id: str
    amount: int
    refundable_left: int | None  # None: applied, but not shown by the views yet
    balance: int | None
    repeat: bool


class GrantedBody(msgspec.Struct, frozen=True):
    grant_id: str
    account_id: str
    amount: int
    balance: int | None  # None: applied, but not shown by the views yet
    repeat: bool


def _staff(call: Call) -> str:
    if call.who.kind != "jwt" or call.who.role != "support":
        raise NotPermitted("forbidden", "this needs a support staff sign-in")
    return call.who.user_id


def _account_id(call: Call) -> str:
    raw = call.request.path_params["account_id"]
    try:
        return str(UUID(raw))
    except ValueError:
        raise NotFound(f"no account {raw}") from None


def _charge_cursor(call: Call) -> str:
    """`after`: empty (the first page) or the charge id a page ended with. Checked, because a NUL
    byte would reach the query, and PostgreSQL's text refuses it (a 500)."""
    raw = call.request.query_params.get("after", "")
    if not raw:
        return ""
    try:
        return str(UUID(raw))
    except ValueError:
        message = "after must be the next_after of a page before (a charge id)"
        raise BadRequest("invalid_query", message) from None


def _found(summary: AccountSummary | None, account_id: str) -> AccountSummary:
    """The account as the views show it (encoded as it is: its fields are the body)."""
    if summary is None:
        raise NotFound(f"no account {account_id}")
    return summary


async def find_account(call: Call) -> Response:
    _staff(call)
    email = normalise_email(call.request.query_params.get("email", ""))
    user = await run_in_threadpool(call.use_cases.views.user_by_email, email)
    if user is None:
        raise NotFound("no account with that e-mail")
    summary = await run_in_threadpool(call.use_cases.views.account_summary, user.account_id)
    return json_response(_found(summary, user.account_id))


async def charges(call: Call) -> Response:
    _staff(call)
    account_id = _account_id(call)
    after = _charge_cursor(call)
    limit = int_query(call.request, "limit", default=100, low=1, high=STATEMENT_PAGE_MAX)
    rows = await run_in_threadpool(call.use_cases.views.charges_of, account_id, after=after, limit=limit)
    body = ChargesBody(
        account_id,
        [
            ChargeBody(
                r.charge_id, r.tool, r.summary, r.cost_credits, r.refunded_credits, r.captured_at,
                [RefundBody(f.amount_credits, f.at, f.reason, f.issued_by) for f in r.refunds],
            )
            for r in rows
        ],
        rows[-1].charge_id if len(rows) == limit else None,
    )
    return json_response(body)


async def refund(call: Call) -> Response:
    staff, key, request = _staff(call), idempotency_key(call), call.body
    assert isinstance(request, RefundRequest)

    async def produce() -> Response:
        done = await run_in_threadpool(
            partial(
                call.use_cases.support.refund, staff_user_id=staff, charge_id=str(request.charge_id),
                amount_credits=request.amount, reason=request.reason, idempotency_key=key,
            )
        )
        body = RefundedBody(
            str(done.refund_id), done.charge_id, done.account_id, done.amount_credits,
            done.refundable_left_credits, done.balance_credits, repeat=not done.applied,
        )
        return json_response(body, status=201 if done.applied else 200)

    return await answer_once(call, key, body_digest(request), produce)


async def grant(call: Call) -> Response:
    staff, key, account_id, request = _staff(call), idempotency_key(call), _account_id(call), call.body
    assert isinstance(request, GrantRequest)

    async def produce() -> Response:
        done = await run_in_threadpool(
            partial(
                call.use_cases.support.grant, staff_user_id=staff, account_id=account_id,
                amount_credits=request.amount, reason=request.reason, idempotency_key=key,
            )
        )
        body = GrantedBody(
            str(done.grant_id), done.account_id, done.amount_credits, done.balance_credits,
            repeat=not done.applied,
        )
        return json_response(body, status=201 if done.applied else 200)

    return await answer_once(call, key, body_digest(request), produce)


async def change_plan(call: Call) -> Response:
    staff, account_id = _staff(call), _account_id(call)
    assert isinstance(call.body, PlanRequest)
    summary = await run_in_threadpool(
        partial(call.use_cases.support.change_plan, staff_user_id=staff, account_id=account_id,
                plan_name=call.body.plan)
    )
    return json_response(_found(summary, account_id))


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/admin/accounts",
        find_account,
        "Find an account by e-mail (support)",
        response=AccountSummary,
        errors=(400, 401, 403, 404, 429),
        query=(QueryParam("email", {"type": "string"}, "the account owner's e-mail"),),
        auth="jwt",
        tags=("support",),
    ),
    Endpoint(
        "GET",
        "/api/admin/accounts/{account_id}/statement",
        charges,
        "An account's charges with their parameters and refunds (support)",
        response=ChargesBody,
        errors=(400, 401, 403, 404, 429),
        query=(
            QueryParam(
                "after", {"type": "string", "format": "uuid"}, "the `next_after` of the page before"
            ),
            QueryParam(
                "limit", {"type": "integer", "minimum": 1, "maximum": STATEMENT_PAGE_MAX}, "charges per page"
            ),
        ),
        auth="jwt",
        tags=("support",),
    ),
    Endpoint(
        "POST",
        "/api/admin/refunds",
        refund,
        "Refund (part of) a captured charge (support; Idempotency-Key)",
        body=RefundRequest,
        response=RefundedBody,
        status=201,
        errors=(400, 401, 403, 404, 409, 422, 429),
        auth="jwt",
        tags=("support",),
    ),
    Endpoint(
        "POST",
        "/api/admin/accounts/{account_id}/credits",
        grant,
        "Grant goodwill credits with a reason (support; Idempotency-Key)",
        body=GrantRequest,
        response=GrantedBody,
        status=201,
        errors=(400, 401, 403, 404, 409, 422, 429),
        auth="jwt",
        tags=("support",),
    ),
    Endpoint(
        "POST",
        "/api/admin/accounts/{account_id}/plan",
        change_plan,
        "Change an account's plan (support)",
        body=PlanRequest,
        response=AccountSummary,
        errors=(400, 401, 403, 404, 429),
        auth="jwt",
        tags=("support",),
    ),
]
