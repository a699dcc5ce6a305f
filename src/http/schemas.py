"""The JSON bodies of the account routes, as msgspec Structs (also the OpenAPI schemas).

Request bodies forbid unknown fields, so a typo (or a `plan` sent to register) is a clear 400.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from mosaic.domain.keys import KEY_NAME_CHARS_MAX
from mosaic.domain.users import EMAIL_CHARS_MAX, PASSWORD_CHARS_MAX

Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_CHARS_MAX, examples=["ada@example.com"])]
Password = Annotated[str, Meta(min_length=1, max_length=PASSWORD_CHARS_MAX)]
KeyName = Annotated[str, Meta(min_length=1, max_length=KEY_NAME_CHARS_MAX, examples=["My App"])]


class RegisterRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class LoginRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class CreateKeyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: KeyName


class Registered(msgspec.Struct, frozen=True):
    user_id: str
    account_id: str
    email: str
    plan_name: str


class AccessToken(msgspec.Struct, frozen=True):
    access_token: str
    token_type: str
    expires_in: int


class BalanceBody(msgspec.Struct, frozen=True):
    """Exactly the spec's body."""

    balance: int
    monthly_quota: int
    plan_name: str
    sub_status: str


class StatementLineBody(msgspec.Struct, frozen=True):
    line: int
    at: str
    kind: str
    reference: str | None
    tool: str | None
    delta_credits: int
    balance_after: int
    reason: str | None
    actor: str | None


class HistoryBody(msgspec.Struct, frozen=True):
    lines: list[StatementLineBody]
    next_after: int | None  # pass as `after` for the next page; null on the last page


class CreatedKeyBody(msgspec.Struct, frozen=True):
    """The plain key is in this body and nowhere else, ever."""

    id: str
    key: str
    prefix: str
    name: str
    created_at: str


class KeyBody(msgspec.Struct, frozen=True):
    id: str
    prefix: str
    name: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class KeysBody(msgspec.Struct, frozen=True):
    """Active keys first, newest first. A long history is cut at a fixed maximum: only old revoked keys."""

    keys: list[KeyBody]


class HealthBody(msgspec.Struct, frozen=True):
    status: str


class ReadyBody(msgspec.Struct, frozen=True):
    status: str
    database: str
    schema_revision: str
    views_lag_events: int
