"""Users (who signs in, with which role) and the index aggregate that keeps e-mails unique.

The `EmailIndex` id is derived from the normalised e-mail, so two servers registering the same e-mail
race on one aggregate id and the event store lets exactly one win.

Mail tokens (address verification, password reset) are random strings mailed to the user; only their
SHA-256 is ever recorded. Each is single-use and expires; using one of a purpose retires every other
of that purpose. `token_version` counts the times every session of the user was ended (a reset, a
password change): a sign-in token carries the version it was issued under and is refused once the
user's version has moved on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

import email_validator
from eventsourcing.domain import Aggregate

from mosaic.domain.errors import InvalidInput, MailTokenExpired, MailTokenInvalid, MailTokenUsed
from mosaic.domain.text import check_plain_text

ROLES = ("user", "support", "auditor")
EMAIL_CHARS_MAX = 254
EMAIL_NAMESPACE = UUID("0b3c3d8e-9a55-4a5e-8f0e-6c1d2b7a9e41")


MAIL_TOKEN_PURPOSES = ("verify_email", "reset_password")
MAIL_TOKEN_TTL_S = 3600
MAIL_TOKEN_CHARS_MAX = 128  # a token is 43 characters (32 random bytes); anything far longer is not one

PASSWORD_CHARS_MIN = 10
PASSWORD_CHARS_MAX = 256


def normalise_email(email: str) -> str:
    """The e-mail as stored and looked up. Every lookup passes here, so one with control characters
    (which no stored e-mail holds) is refused as InvalidInput before it reaches a database."""
    email = email.strip().lower()
    check_plain_text(email, field="email")
    return email


def checked_email(email: str) -> str:
    """The normalised e-mail, or InvalidInput saying what is wrong with it. The syntax is RFC 5321/
    6531's as email-validator checks it (no DNS lookup: an account is made offline too), so a list
    such as `a@x.com,b@y.com` is refused rather than taken for one odd address."""
    email = normalise_email(email)
    if len(email) > EMAIL_CHARS_MAX:
        raise InvalidInput(f"email must be at most {EMAIL_CHARS_MAX} characters")
    try:
        email_validator.validate_email(email, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InvalidInput(f"email must be an e-mail address such as ada@example.com: {exc}") from None
    return email


def check_password(password: str) -> None:
    if not PASSWORD_CHARS_MIN <= len(password) <= PASSWORD_CHARS_MAX:
        raise InvalidInput(
            f"password must be {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters long"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")


def mail_token_hash(token: str) -> str:
    """What is recorded of a mail token: its SHA-256 (the token is 256 random bits, so no salt or
    slow hash is needed: it cannot be guessed, only stolen, and the hash does not give it back)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(slots=True)
class MailToken:
    purpose: str
    expires_at: str  # ISO 8601
    used: bool = False


def email_index_id(email: str) -> UUID:
    return uuid5(EMAIL_NAMESPACE, normalise_email(email))


class EmailIndex(Aggregate):
    class Created(Aggregate.Created):
        email: str
        user_id: str

    def __init__(self, email: str, user_id: str) -> None:
        self.email = email
        self.user_id = user_id

    @classmethod
    def claim(cls, *, email: str, user_id: UUID) -> EmailIndex:
        email = normalise_email(email)
        return cls._create(cls.Created, id=email_index_id(email), email=email, user_id=str(user_id))


class User(Aggregate):
    class Registered(Aggregate.Created):
        email: str
        password_hash: str
        role: str
        account_id: str

    def __init__(self, email: str, password_hash: str, role: str, account_id: str) -> None:
        self.email = email
        self.password_hash = password_hash
        self.role = role
        self.account_id = account_id
        self.email_verified = False
        self.token_version = 0
        self.mail_tokens: dict[str, MailToken] = {}  # token hash → what it is for

    @classmethod
    def register(
        cls, *, user_id: UUID, email: str, password_hash: str, role: str, account_id: UUID
    ) -> User:
        assert role in ROLES, role
        assert password_hash.startswith("$argon2"), "only argon2 hashes are stored"
        return cls._create(
            cls.Registered,
            id=user_id,
            email=normalise_email(email),
            password_hash=password_hash,
            role=role,
            account_id=str(account_id),
        )

    def change_password(self, *, password_hash: str) -> None:
        """A new password ends every session: one opened with the old password may be a thief's."""
        assert password_hash.startswith("$argon2")
        self.trigger_event(self.PasswordChanged, password_hash=password_hash)
        self.trigger_event(self.SessionsEnded, token_version=self.token_version + 1)

    def issue_mail_token(self, *, purpose: str, token_hash: str, expires_at: datetime) -> None:
        assert purpose in MAIL_TOKEN_PURPOSES, purpose
        assert len(token_hash) == 64 and token_hash not in self.mail_tokens
        assert expires_at.tzinfo is not None, "expiry times are UTC-aware"
        self.trigger_event(
            self.MailTokenIssued, purpose=purpose, token_hash=token_hash, expires_at=expires_at.isoformat()
        )

    def verify_email(self, *, token_hash: str, now: datetime) -> None:
        self._check_token("verify_email", token_hash, now)
        self.trigger_event(self.EmailVerified, token_hash=token_hash)

    def reset_password(self, *, token_hash: str, password_hash: str, now: datetime) -> None:
        """Use a reset token: the new password, and every session ended."""
        self._check_token("reset_password", token_hash, now)
        self.trigger_event(self.ResetTokenUsed, token_hash=token_hash)
        self.change_password(password_hash=password_hash)

    def _check_token(self, purpose: str, token_hash: str, now: datetime) -> None:
        token = self.mail_tokens.get(token_hash)
        if token is None or token.purpose != purpose:
            raise MailTokenInvalid("this link's token is not valid; ask for a new mail")
        if token.used:
            raise MailTokenUsed("this link has been used already (or a newer one of its kind was)")
        if datetime.fromisoformat(token.expires_at) <= now:
            raise MailTokenExpired("this link has expired; ask for a new mail")

    def _retire(self, purpose: str) -> None:
        for token in self.mail_tokens.values():
            if token.purpose == purpose:
                token.used = True

    class MailTokenIssued(Aggregate.Event):
        purpose: str
        token_hash: str
        expires_at: str

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user.mail_tokens[self.token_hash] = MailToken(self.purpose, self.expires_at)

    class EmailVerified(Aggregate.Event):
        token_hash: str

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user.email_verified = True
            user._retire("verify_email")

    class ResetTokenUsed(Aggregate.Event):
        token_hash: str

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user._retire("reset_password")

    class SessionsEnded(Aggregate.Event):
        token_version: int

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user.token_version = self.token_version

    class PasswordChanged(Aggregate.Event):
        password_hash: str

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user.password_hash = self.password_hash
