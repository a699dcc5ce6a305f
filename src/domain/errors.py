"""Domain errors: each names the rule it protects and carries a stable snake_case `code`.

The HTTP layer maps each class to one status in one table (and a test checks that every class here is
in it). Bugs are assertions, never these.
"""

from __future__ import annotations


class DomainError(Exception):
    """A broken business rule. `code` is stable: clients and the status table key on it."""

    code = "domain_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A value the rules cannot accept (an e-mail that is not one, a password too short, ...)."""

    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    """The caller may not do this (e.g. staff refunding their own account)."""

    code = "forbidden"


class InsufficientCredits(DomainError):
    code = "insufficient_credits"

    def __init__(self, *, available_credits: int, needed_credits: int) -> None:
        super().__init__(
            f"this needs {needed_credits} credit(s) and the account has {available_credits} available"
        )
        self.available_credits = available_credits
        self.needed_credits = needed_credits


class ReservationNotOpen(DomainError):
    """Capture or release of a reservation that was already settled the other way."""

    code = "reservation_not_open"


class RefundExceedsCharge(DomainError):
    code = "refund_exceeds_charge"


class ChargeNotFound(DomainError):
    code = "charge_not_found"


class KeyLimitReached(DomainError):
    code = "key_limit_reached"


class KeyRevoked(DomainError):
    code = "key_revoked"


class EmailTaken(DomainError):
    code = "email_taken"


class UnknownPlan(DomainError):
    code = "unknown_plan"


class InvalidSubscriptionStatus(DomainError):
    code = "invalid_subscription_status"


class IdempotencyKeyReused(DomainError):
    """A refund or grant id (derived from an Idempotency-Key) came back with another charge or amount."""

    code = "idempotency_key_reused"


class InvalidCredits(DomainError):
    """An amount of credits that is not a positive whole number within its limit."""

    code = "invalid_credits"


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
    InvalidSubscriptionStatus,
    InvalidCredits,
    IdempotencyKeyReused,
)
