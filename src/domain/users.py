"""Users (who signs in, with which role) and the index aggregate that keeps e-mails unique.

The `EmailIndex` id is derived from the normalised e-mail, so two servers registering the same e-mail
race on one aggregate id and the event store lets exactly one win.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

ROLES = ("user", "support", "auditor")
EMAIL_CHARS_MAX = 254
EMAIL_NAMESPACE = UUID("0b3c3d8e-9a55-4a5e-8f0e-6c1d2b7a9e41")


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
