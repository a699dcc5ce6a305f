"""Support actions as the CLI and the HTTP API both run them: find the charge's account in the
charges view (a hint; the account aggregate decides) and refund. Waiting for the views to show it
is the caller's: the API answers with what they show, the CLI needs nothing from them."""

from __future__ import annotations

from mosaic.bootstrap import Services
from mosaic.commands import support
from mosaic.domain.errors import ChargeNotFound


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
    return done
