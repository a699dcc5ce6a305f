"""Support actions as the CLI and the HTTP API both run them: find the charge's account in the
charges view (a hint; the account aggregate decides), refund, and wait until the views show it."""

from __future__ import annotations

from mosaic.bootstrap import Services
from mosaic.commands import support
from mosaic.commands.writer import Committed
from mosaic.domain.errors import ChargeNotFound


class RefundNotShownYet(TimeoutError):
    """The refund was applied, but the views did not show it in time: it must not be sent again."""

    def __init__(self, done: support.Refunded) -> None:
        super().__init__(f"refund {done.refund_id} was applied; the views did not show it in time")
        self.done = done


def refund_charge(
    services: Services,
    *,
    staff_user_id: str,
    charge_id: str,
    amount_credits: int,
    reason: str,
    idempotency_key: str | None,
) -> support.Refunded:
    charge = services.views.charge(charge_id)
    if charge is None:
        raise ChargeNotFound(f"no captured charge {charge_id}")
    done = support.refund(
        services.ledger,
        staff_user_id=staff_user_id,
        account_id=charge.account_id,
        charge_id=charge_id,
        amount_credits=amount_credits,
        reason=reason,
        idempotency_key=idempotency_key,
    )
    try:
        services.settle(Committed(done.applied, done.position))
    except TimeoutError:
        raise RefundNotShownYet(done) from None
    return done
