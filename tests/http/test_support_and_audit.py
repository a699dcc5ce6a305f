"""Support staff's compensating refunds and grants, and auditors' log and digest, over HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.queries import digest as digests
from mosaic.queries.audit_log import verify_export
from tests import charging
from tests.conftest import TEST_SECRET, both_backends
from tests.http.conftest import AppClient, User, signed_in_user, staff


def charge(services: Services, user: User, cost: int = 10, summary: str = "mode=cbn colors=12") -> str:
    request_id = uuid.uuid4()
    account_id = uuid.UUID(user.account_id)
    charging.reserve(services, account_id, request_id, tool="ai-image", cost_credits=cost, summary=summary)
    services.settle(charging.capture(services, account_id, request_id))
    return str(request_id)


@both_backends()
def test_support_refunds_a_charge_once_per_key_and_it_shows_on_the_customers_statement(
    services: Services, client: AppClient
) -> None:
    customer = signed_in_user(services, client)
    support = staff(services, client, "support")
    charge_id = charge(services, customer)
    body = {"charge_id": charge_id, "amount": 4, "reason": "the page came out smudged"}
    headers = {**support.auth, "Idempotency-Key": "ticket-1234"}
    first = client.post("/api/admin/refunds", json=body, headers=headers)
    again = client.post("/api/admin/refunds", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json(), "a repeat replays the first answer"
    assert first.json()["refundable_left"] == 6
    balance = client.get("/api/credits/balance", headers=customer.auth).json()["balance"]
    assert balance == 800 - 10 + 4
    lines = client.get("/api/credits/history", headers=customer.auth).json()["lines"]
    refunds = [line for line in lines if line["kind"] == "refund"]
    assert len(refunds) == 1 and refunds[0]["reason"] == "the page came out smudged"
    assert refunds[0]["actor"] == support.user_id
    statement = client.get(f"/api/admin/accounts/{customer.account_id}/statement", headers=support.auth).json()
    (row,) = statement["charges"]
    assert (row["charge_id"], row["summary"], row["refunded_credits"]) == (charge_id, "mode=cbn colors=12", 4)
    assert [r["amount"] for r in row["refunds"]] == [4]


def balance_of(client: AppClient, user: User) -> int:
    balance: int = client.get("/api/credits/balance", headers=user.auth).json()["balance"]
    return balance


@both_backends()
def test_one_idempotency_key_for_another_charge_amount_or_account_is_422_and_refunds_once(
    services: Services, client: AppClient
) -> None:
    customer, other = signed_in_user(services, client), signed_in_user(services, client)
    support = staff(services, client, "support")
    first, second, elsewhere = charge(services, customer), charge(services, customer), charge(services, other)
    headers = {**support.auth, "Idempotency-Key": "ticket-77"}
    body = {"charge_id": first, "amount": 4, "reason": "the page came out smudged"}
    assert client.post("/api/admin/refunds", json=body, headers=headers).status_code == 201
    for changed in ({**body, "charge_id": second}, {**body, "amount": 5}, {**body, "charge_id": elsewhere}):
        response = client.post("/api/admin/refunds", json=changed, headers=headers)
        assert response.status_code == 422, (changed, response.text)
        assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert client.post("/api/admin/refunds", json=body, headers=headers).status_code == 201
    assert (balance_of(client, customer), balance_of(client, other)) == (800 - 20 + 4, 800 - 10)


@both_backends()
def test_one_idempotency_key_for_another_grant_amount_or_account_is_422_and_grants_once(
    services: Services, client: AppClient
) -> None:
    customer, other = signed_in_user(services, client), signed_in_user(services, client)
    support = staff(services, client, "support")
    headers = {**support.auth, "Idempotency-Key": "outage-8"}
    body = {"amount": 20, "reason": "sorry for the outage"}
    grants = f"/api/admin/accounts/{customer.account_id}/credits"
    assert client.post(grants, json=body, headers=headers).status_code == 201
    for url, changed in (
        (grants, {**body, "amount": 200}),
        (f"/api/admin/accounts/{other.account_id}/credits", body),
    ):
        response = client.post(url, json=changed, headers=headers)
        assert response.status_code == 422, (url, changed, response.text)
        assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert client.post(grants, json=body, headers=headers).status_code == 201
    assert (balance_of(client, customer), balance_of(client, other)) == (800 + 20, 800)


@both_backends()
def test_a_refund_over_what_remains_of_the_charge_is_409_and_changes_nothing(
    services: Services, client: AppClient
) -> None:
    customer = signed_in_user(services, client)
    support = staff(services, client, "support")
    charge_id = charge(services, customer, cost=3)
    position = services.store.recorder.max_notification_id()
    response = client.post(
        "/api/admin/refunds", json={"charge_id": charge_id, "amount": 4, "reason": "too much"}, headers=support.auth
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "refund_exceeds_charge"
    assert services.store.recorder.max_notification_id() == position


def test_a_refund_the_views_are_slow_to_show_still_answers_that_it_was_applied_so_it_is_not_sent_again(
    services: Services, client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = signed_in_user(services, client)
    support = staff(services, client, "support")
    charge_id = charge(services, customer)
    monkeypatch.setattr(services.runner, "wait_for", lambda position, timeout_s=0.0: False)  # views lag
    body = {"charge_id": charge_id, "amount": 4, "reason": "the page came out smudged"}
    refunded = client.post("/api/admin/refunds", json=body, headers=support.auth)  # no Idempotency-Key
    assert refunded.status_code == 201, refunded.text
    assert refunded.json()["repeat"] is False
    assert (refunded.json()["refundable_left"], refunded.json()["balance"]) == (None, None), "not shown yet"
    granted = client.post(
        f"/api/admin/accounts/{customer.account_id}/credits", json={"amount": 5, "reason": "sorry"},
        headers=support.auth,
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["balance"] is None
    monkeypatch.undo()
    services.runner.catch_up()
    lines = services.views.statement(customer.account_id, limit=100)
    assert [line.reference for line in lines if line.kind == "refund"] == [charge_id], "applied once"
    assert services.views.balance(customer.account_id).balance == 800 - 10 + 4 + 5  # type: ignore[union-attr]


def test_a_user_token_cannot_refund_and_staff_cannot_refund_themselves(services: Services, client: AppClient) -> None:
    customer = signed_in_user(services, client)
    other = signed_in_user(services, client)
    charge_id = charge(services, customer)
    body = {"charge_id": charge_id, "amount": 1, "reason": "please"}
    assert client.post("/api/admin/refunds", json=body, headers=other.auth).status_code == 403
    assert client.post("/api/admin/refunds", json=body, headers=customer.auth).status_code == 403
    support = staff(services, client, "support")
    grant = client.post(
        f"/api/admin/accounts/{support.account_id}/credits", json={"amount": 5, "reason": "for me"}, headers=support.auth
    )
    assert grant.status_code == 403 and grant.json()["error"]["code"] == "forbidden"


def test_support_grants_goodwill_credits_and_changes_plans_as_events(services: Services, client: AppClient) -> None:
    customer = signed_in_user(services, client, plan="free")
    support = staff(services, client, "support")
    found = client.get("/api/admin/accounts", params={"email": customer.email}, headers=support.auth)
    assert found.status_code == 200 and found.json()["plan_name"] == "free"
    granted = client.post(
        f"/api/admin/accounts/{customer.account_id}/credits",
        json={"amount": 20, "reason": "sorry for the outage"},
        headers={**support.auth, "Idempotency-Key": "outage-7"},
    )
    assert granted.status_code == 201 and granted.json()["balance"] == 5 + 20
    replanned = client.post(
        f"/api/admin/accounts/{customer.account_id}/plan", json={"plan": "commercial"}, headers=support.auth
    )
    assert replanned.status_code == 200 and replanned.json()["plan_name"] == "commercial"
    unknown = client.post(f"/api/admin/accounts/{customer.account_id}/plan", json={"plan": "gold"}, headers=support.auth)
    assert unknown.status_code == 400
    kinds = [line["kind"] for line in client.get("/api/credits/history", headers=customer.auth).json()["lines"]]
    assert kinds == ["monthly_grant", "goodwill_grant"]


@both_backends()
def test_auditors_read_the_log_with_chain_hashes_and_a_signed_digest(
    services: Services, client: AppClient, make_client: Callable[..., AppClient]
) -> None:
    customer = signed_in_user(services, client)
    charge(services, customer)
    auditor = staff(services, client, "auditor")
    assert client.get("/api/audit/events", headers=customer.auth).status_code == 403
    page = client.get("/api/audit/events", params={"limit": 3}, headers=auditor.auth)
    assert page.status_code == 200 and page.headers["content-type"].startswith("application/x-ndjson")
    assert [json.loads(line)["position"] for line in page.text.splitlines()] == [1, 2, 3]
    everything = client.get("/api/audit/events", headers=auditor.auth).text.splitlines()
    digest = digests.load(client.get("/api/audit/digest", headers=auditor.auth).content)
    server_key = digests.public_key_hex(TEST_SECRET.encode())
    assert digests.signature_is_valid(digest, trusted_public_key=server_key)
    report = verify_export(everything, digest=digest, trusted_key=server_key)
    assert report.ok, report.discrepancies
    assert report.head_position == digest.position == json.loads(everything[-1])["position"]
