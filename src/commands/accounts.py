"""Account and user commands: register (user + account + e-mail claim), plan, status, monthly grant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from mosaic.commands.credits import account
from mosaic.commands.writer import Unit
from mosaic.domain.accounts import Account
from mosaic.domain.errors import EmailTaken, NotFound
from mosaic.domain.plans import Plan
from mosaic.domain.users import EmailIndex, User, email_index_id


def period_of(now: datetime) -> str:
    """The quota period (a calendar month in UTC) that `now` falls in, e.g. '2026-11'."""
    return f"{now.year:04d}-{now.month:02d}"


@dataclass(frozen=True, slots=True)
class Registered:
    user_id: UUID
    account_id: UUID


def register_user(
    unit: Unit,
    *,
    user_id: UUID,
    account_id: UUID,
    email: str,
    password_hash: str,
    role: str,
    plan: Plan,
    now: datetime,
) -> Registered:
    if unit.find(EmailIndex, email_index_id(email)) is not None:
        raise EmailTaken("an account with this e-mail exists already; sign in instead")
    unit.add(EmailIndex.claim(email=email, user_id=user_id))
    unit.add(
        User.register(
            user_id=user_id, email=email, password_hash=password_hash, role=role, account_id=account_id
        )
    )
    acct = Account.open(account_id=account_id, owner_user_id=user_id, plan=plan, sub_status="active")
    acct.start_period(period=period_of(now))  # a new account gets this period's quota at once
    unit.add(acct)
    return Registered(user_id, account_id)


def user(unit: Unit, user_id: UUID) -> User:
    found = unit.find(User, user_id)
    if found is None:
        raise NotFound(f"no user {user_id}")
    return found


def change_password(unit: Unit, *, user_id: UUID, password_hash: str) -> None:
    user(unit, user_id).change_password(password_hash=password_hash)


def issue_mail_token(
    unit: Unit, *, user_id: UUID, purpose: str, token_hash: str, expires_at: datetime
) -> None:
    user(unit, user_id).issue_mail_token(purpose=purpose, token_hash=token_hash, expires_at=expires_at)


def verify_email(unit: Unit, *, user_id: UUID, token_hash: str, now: datetime) -> str:
    """Use a verification token; the user's e-mail."""
    found = user(unit, user_id)
    found.verify_email(token_hash=token_hash, now=now)
    return found.email


def reset_password(unit: Unit, *, user_id: UUID, token_hash: str, password_hash: str, now: datetime) -> str:
    """Use a reset token: a new password, every session ended; the user's e-mail."""
    found = user(unit, user_id)
    found.reset_password(token_hash=token_hash, password_hash=password_hash, now=now)
    return found.email


def change_plan(unit: Unit, *, account_id: UUID, plan: Plan, changed_by: str | None = None) -> bool:
    return account(unit, account_id).change_plan(plan=plan, changed_by=changed_by)


def change_subscription_status(unit: Unit, *, account_id: UUID, sub_status: str) -> bool:
    return account(unit, account_id).change_subscription_status(sub_status=sub_status)


def start_period(unit: Unit, *, account_id: UUID, now: datetime) -> bool:
    """Expire last period's leftover quota and grant this period's; False if done already."""
    return account(unit, account_id).start_period(period=period_of(now))
