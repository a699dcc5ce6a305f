"""The ledger's command API: what HTTP handlers, the CLI and the generation flow call.

Work that is slow or needs secrets (argon2, key generation, HMAC) happens here in the caller's
thread, before the command reaches the single writer; the writer only decides and records.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from argon2 import PasswordHasher

from mosaic.commands import accounts, credits, keys, payments
from mosaic.commands.plans import PlanCatalogue
from mosaic.commands.store import LedgerStore
from mosaic.commands.stripe_events import Notice
from mosaic.commands.writer import Committed, Writer
from mosaic.domain.errors import InvalidInput
from mosaic.domain.keys import KEY_NAME_CHARS_MAX
from mosaic.domain.users import (
    MAIL_TOKEN_TTL_S,
    check_password,
    check_role,
    checked_email,
    mail_token_hash,
)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def checked_key_name(name: str) -> str:
    name = name.strip()
    if not 0 < len(name) <= KEY_NAME_CHARS_MAX or not name.isprintable():
        raise InvalidInput(f"name must be 1 to {KEY_NAME_CHARS_MAX} printable characters")
    return name


class Ledger:
    def __init__(
        self,
        *,
        store: LedgerStore,
        writer: Writer,
        plans: PlanCatalogue,
        secret: bytes,
        clock: Clock = utc_now,
        password_hasher: PasswordHasher | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self.plans = plans
        self._secret = secret
        self.clock = clock
        self.password_hasher = password_hasher or PasswordHasher()

    # -- users and accounts ----------------------------------------------------------------------

    def register_user(
        self, *, email: str, password: str, role: str = "user", plan_name: str = "free"
    ) -> Committed[accounts.Registered]:
        email = checked_email(email)
        check_password(password)
        check_role(role)
        plan = self.plans.get(plan_name)
        password_hash = self.password_hasher.hash(password)
        user_id, account_id, now = uuid.uuid4(), uuid.uuid4(), self.clock()
        return self.writer.execute(
            lambda unit: accounts.register_user(
                unit,
                user_id=user_id,
                account_id=account_id,
                email=email,
                password_hash=password_hash,
                role=role,
                plan=plan,
                now=now,
            )
        )

    def change_password(self, *, user_id: UUID, password: str) -> Committed[None]:
        check_password(password)
        password_hash = self.password_hasher.hash(password)
        return self.writer.execute(
            lambda unit: accounts.change_password(unit, user_id=user_id, password_hash=password_hash)
        )

    def issue_mail_token(self, *, user_id: UUID, purpose: str, token: str) -> Committed[None]:
        """Record that `token` (only its hash) was made for `purpose`; it expires MAIL_TOKEN_TTL_S on."""
        token_hash = mail_token_hash(token)
        expires_at = self.clock() + timedelta(seconds=MAIL_TOKEN_TTL_S)
        return self.writer.execute(
            lambda unit: accounts.issue_mail_token(
                unit, user_id=user_id, purpose=purpose, token_hash=token_hash, expires_at=expires_at
            )
        )

    def verify_email(self, *, user_id: UUID, token: str) -> Committed[str]:
        token_hash, now = mail_token_hash(token), self.clock()
        return self.writer.execute(
            lambda unit: accounts.verify_email(unit, user_id=user_id, token_hash=token_hash, now=now)
        )

    def reset_password(self, *, user_id: UUID, token: str, password: str) -> Committed[str]:
        check_password(password)
        password_hash = self.password_hasher.hash(password)
        token_hash, now = mail_token_hash(token), self.clock()
        return self.writer.execute(
            lambda unit: accounts.reset_password(
                unit, user_id=user_id, token_hash=token_hash, password_hash=password_hash, now=now
            )
        )

    def change_plan(
        self, *, account_id: UUID, plan_name: str, changed_by: str | None = None
    ) -> Committed[bool]:
        plan = self.plans.get(plan_name)
        return self.writer.execute(
            lambda unit: accounts.change_plan(unit, account_id=account_id, plan=plan, changed_by=changed_by)
        )

    def change_subscription_status(self, *, account_id: UUID, sub_status: str) -> Committed[bool]:
        return self.writer.execute(
            lambda unit: accounts.change_subscription_status(
                unit, account_id=account_id, sub_status=sub_status
            )
        )

    def start_period(self, *, account_id: UUID) -> Committed[bool]:
        now = self.clock()
        return self.writer.execute(
            lambda unit: accounts.start_period(unit, account_id=account_id, now=now)
        )

    # -- keys --------------------------------------------------------------------------------------

    def create_key(self, *, user_id: UUID, name: str) -> tuple[Committed[keys.CreatedKey], str]:
        """Create a key; returns the commit and the plain key, which exists nowhere else."""
        name = checked_key_name(name)
        plain_key, key_id, secret = keys.new_plain_key(), uuid.uuid4(), self._secret
        committed = self.writer.execute(
            lambda unit: keys.create_key(
                unit, user_id=user_id, key_id=key_id, name=name, plain_key=plain_key, secret=secret
            )
        )
        return committed, plain_key

    def revoke_key(self, *, user_id: UUID, key_id: UUID) -> Committed[bool]:
        return self.writer.execute(
            lambda unit: keys.revoke_key(unit, user_id=user_id, key_id=key_id, revoked_by=str(user_id))
        )

    def key_hash(self, plain_key: str) -> str:
        return keys.keyed_hash(self._secret, plain_key)

    # -- credits -----------------------------------------------------------------------------------

    def refund(
        self,
        *,
        account_id: UUID,
        charge_id: UUID,
        amount_credits: int,
        reason: str,
        issued_by: str,
        refund_id: UUID | None = None,
    ) -> Committed[bool]:
        if not reason.strip():
            raise InvalidInput("a refund needs a reason")
        refund_id = refund_id or uuid.uuid4()
        return self.writer.execute(
            lambda unit: credits.refund_charge(
                unit,
                account_id=account_id,
                refund_id=refund_id,
                charge_id=charge_id,
                amount_credits=amount_credits,
                reason=reason,
                issued_by=issued_by,
            )
        )

    def grant_credits(
        self,
        *,
        account_id: UUID,
        amount_credits: int,
        reason: str,
        issued_by: str,
        grant_id: UUID | None = None,
    ) -> Committed[bool]:
        if not reason.strip():
            raise InvalidInput("a grant needs a reason")
        grant_id = grant_id or uuid.uuid4()
        return self.writer.execute(
            lambda unit: credits.grant_credits(
                unit,
                account_id=account_id,
                grant_id=grant_id,
                amount_credits=amount_credits,
                reason=reason,
                issued_by=issued_by,
            )
        )

    def release_expired(self, *, account_id: UUID, timeout: timedelta) -> Committed[list[UUID]]:
        now = self.clock()
        return self.writer.execute(
            lambda unit: credits.release_expired_reservations(
                unit, account_id=account_id, now=now, timeout=timeout
            )
        )

    # -- payments ----------------------------------------------------------------------------------

    def link_customer(self, *, account_id: UUID, customer_id: str) -> Committed[str]:
        return self.writer.execute(
            lambda unit: payments.link_customer(unit, account_id=account_id, customer_id=customer_id)
        )

    def apply_payment_event(self, notice: Notice) -> Committed[payments.Applied]:
        plans = self.plans
        return self.writer.execute(
            lambda unit: payments.apply_payment_event(unit, notice=notice, catalogue=plans)
        )
