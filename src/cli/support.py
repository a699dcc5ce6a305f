"""`mosaic support …`: support staff's refunds and statements, on the record (`mosaic.commands.support`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from mosaic.cli.admin import with_services
from mosaic.domain.errors import NotFound
from mosaic.domain.users import normalise_email

if TYPE_CHECKING:
    from mosaic.bootstrap import Services

Subparsers = Any  # argparse's _SubParsersAction is private


def _support_refund(services: Services, args: argparse.Namespace) -> int:
    support = services.use_cases.support
    staff = support.staff_member(args.staff)  # folds the views first: there is no background runner here
    done = support.refund(
        staff_user_id=staff,
        charge_id=args.charge_id,
        amount_credits=args.amount,
        reason=args.reason,
        idempotency_key=args.idempotency_key,
    )
    state = "refunded" if done.applied else "already refunded under this key"
    print(f"{state}: {args.amount} credit(s) of charge {args.charge_id} (refund {done.refund_id})")
    return 0


def _support_statement(services: Services, args: argparse.Namespace) -> int:
    services.runner.catch_up()
    user = services.views.user_by_email(normalise_email(args.email))
    if user is None:
        raise NotFound(f"no user with e-mail {args.email}")
    balance = services.views.balance(user.account_id)
    assert balance is not None
    print(f"{user.email}  account {user.account_id}  plan {balance.plan_name} ({balance.sub_status})")
    after = 0
    while lines := services.views.statement(user.account_id, after_line=after, limit=500):
        for line in lines:
            detail = " ".join(
                part
                for part in (line.tool or "", line.reference or "", line.reason or "", line.actor or "")
                if part
            )
            amounts = f"{line.delta_credits:+6d}  {line.balance_after:8d}"
            print(f"{line.line:6d}  {line.at[:19]}  {line.kind:15s} {amounts}  {detail}")
        after = lines[-1].line
    print(f"balance: {balance.balance}")
    return 0


def add_support_commands(commands: Subparsers) -> None:
    support = commands.add_parser("support", help="support staff: refunds, statements").add_subparsers(
        dest="support", required=True
    )
    refund = support.add_parser("refund", help="refund (part of) a captured charge")
    refund.add_argument("charge_id")
    refund.add_argument("--amount", type=int, required=True)
    refund.add_argument("--reason", required=True)
    refund.add_argument("--as", dest="staff", required=True, help="the support staff member's e-mail")
    refund.add_argument("--idempotency-key", help="repeat safely: the same key refunds once")
    refund.set_defaults(handler=with_services(_support_refund))
    statement = support.add_parser("statement", help="print an account's statement")
    statement.add_argument("email")
    statement.set_defaults(handler=with_services(_support_statement))
