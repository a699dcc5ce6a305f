"""Account owners' use cases: sign up (and the verification mail, when mail is configured), sign in,
create and revoke API keys, look a key up.

Each answers with what the views show once they have folded its events (read-your-writes), so a
caller that acts next (lists its keys, reads its balance) sees what it did. argon2 and key hashing
run in the caller's thread, never on the writer's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from argon2.exceptions import InvalidHashError, VerificationError

from mosaic.commands.account_mail import AccountMail
from mosaic.commands.ledger import Ledger
from mosaic.commands.writer import Committed
from mosaic.domain.users import normalise_email
from mosaic.queries.usage import KeyUsage
from mosaic.queries.views import KeyGrant, Views

log = logging.getLogger(__name__)

PUBLIC_PLAN_NAME = "free"  # a public sign-up opens a free account; plans change through support

Settle = Callable[[Committed[Any]], None]


@dataclass(frozen=True, slots=True)
class Registered:
    user_id: str
    account_id: str
    email: str
    plan_name: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: str
    account_id: str
    role: str
    token_version: int  # sign-in tokens carry it: a reset or a new password moves it on


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """The plain key is here and nowhere else, ever: the caller shows it once."""

    key_id: str
    plain_key: str
    prefix: str
    name: str
    created_at: str


class Owners:
    def __init__(
        self,
        *,
        ledger: Ledger,
        views: Views,
        usage: KeyUsage,
        settle: Settle,
        mail: AccountMail | None = None,
    ) -> None:
        self.ledger = ledger
        self.views = views
        self.usage = usage
        self.settle = settle
        self.mail = mail
        self._dummy_hash: str | None = None

    def register(self, *, email: str, password: str) -> Registered:
        committed = self.ledger.register_user(email=email, password=password, plan_name=PUBLIC_PLAN_NAME)
        self.settle(committed)
        account_id = str(committed.value.account_id)
        balance = self.views.balance(account_id)
        assert balance is not None, "settled: the account's balance row exists"
        registered = Registered(
            str(committed.value.user_id), account_id, normalise_email(email), balance.plan_name
        )
        if self.mail is not None:
            self.mail.signed_up(user_id=registered.user_id, email=registered.email)
        return registered

    def sign_in(self, *, email: str, password: str) -> SignedIn | None:
        """Who `email` is if `password` is theirs; None otherwise (an unknown e-mail costs the same)."""
        user = self.views.user_by_email(normalise_email(email))
        matches = self._password_matches(user.password_hash if user else None, password)
        if user is None or not matches:
            return None
        return SignedIn(user.user_id, user.account_id, user.role, user.token_version)

    def token_version(self, user_id: str) -> int | None:
        """The user's session version now (None: no such user): a sign-in token of another is void."""
        return self.views.token_version(user_id)

    def _password_matches(self, password_hash: str | None, password: str) -> bool:
        """argon2 verify; for an unknown e-mail, verify against a dummy hash so timing does not tell."""
        hasher = self.ledger.password_hasher
        if password_hash is None:
            if self._dummy_hash is None:
                self._dummy_hash = hasher.hash("not-a-password-" * 2)
            password_hash = self._dummy_hash
        try:
            return hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def create_key(self, *, user_id: str, name: str) -> CreatedKey:
        committed, plain_key = self.ledger.create_key(user_id=UUID(user_id), name=name)
        self.settle(committed)
        created = committed.value
        row = self.views.key(str(created.key_id))
        assert row is not None, "settled: the views hold the new key"
        return CreatedKey(str(created.key_id), plain_key, created.prefix, created.name, row.created_at)

    def revoke_key(self, *, user_id: str, key_id: UUID) -> None:
        self.settle(self.ledger.revoke_key(user_id=UUID(user_id), key_id=key_id))

    def key_hash(self, plain_key: str) -> str:
        return self.ledger.key_hash(plain_key)

    def key_grant(self, key_hash: str) -> KeyGrant | None:
        """Whose key this is and whether its account may use the API; records its use (throttled)."""
        grant = self.views.key_grant(key_hash)
        if grant is not None and not grant.revoked:
            try:
                self.usage.touch(grant.key_id)  # throttles itself; runs at most once per cache miss
            except Exception:  # 'last used' is a convenience: never refuse a request over it
                log.warning("could not record the use of key %s", grant.key_id, exc_info=True)
        return grant
