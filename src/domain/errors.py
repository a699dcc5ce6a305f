"""Errors that are not bugs: each class says what kind of failure it is and carries a stable `code`.

`ErrorKind` is the whole taxonomy: rejected input (the request must change), a broken rule,
temporarily unavailable (retry: a busy ledger, pool or upstream, a lost worker, a database that is
down) and an upstream that failed. The HTTP layer answers each kind with one status from one table,
and a test checks that every `Failure` class of the package has a kind. Broken rules are
`DomainError`s; infrastructure failures derive from `Failure` directly. Bugs are assertions, never
these.
"""

from __future__ import annotations

import enum
from typing import ClassVar


class ErrorKind(enum.Enum):
    # rejected input: fix the request
    INVALID_INPUT = "invalid_input"
    TOO_LARGE = "too_large"
    # who is calling, and how often
    UNAUTHENTICATED = "unauthenticated"
    RATE_LIMITED = "rate_limited"
    # a broken rule
    PAYMENT_REQUIRED = "payment_required"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    UNPROCESSABLE = "unprocessable"
    # temporarily unavailable: the same request may succeed shortly
    UNAVAILABLE = "unavailable"
    # not offered here at all (no upstream configured): retrying will not help
    NOT_CONFIGURED = "not_configured"
    # the upstream AI service failed
    UPSTREAM_FAILED = "upstream_failed"
    # paid work failed for a reason of ours (a fault, logged), after its credits were released
    INTERNAL = "internal"

    @property
    def retry_later(self) -> bool:
        """A failure of this kind is no outcome: it is not kept as an Idempotency-Key's answer."""
        return self is ErrorKind.UNAVAILABLE


class Failure(Exception):
    """A failure of ours that is not a bug. Subclasses set `kind` and (usually) `code`."""

    kind: ClassVar[ErrorKind]
    code: str = "error"
    retry_after_s: ClassVar[int | None] = None  # set where a retry is worth it though the kind is not

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DomainError(Failure):
    """A broken business rule."""

    code = "domain_error"


class InvalidInput(DomainError):
    """A value the rules cannot accept (an e-mail that is not one, a password too short, ...)."""

    kind = ErrorKind.INVALID_INPUT
    code = "invalid_input"


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class Forbidden(DomainError):
    """The caller may not do this (e.g. staff refunding their own account)."""

    kind = ErrorKind.FORBIDDEN
    code = "forbidden"


class InsufficientCredits(DomainError):
    kind = ErrorKind.PAYMENT_REQUIRED
    code = "insufficient_credits"

    def __init__(self, *, available_credits: int, needed_credits: int) -> None:
        super().__init__(
            f"this needs {needed_credits} credit(s) and the account has {available_credits} available"
        )
        self.available_credits = available_credits
        self.needed_credits = needed_credits


class ReservationNotOpen(DomainError):
    """Capture or release of a reservation that was already settled the other way."""

    kind = ErrorKind.CONFLICT
    code = "reservation_not_open"


class RefundExceedsCharge(DomainError):
    kind = ErrorKind.CONFLICT
    code = "refund_exceeds_charge"


class ChargeNotFound(DomainError):
    kind = ErrorKind.NOT_FOUND
    code = "charge_not_found"


class KeyLimitReached(DomainError):
    kind = ErrorKind.CONFLICT
    code = "key_limit_reached"


class KeyRevoked(DomainError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "key_revoked"


class EmailTaken(DomainError):
    kind = ErrorKind.CONFLICT
    code = "email_taken"


class UnknownPlan(DomainError):
    kind = ErrorKind.INVALID_INPUT
    code = "unknown_plan"


class UnknownPack(DomainError):
    kind = ErrorKind.INVALID_INPUT
    code = "unknown_pack"


class InvalidSubscriptionStatus(DomainError):
    kind = ErrorKind.INVALID_INPUT
    code = "invalid_subscription_status"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key came back with another request (another body, charge or amount)."""

    kind = ErrorKind.UNPROCESSABLE
    code = "idempotency_key_reused"


class InvalidCredits(DomainError):
    """An amount of credits that is not a positive whole number within its limit."""

    kind = ErrorKind.INVALID_INPUT
    code = "invalid_credits"


class AlreadyReleased(DomainError):
    """Every attempt a request may make was released: it failed for good under this key."""

    kind = ErrorKind.CONFLICT
    code = "request_already_failed"


class AlreadyCompleted(DomainError):
    """A repeat of a request that was charged, when its stored result is no longer kept."""

    kind = ErrorKind.CONFLICT
    code = "request_already_completed"


class MailTokenInvalid(DomainError):
    """A mail link's token that was never issued (or was issued for another purpose)."""

    kind = ErrorKind.INVALID_INPUT
    code = "invalid_token"


class MailTokenUsed(DomainError):
    kind = ErrorKind.INVALID_INPUT
    code = "token_used"


class MailTokenExpired(DomainError):
    kind = ErrorKind.INVALID_INPUT
    code = "token_expired"


class AlreadyVerified(DomainError):
    kind = ErrorKind.CONFLICT
    code = "already_verified"


ALL_DOMAIN_ERRORS: tuple[type[DomainError], ...] = (
    InvalidInput,
    NotFound,
    Forbidden,
    InsufficientCredits,
    ReservationNotOpen,
    RefundExceedsCharge,
    ChargeNotFound,
    KeyLimitReached,
    KeyRevoked,
    EmailTaken,
    UnknownPlan,
    UnknownPack,
    InvalidSubscriptionStatus,
    InvalidCredits,
    IdempotencyKeyReused,
    AlreadyReleased,
    AlreadyCompleted,
    MailTokenInvalid,
    MailTokenUsed,
    MailTokenExpired,
    AlreadyVerified,
)
