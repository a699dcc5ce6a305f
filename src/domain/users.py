"""Users (who signs in, with which role) and the index aggregate that keeps e-mails unique.

The `EmailIndex` id is derived from the normalised e-mail, so two servers registering the same e-mail
race on one aggregate id and the event store lets exactly one win.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from mosaic.domain.errors import InvalidInput
from mosaic.domain.text import check_plain_text

ROLES = ("user", "support", "auditor")
EMAIL_CHARS_MAX = 254
EMAIL_NAMESPACE = UUID("0b3c3d8e-9a55-4a5e-8f0e-6c1d2b7a9e41")


PASSWORD_CHARS_MIN = 10
PASSWORD_CHARS_MAX = 256


def normalise_email(email: str) -> str:
    """The e-mail as stored and looked up. Every lookup passes here, so one with control characters
    (which no stored e-mail holds) is refused as InvalidInput before it reaches a database."""
    email = email.strip().lower()
    check_plain_text(email, field="email")
    return email


def checked_email(email: str) -> str:
    """The normalised e-mail, or InvalidInput saying what is wrong with it."""
    email = normalise_email(email)
    local, at, domain = email.partition("@")
    if len(email) > EMAIL_CHARS_MAX or not at or not local or "." not in domain or " " in email:
        raise InvalidInput("email must be an e-mail address such as ada@example.com")
    return email


def check_password(password: str) -> None:
    if not PASSWORD_CHARS_MIN <= len(password) <= PASSWORD_CHARS_MAX:
        raise InvalidInput(
            f"password must be {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters long"
        )


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")


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
        assert password_hash.startswith("$argon2")
        self.trigger_event(self.PasswordChanged, password_hash=password_hash)

    class PasswordChanged(Aggregate.Event):
        password_hash: str

        def apply(self, user: Any) -> None:
            assert isinstance(user, User)
            user.password_hash = self.password_hash
