"""Support staff (JWT with role `support`): find an account, read its charges, refund, grant, re-plan.

Every action is a ledger event recording the staff member and the reason; refunds and grants are
idempotent under `Idempotency-Key` (rule 4) through `answer_once`, as paid routes are: the same key and
body replay the first answer, the same key with another body (another charge, amount or account) is
422. The ledger derives the refund or grant id from the key as well, so even after the stored answer
expires a repeat is never applied twice, and a reuse on the same account is still 422.
A `user` or `auditor` token gets 403.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.bootstrap import Services
from mosaic.commands import support
from mosaic.commands.writer import Committed
from mosaic.domain.accounts import GRANT_CREDITS_MAX, REASON_CHARS_MAX
from mosaic.domain.errors import NotFound
from mosaic.domain.users import normalise_email
from mosaic.http.errors import ApiError
from mosaic.http.idempotent import answer_once, body_digest, idempotency_key
from mosaic.http.params import int_query
from mosaic.http.routing import Call, Endpoint, QueryParam, json_response
from mosaic.queries.views import STATEMENT_PAGE_MAX
from mosaic.staff import refund_charge

Reason = Annotated[str, Meta(min_length=3, max_length=REASON_CHARS_MAX)]
Credits = Annotated[int, Meta(ge=1, le=GRANT_CREDITS_MAX)]


class RefundRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    charge_id: str
    amount: Credits
    reason: Reason


class GrantRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    amount: Credits
    reason: Reason


class PlanRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    plan: Annotated[str, Meta(min_length=1, max_length=50)]


class AccountBody(msgspec.Struct, frozen=True):
    account_id: str
    user_id: str
    email: str
    role: str
    balance: int
    monthly_quota: int
    plan_name: str
    sub_status: str


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
    refundable_left: int | None  # None: applied, but not shown by the views yet (see `_refund`)
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
        raise ApiError(403, "forbidden", "this needs a support staff sign-in")
    return call.who.user_id


def _account_id(call: Call) -> str:
    raw = call.request.path_params["account_id"]
    try:
        return str(UUID(raw))
    except ValueError:
        raise NotFound(f"no account {raw}") from None


def _account_body(services: Services, account_id: str) -> AccountBody:
    balance = services.views.balance(account_id)
    if balance is None:
        raise NotFound(f"no account {account_id}")
    owner = services.views.user_of_account(account_id)
    assert owner is not None, "every account has its owner"
    return AccountBody(
        account_id,
        owner.user_id,
        owner.email,
        owner.role,
        balance.balance,
        balance.monthly_quota,
        balance.plan_name,
        balance.sub_status,
    )


async def find_account(call: Call) -> Response:
    _staff(call)
    email = call.request.query_params.get("email", "")
    user = await run_in_threadpool(call.services.views.user_by_email, normalise_email(email))
    if user is None:
        raise NotFound("no account with that e-mail")
    return json_response(await run_in_threadpool(_account_body, call.services, user.account_id))


async def charges(call: Call) -> Response:
    _staff(call)
    account_id = _account_id(call)
    after = call.request.query_params.get("after", "")
    limit = int_query(call.request, "limit", default=100, low=1, high=STATEMENT_PAGE_MAX)
    rows = await run_in_threadpool(call.services.views.charges_of, account_id, after=after, limit=limit)
    body = ChargesBody(
        account_id,
        [
            ChargeBody(
                r.charge_id,
                r.tool,
                r.summary,
                r.cost_credits,
                r.refunded_credits,
                r.captured_at,
                [RefundBody(f.amount_credits, f.at, f.reason, f.issued_by) for f in r.refunds],
            )
            for r in rows
        ],
        rows[-1].charge_id if len(rows) == limit else None,
    )
    return json_response(body)


def _shown(services: Services, *, applied: bool, position: int | None) -> bool:
    """Wait for the views to show a committed refund or grant; False if they are slow. It was
    applied all the same, so it is answered as applied (without the numbers the views would give),
    never as a 503 that invites sending it again (without a key, that would apply it twice)."""
    try:
        services.settle(Committed(applied, position))
    except TimeoutError:
        return False
    return True


def _refund(services: Services, staff: str, request: RefundRequest, key: str | None) -> RefundedBody:
    """The refund, with the charge and balance as the views show them."""
    done = refund_charge(
        services,
        staff_user_id=staff,
        charge_id=request.charge_id,
        amount_credits=request.amount,
        reason=request.reason,
        idempotency_key=key,
    )
    if not _shown(services, applied=done.applied, position=done.position):
        return RefundedBody(
            str(done.refund_id), request.charge_id, done.account_id, request.amount, None, None,
            repeat=not done.applied,
        )
    after = services.views.charge(request.charge_id)
    balance = services.views.balance(done.account_id)
    assert after is not None and balance is not None
    return RefundedBody(
        str(done.refund_id),
        request.charge_id,
        done.account_id,
        request.amount,
        after.cost_credits - after.refunded_credits,
        balance.balance,
        repeat=not done.applied,
    )


async def refund(call: Call) -> Response:
    staff = _staff(call)
    request, key = call.body, idempotency_key(call)
    assert isinstance(request, RefundRequest)

    async def produce() -> Response:
        body = await run_in_threadpool(_refund, call.services, staff, request, key)
        return json_response(body, status=200 if body.repeat else 201)

    return await answer_once(call, key, body_digest(request), produce)


def _grant(
    services: Services, staff: str, account_id: str, request: GrantRequest, key: str | None
) -> GrantedBody:
    if services.views.balance(account_id) is None:
        raise NotFound(f"no account {account_id}")
    grant_id, applied, position = support.grant(
        services.ledger,
        staff_user_id=staff,
        account_id=account_id,
        amount_credits=request.amount,
        reason=request.reason,
        idempotency_key=key,
    )
    if not _shown(services, applied=applied, position=position):
        return GrantedBody(str(grant_id), account_id, request.amount, None, repeat=not applied)
    balance = services.views.balance(account_id)
    assert balance is not None
    return GrantedBody(str(grant_id), account_id, request.amount, balance.balance, repeat=not applied)


async def grant(call: Call) -> Response:
    staff = _staff(call)
    request, key, account_id = call.body, idempotency_key(call), _account_id(call)
    assert isinstance(request, GrantRequest)

    async def produce() -> Response:
        body = await run_in_threadpool(_grant, call.services, staff, account_id, request, key)
        return json_response(body, status=200 if body.repeat else 201)

    return await answer_once(call, key, body_digest(request), produce)


def _plan(services: Services, staff: str, account_id: str, plan: str) -> AccountBody:
    owner = services.views.user_of_account(account_id)
    if owner is None:
        raise NotFound(f"no account {account_id}")
    committed = services.ledger.change_plan(account_id=UUID(account_id), plan_name=plan, changed_by=staff)
    services.settle(committed)
    return _account_body(services, account_id)


async def change_plan(call: Call) -> Response:
    staff = _staff(call)
    assert isinstance(call.body, PlanRequest)
    body = await run_in_threadpool(_plan, call.services, staff, _account_id(call), call.body.plan)
    return json_response(body)


ENDPOINTS = [
    Endpoint(
        "GET",
        "/api/admin/accounts",
        find_account,
        "Find an account by e-mail (support)",
        response=AccountBody,
        errors=(401, 403, 404, 429),
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
            QueryParam("after", {"type": "string"}, "the `next_after` of the page before"),
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
        response=AccountBody,
        errors=(400, 401, 403, 404, 429),
        auth="jwt",
        tags=("support",),
    ),
]
