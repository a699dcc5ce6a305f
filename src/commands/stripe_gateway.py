"""Stripe's API, through the `stripe` library: customers, Checkout and Portal sessions, subscriptions,
and webhook signatures.

The secret key goes to Stripe in the library's `Authorization` header and nowhere else; it is not in
any repr, and messages from Stripe reach callers only as their own text (Stripe's messages never
echo a key). Calls are blocking: callers run them in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

import stripe

from mosaic.commands.stripe_events import Subscription, read_subscription
from mosaic.config import Settings
from mosaic.domain.errors import ErrorKind, Failure

log = logging.getLogger(__name__)

TIMEOUT_S: Final = 20.0
NETWORK_RETRIES: Final = 2  # the library retries connection errors and 5xx with its own backoff
# Stripe's documented default: a signed payload older than this is refused (replays).
SIGNATURE_TOLERANCE_S: Final = 300

T = TypeVar("T")


class BillingUnavailable(Failure):
    """No payment provider is configured (`MOSAIC_STRIPE_SECRET_KEY` is empty)."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "billing_unavailable"


class PaymentProviderUnavailable(Failure):
    """Stripe could not be reached or was failing; nothing was written."""

    kind = ErrorKind.UNAVAILABLE
    code = "payment_provider_unavailable"


class PaymentProviderRefused(Failure):
    """Stripe refused a call of ours (a Price id it does not know, say): the operator's to fix."""

    kind = ErrorKind.UPSTREAM_FAILED
    code = "payment_provider_refused"


class InvalidSignature(Failure):
    """A webhook whose Stripe-Signature is missing, wrong or too old."""

    kind = ErrorKind.INVALID_INPUT
    code = "invalid_signature"


class StripeGateway:
    def __init__(self, *, secret_key: str, webhook_secret: str, api_base: str) -> None:
        assert secret_key and webhook_secret
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            # the library's own default transport (requests, its dependency): its httpx client
            # uploads through an argument httpx deprecates
            http_client=stripe.RequestsClient(timeout=TIMEOUT_S),
            max_network_retries=NETWORK_RETRIES,
        )
        self._webhook_secret = webhook_secret

    def __repr__(self) -> str:
        return "StripeGateway(<keys hidden>)"

    @classmethod
    def from_settings(cls, settings: Settings) -> StripeGateway | None:
        if not settings.billing_configured:
            return None
        return cls(
            secret_key=settings.stripe_secret_key,
            webhook_secret=settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base,
        )

    # -- webhooks --------------------------------------------------------------------------------

    def verify(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event of a webhook, if its signature is Stripe's for this body and recent."""
        if not signature:
            raise InvalidSignature("the Stripe-Signature header is missing")
        try:
            event = stripe.Webhook.construct_event(
                payload, signature, self._webhook_secret, tolerance=SIGNATURE_TOLERANCE_S
            )
        except stripe.SignatureVerificationError:
            raise InvalidSignature(
                "the Stripe-Signature does not match this body, or is older than "
                f"{SIGNATURE_TOLERANCE_S} s"
            ) from None
        except ValueError:
            raise InvalidSignature("the body is not a JSON event") from None
        body: dict[str, Any] = event.to_dict()
        return body

    # -- API calls -------------------------------------------------------------------------------

    def create_customer(self, *, account_id: str, email: str) -> str:
        # Stripe's idempotency key: two servers creating the customer of one account at once get one
        customer = self._call(
            lambda: self._client.v1.customers.create(
                {"email": email, "metadata": {"account_id": account_id}},
                {"idempotency_key": f"mosaic-customer-{account_id}"},
            )
        )
        return str(customer.id)

    def checkout_url(
        self,
        *,
        mode: Literal["subscription", "payment"],
        customer_id: str,
        price_id: str,
        account_id: str,
        metadata: dict[str, str],
        success_url: str,
        cancel_url: str,
    ) -> str:
        params: dict[str, Any] = {
            "mode": mode,
            "customer": customer_id,
            "client_reference_id": account_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "metadata": {"account_id": account_id, **metadata},
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if mode == "subscription":
            params["subscription_data"] = {"metadata": {"account_id": account_id}}
        else:
            params["payment_intent_data"] = {"metadata": {"account_id": account_id, **metadata}}
        session = self._call(lambda: self._client.v1.checkout.sessions.create(params))  # type: ignore[arg-type]
        return _url(session)

    def portal_url(self, *, customer_id: str, return_url: str) -> str:
        session = self._call(
            lambda: self._client.v1.billing_portal.sessions.create(
                {"customer": customer_id, "return_url": return_url}
            )
        )
        return _url(session)

    def subscription(self, subscription_id: str) -> Subscription:
        found = self._call(lambda: self._client.v1.subscriptions.retrieve(subscription_id))
        return read_subscription(found.to_dict())

    def _call(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            log.warning("Stripe unreachable or limiting: %s", type(exc).__name__)
            raise PaymentProviderUnavailable(
                "the payment provider cannot be reached; retry shortly"
            ) from None
        except stripe.AuthenticationError:
            log.error("Stripe refused the secret key (MOSAIC_STRIPE_SECRET_KEY)")
            raise PaymentProviderRefused("the payment provider refused this server's key") from None
        except stripe.StripeError as exc:
            status = exc.http_status or 0
            if status >= 500 or status == 0:
                log.warning("Stripe failed: HTTP %s", status)
                raise PaymentProviderUnavailable("the payment provider failed; retry shortly") from None
            message = exc.user_message or "the payment provider refused the request"
            log.warning("Stripe refused a call: HTTP %s %s", status, message)
            raise PaymentProviderRefused(f"the payment provider refused the request: {message}") from None


def _url(session: Any) -> str:
    url = getattr(session, "url", None)
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise PaymentProviderRefused("the payment provider answered without a session URL")
    return url
