"""The JSON bodies of the account routes, as msgspec Structs (also the OpenAPI schemas).

Request bodies forbid unknown fields, so a typo (or a `plan` sent to register) is a clear 400.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from mosaic.domain.keys import KEY_NAME_CHARS_MAX
from mosaic.domain.users import EMAIL_CHARS_MAX, MAIL_TOKEN_CHARS_MAX, PASSWORD_CHARS_MAX

Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_CHARS_MAX, examples=["ada@example.com"])]
Password = Annotated[str, Meta(min_length=1, max_length=PASSWORD_CHARS_MAX)]
MailToken = Annotated[
    str, Meta(min_length=1, max_length=MAIL_TOKEN_CHARS_MAX, pattern=r"^[A-Za-z0-9_-]+$",
              description="the `token` of the mailed link")
]
KeyName = Annotated[str, Meta(min_length=1, max_length=KEY_NAME_CHARS_MAX, examples=["My App"])]


class RegisterRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class LoginRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class VerifyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: MailToken


class ForgotRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email


class ResetRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: MailToken
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


class AccountBody(msgspec.Struct, frozen=True):
    """Who is signed in (`GET /api/auth/me`)."""

    user_id: str
    account_id: str
    email: str
    role: str
    email_verified: bool


class VerifiedBody(msgspec.Struct, frozen=True):
    email: str
    email_verified: bool


class PasswordResetBody(msgspec.Struct, frozen=True):
    """The new password is set and every earlier session (sign-in token) of the user is ended."""

    email: str
    sessions_ended: bool


class MailAcceptedBody(msgspec.Struct, frozen=True):
    """The same for every address: whether one was mailed is told to its owner only, by the mail."""

    status: Literal["accepted"]
    message: str


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


# -- billing -----------------------------------------------------------------------------------------

CatalogueName = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class CheckoutRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Exactly one of `plan` (a subscription, monthly or annual) and `pack` (credits bought once)."""

    plan: CatalogueName | None = None
    pack: CatalogueName | None = None
    interval: Literal["month", "year"] = "month"


class SessionUrlBody(msgspec.Struct, frozen=True):
    url: str  # send the customer's browser here (Stripe's page)


class PlanOnSaleBody(msgspec.Struct, frozen=True):
    name: str
    title: str
    monthly_credits: int
    api_access: bool
    price_cents_monthly: int
    price_cents_annual: int | None
    intervals: list[str]  # those with a Stripe price here: "month", "year"


class PackOnSaleBody(msgspec.Struct, frozen=True):
    name: str
    title: str
    credits: int
    price_cents: int
    on_sale: bool


class BillingBody(msgspec.Struct, frozen=True):
    plan_name: str
    sub_status: str
    renews_at: str | None  # the end of the paid period (ISO 8601), while a subscription lives
    subscribed: bool
    currency: str
    plans: list[PlanOnSaleBody]
    packs: list[PackOnSaleBody]


class WebhookBody(msgspec.Struct, frozen=True):
    received: bool
    outcome: str  # applied, duplicate (a redelivery: nothing changed) or ignored


class PaletteColorBody(msgspec.Struct, frozen=True):
    """One paint of a set: `number` is the number it carries on every page."""

    number: int
    hex: str
    name: str | None
    code: str | None  # the maker's code; null where the set's source gives none


class PaletteSetBody(msgspec.Struct, frozen=True):
    """A paint set for `palette=`: its id, what it is, where its values come from, and its paints."""

    id: str
    name: str
    maker: str | None
    kind: str | None
    product_code: str | None
    size: int
    source: str | None
    colors: list[PaletteColorBody]
