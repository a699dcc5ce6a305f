"""Event → view rows. One `Batch` folds many events in memory and writes them in one transaction.

The views: `balances` (the spec's balance body), `statement` (every credit event with the running
available balance, and every payment event applied), `api_keys` (list and lookup by keyed hash),
`users` (sign-in, verified e-mail, session version), `mail_tokens` (a link's token hash → its
user), `open_reservations` (for the sweeper), `charges` (refundable amounts) and
`billing_accounts` (payment customer, subscription, renewal date). Every value comes from the
events, so a rebuild from event zero gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mosaic.domain.accounts import Account
from mosaic.domain.keys import ApiKey
from mosaic.domain.users import User
from mosaic.queries.db import Tx

VIEW_TABLES = (
    "balances", "statement", "api_keys", "users", "open_reservations", "charges", "billing_accounts",
    "mail_tokens",
)
TRACKING_NAME = "views"


@dataclass(slots=True)
class _Balance:
    account_id: str
    owner_user_id: str
    plan_name: str
    monthly_quota: int
    sub_status: str
    api_access: bool
    settled_credits: int
    reserved_credits: int
    statement_lines: int
    opened_at: str
    is_new: bool

    @property
    def available_credits(self) -> int:
        return self.settled_credits - self.reserved_credits


def _ts(event: Any) -> str:
    return str(event.timestamp.isoformat())


class Batch:
    """The view changes of one run of the projector, applied with `flush` inside its transaction."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.balances: dict[str, _Balance] = {}
        self.statement_rows: list[tuple[Any, ...]] = []
        # Reservations opened in this batch (request id -> row), and ones settled (to delete); the
        # common reserve-then-capture pair within one batch then never touches the table at all.
        self.opened: dict[str, tuple[Any, ...]] = {}
        self.settled: list[str] = []
        self.new_charges: list[tuple[Any, ...]] = []
        self.refunds: list[tuple[int, str]] = []  # applied after new_charges: a charge may be new here

    def open_reservation(self, row: tuple[Any, ...]) -> None:
        self.opened[row[0]] = row

    def settle_reservation(self, request_id: str) -> str:
        """Forget an open reservation; returns its summary."""
        row = self.opened.pop(request_id, None)
        if row is not None:
            return str(row[5])
        self.settled.append(request_id)
        found = self.tx.one("SELECT summary FROM open_reservations WHERE request_id = ?", (request_id,))
        return str(found[0]) if found else ""

    def balance(self, account_id: str) -> _Balance:
        row = self.balances.get(account_id)
        if row is None:
            found = self.tx.one(
                "SELECT owner_user_id, plan_name, monthly_quota, sub_status, api_access, "
                "settled_credits, reserved_credits, statement_lines, opened_at "
                "FROM balances WHERE account_id = ?",
                (account_id,),
            )
            assert found is not None, f"account {account_id} has events before it was opened"
            row = _Balance(
                account_id=account_id,
                owner_user_id=found[0],
                plan_name=found[1],
                monthly_quota=int(found[2]),
                sub_status=found[3],
                api_access=bool(found[4]),
                settled_credits=int(found[5]),
                reserved_credits=int(found[6]),
                statement_lines=int(found[7]),
                opened_at=found[8],
                is_new=False,
            )
            self.balances[account_id] = row
        return row

    def line(
        self,
        event: Any,
        position: int,
        kind: str,
        delta_credits: int,
        *,
        reference: str | None = None,
        tool: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
    ) -> None:
        row = self.balance(str(event.originator_id))
        row.statement_lines += 1
        self.statement_rows.append(
            (
                row.account_id,
                row.statement_lines,
                position,
                _ts(event),
                kind,
                reference,
                tool,
                delta_credits,
                row.available_credits,
                reason,
                actor,
            )
        )

    def flush(self) -> None:
        for row in self.balances.values():
            values = (
                row.owner_user_id,
                row.plan_name,
                row.monthly_quota,
                row.sub_status,
                row.api_access,
                row.settled_credits,
                row.reserved_credits,
                row.statement_lines,
                row.opened_at,
                row.account_id,
            )
            if row.is_new:
                self.tx.execute(
                    "INSERT INTO balances (owner_user_id, plan_name, monthly_quota, sub_status, "
                    "api_access, settled_credits, reserved_credits, statement_lines, opened_at, "
                    "account_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                row.is_new = False
            else:
                self.tx.execute(
                    "UPDATE balances SET owner_user_id = ?, plan_name = ?, monthly_quota = ?, "
                    "sub_status = ?, api_access = ?, settled_credits = ?, reserved_credits = ?, "
                    "statement_lines = ?, opened_at = ? WHERE account_id = ?",
                    values,
                )
        self.tx.executemany(
            "INSERT INTO statement (account_id, line, position, at, kind, reference, tool, "
            "delta_credits, balance_after, reason, actor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.statement_rows,
        )
        self.statement_rows.clear()
        self.tx.executemany(
            "DELETE FROM open_reservations WHERE request_id = ?", [(rid,) for rid in self.settled]
        )
        self.settled.clear()
        self.tx.executemany(
            "INSERT INTO open_reservations (request_id, account_id, tool, cost_credits, reserved_at, "
            "summary) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            list(self.opened.values()),
        )
        self.opened.clear()
        self.tx.executemany(
            "INSERT INTO charges (charge_id, account_id, tool, cost_credits, refunded_credits, captured_at, "
            "summary) VALUES (?, ?, ?, ?, 0, ?, ?)",
            self.new_charges,
        )
        self.new_charges.clear()
        self.tx.executemany(
            "UPDATE charges SET refunded_credits = refunded_credits + ? WHERE charge_id = ?", self.refunds
        )
        self.refunds.clear()


Handler = Callable[[Batch, Any, int], None]
HANDLERS: dict[type[Any], Handler] = {}


def handles(event_class: type[Any]) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        assert event_class not in HANDLERS
        HANDLERS[event_class] = handler
        return handler

    return register


def project(batch: Batch, event: Any, position: int) -> None:
    handler = HANDLERS.get(type(event))
    if handler is not None:
        handler(batch, event, position)


# -- accounts and credits ------------------------------------------------------------------------


@handles(Account.Opened)
def _opened(batch: Batch, e: Any, position: int) -> None:
    account_id = str(e.originator_id)
    batch.balances[account_id] = _Balance(
        account_id,
        e.owner_user_id,
        e.plan_name,
        e.monthly_quota_credits,
        e.sub_status,
        e.api_access,
        0,
        0,
        0,
        _ts(e),
        is_new=True,
    )


@handles(Account.MonthlyQuotaGranted)
def _granted(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits += e.amount_credits
    batch.line(e, position, "monthly_grant", e.amount_credits, reference=e.period)


@handles(Account.CreditsExpired)
def _expired(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits -= e.amount_credits
    batch.line(e, position, "expiry", -e.amount_credits, reference=e.period)


@handles(Account.CreditsReserved)
def _reserved(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).reserved_credits += e.cost_credits
    batch.line(e, position, "reserve", -e.cost_credits, reference=e.request_id, tool=e.tool)
    batch.open_reservation((e.request_id, str(e.originator_id), e.tool, e.cost_credits, _ts(e), e.summary))


@handles(Account.ReservationCaptured)
def _captured(batch: Batch, e: Any, position: int) -> None:
    row = batch.balance(str(e.originator_id))
    row.reserved_credits -= e.cost_credits
    row.settled_credits -= e.cost_credits
    batch.line(e, position, "capture", 0, reference=e.request_id, tool=e.tool)
    summary = batch.settle_reservation(e.request_id)
    batch.new_charges.append((e.request_id, str(e.originator_id), e.tool, e.cost_credits, _ts(e), summary))


@handles(Account.ReservationReleased)
def _released(batch: Batch, e: Any, position: int) -> None:
    row = batch.balance(str(e.originator_id))
    row.reserved_credits -= e.cost_credits
    batch.line(e, position, "release", e.cost_credits, reference=e.request_id, tool=e.tool, reason=e.reason)
    if e.expired_credits:  # held from a period that ended meanwhile: they expire, not come back
        row.settled_credits -= e.expired_credits
        batch.line(e, position, "expiry", -e.expired_credits, reference=e.request_id, tool=e.tool)
    batch.settle_reservation(e.request_id)


@handles(Account.CreditsRefunded)
def _refunded(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits += e.amount_credits
    batch.line(
        e,
        position,
        "refund",
        e.amount_credits,
        reference=e.charge_id,
        reason=e.reason,
        actor=e.issued_by,
    )
    batch.refunds.append((e.amount_credits, e.charge_id))


@handles(Account.CreditsGranted)
def _goodwill(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits += e.amount_credits
    batch.line(
        e,
        position,
        "goodwill_grant",
        e.amount_credits,
        reference=e.grant_id,
        reason=e.reason,
        actor=e.issued_by,
    )


@handles(Account.PlanChanged)
def _plan(batch: Batch, e: Any, position: int) -> None:
    row = batch.balance(str(e.originator_id))
    row.plan_name, row.monthly_quota, row.api_access = e.plan_name, e.monthly_quota_credits, e.api_access


@handles(Account.SubscriptionStatusChanged)
def _status(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).sub_status = e.sub_status


# -- payments ------------------------------------------------------------------------------------


@handles(Account.PaymentEventRecorded)
def _payment_event(batch: Batch, e: Any, position: int) -> None:
    batch.line(e, position, "payment", 0, reference=e.event_id, reason=e.event_type)


@handles(Account.PackPurchased)
def _pack(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits += e.amount_credits
    batch.line(e, position, "pack", e.amount_credits, reference=e.purchase_id, reason=e.pack_name)


@handles(Account.PackRefunded)
def _pack_refund(batch: Batch, e: Any, position: int) -> None:
    batch.balance(str(e.originator_id)).settled_credits -= e.amount_credits
    batch.line(
        e, position, "pack_refund", -e.amount_credits, reference=e.purchase_id,
        reason=f"payment refunded: {e.refunded_cents} cents in all",
    )


def _billing_row(batch: Batch, account_id: str, **values: str) -> None:
    columns = ", ".join(f"{name} = ?" for name in values)
    batch.tx.execute(
        "INSERT INTO billing_accounts (account_id) SELECT ? WHERE NOT EXISTS "
        "(SELECT 1 FROM billing_accounts WHERE account_id = ?)",
        (account_id, account_id),
    )
    batch.tx.execute(
        f"UPDATE billing_accounts SET {columns} WHERE account_id = ?", (*values.values(), account_id)
    )


@handles(Account.CustomerLinked)
def _customer(batch: Batch, e: Any, position: int) -> None:
    _billing_row(batch, str(e.originator_id), customer_id=e.customer_id)


@handles(Account.SubscriptionFollowed)
def _subscription(batch: Batch, e: Any, position: int) -> None:
    _billing_row(
        batch, str(e.originator_id), subscription_id=e.subscription_id, period_ends_at=e.period_ends_at
    )


@handles(Account.SubscriptionEnded)
def _subscription_ended(batch: Batch, e: Any, position: int) -> None:
    if e.current:
        _billing_row(batch, str(e.originator_id), subscription_id="", period_ends_at="")


# -- users and keys ------------------------------------------------------------------------------


@handles(User.Registered)
def _user(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "INSERT INTO users (user_id, email, role, account_id, password_hash, registered_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (str(e.originator_id), e.email, e.role, e.account_id, e.password_hash, _ts(e)),
    )


@handles(User.PasswordChanged)
def _password(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "UPDATE users SET password_hash = ? WHERE user_id = ?", (e.password_hash, str(e.originator_id))
    )


@handles(User.MailTokenIssued)
def _mail_token(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "INSERT INTO mail_tokens (token_hash, user_id, purpose, expires_at, used) VALUES (?, ?, ?, ?, ?)",
        (e.token_hash, str(e.originator_id), e.purpose, e.expires_at, False),
    )


def _retire_tokens(batch: Batch, user_id: str, purpose: str) -> None:
    batch.tx.execute(
        "UPDATE mail_tokens SET used = ? WHERE user_id = ? AND purpose = ?", (True, user_id, purpose)
    )


@handles(User.EmailVerified)
def _verified(batch: Batch, e: Any, position: int) -> None:
    user_id = str(e.originator_id)
    batch.tx.execute("UPDATE users SET email_verified = ? WHERE user_id = ?", (True, user_id))
    _retire_tokens(batch, user_id, "verify_email")


@handles(User.ResetTokenUsed)
def _reset_used(batch: Batch, e: Any, position: int) -> None:
    _retire_tokens(batch, str(e.originator_id), "reset_password")


@handles(User.SessionsEnded)
def _sessions_ended(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "UPDATE users SET token_version = ? WHERE user_id = ?", (e.token_version, str(e.originator_id))
    )


@handles(ApiKey.Created)
def _key(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "INSERT INTO api_keys (key_id, account_id, user_id, name, prefix, key_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (str(e.originator_id), e.account_id, e.user_id, e.name, e.prefix, e.key_hash, _ts(e)),
    )


@handles(ApiKey.Revoked)
def _revoked(batch: Batch, e: Any, position: int) -> None:
    batch.tx.execute(
        "UPDATE api_keys SET revoked_at = ?, revoked_by = ? WHERE key_id = ?",
        (_ts(e), e.revoked_by, str(e.originator_id)),
    )
