"""Balance (exactly the spec's body), statement paging, sign-up and sign-in."""

from __future__ import annotations

import uuid

from mosaic.bootstrap import Services
from tests import charging
from tests.conftest import both_backends
from tests.http.conftest import PASSWORD, AppClient, bearer, create_key, event_count, signed_in_user

BALANCE = "/api/credits/balance"
HISTORY = "/api/credits/history"


@both_backends()
def test_a_new_commercial_user_reads_exactly_the_spec_balance_body(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    for headers in (bearer(key), user.auth):
        response = client.get(BALANCE, headers=headers)
        assert response.status_code == 200
        assert response.json() == {
            "balance": 800,
            "monthly_quota": 800,
            "plan_name": "commercial",
            "sub_status": "active",
        }
        assert response.headers["content-type"] == "application/json"


@both_backends()
def test_the_statement_pages_with_a_next_cursor(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    for amount in (1, 2, 3, 4):
        services.settle(
            services.ledger.grant_credits(
                account_id=uuid.UUID(user.account_id), amount_credits=amount, reason="goodwill", issued_by="ops"
            )
        )
    first = client.get(HISTORY, params={"limit": 3}, headers=user.auth).json()
    assert [line["balance_after"] for line in first["lines"]] == [800, 801, 803]
    assert first["next_after"] == first["lines"][-1]["line"]
    rest = client.get(HISTORY, params={"limit": 3, "after": first["next_after"]}, headers=user.auth).json()
    assert [line["delta_credits"] for line in rest["lines"]] == [3, 4]
    assert rest["next_after"] is None


def test_bad_history_parameters_are_400(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    for params in ({"limit": 0}, {"limit": 501}, {"limit": "ten"}, {"after": -1}):
        response = client.get(HISTORY, params=params, headers=user.auth)
        assert response.status_code == 400, params
        assert response.json()["error"]["code"] == "invalid_query"


def test_digits_that_are_not_ascii_and_numbers_too_long_to_parse_are_400_not_500(
    services: Services, client: AppClient
) -> None:
    user = signed_in_user(services, client)
    for query in ("after=%C2%B2", "limit=%EF%BC%91", "after=" + "9" * 5_000, "after=" + "0" * 20 + "1"):
        response = client.get(f"{HISTORY}?{query}", headers=user.auth)
        assert response.status_code == 400, query[:40]
        assert response.json()["error"]["code"] == "invalid_query"
    assert client.get(f"{HISTORY}?after=0000000000000000001", headers=user.auth).status_code == 200


def test_only_staff_read_another_accounts_statement(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    other = signed_in_user(services, client)
    refused = client.get(HISTORY, params={"account_id": other.account_id}, headers=user.auth)
    assert refused.status_code == 403
    committed = services.ledger.register_user(email="help@example.com", password=PASSWORD, role="support")
    services.settle(committed)
    token = client.post("/api/auth/login", json={"email": "help@example.com", "password": PASSWORD})
    staff = bearer(token.json()["access_token"])
    allowed = client.get(HISTORY, params={"account_id": other.account_id}, headers=staff)
    assert allowed.status_code == 200
    assert allowed.json()["lines"][0]["delta_credits"] == 800


@both_backends()
def test_a_public_sign_up_opens_a_free_account_and_signs_in(services: Services, client: AppClient) -> None:
    body = {"email": "Ada@Example.com", "password": PASSWORD}
    registered = client.post("/api/auth/register", json=body)
    assert registered.status_code == 201
    assert registered.json()["plan_name"] == "free" and registered.json()["email"] == "ada@example.com"
    login = client.post("/api/auth/login", json=body)
    assert login.status_code == 200
    assert set(login.json()) == {"access_token", "token_type", "expires_in"}
    assert login.json()["token_type"] == "bearer"
    balance = client.get(BALANCE, headers=bearer(login.json()["access_token"])).json()
    assert balance["plan_name"] == "free"
    again = client.post("/api/auth/register", json=body)
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


def test_the_public_cannot_choose_a_plan_at_sign_up(services: Services, client: AppClient) -> None:
    response = client.post(
        "/api/auth/register", json={"email": "x@example.com", "password": PASSWORD, "plan": "commercial"}
    )
    assert response.status_code == 400
    assert "plan" in response.json()["error"]["message"]
    assert services.views.user_by_email("x@example.com") is None


def test_sign_up_rules_are_400_naming_the_problem(client: AppClient) -> None:
    short = client.post("/api/auth/register", json={"email": "a@example.com", "password": "short"})
    assert short.status_code == 400 and "password" in short.json()["error"]["message"]
    not_email = client.post("/api/auth/register", json={"email": "nobody", "password": PASSWORD})
    assert not_email.status_code == 400 and "e-mail" in not_email.json()["error"]["message"]


@both_backends()
def test_a_nul_in_an_email_or_a_reason_is_a_clear_400_and_the_views_keep_working(
    services: Services, client: AppClient, database_url: str
) -> None:
    support_email = f"help-{uuid.uuid4().hex[:6]}@example.com"
    services.settle(services.ledger.register_user(email=support_email, password=PASSWORD, role="support"))
    support = bearer(client.post("/api/auth/login", json={"email": support_email, "password": PASSWORD}).json()["access_token"])
    customer = signed_in_user(services, client)
    before = event_count(database_url)
    refusals = [
        client.post("/api/auth/register", json={"email": "a\u0000@x.com", "password": PASSWORD}),
        client.post("/api/auth/login", json={"email": "a\u0000@x.com", "password": PASSWORD}),
        client.get("/api/admin/accounts", params={"email": "a\u0000@x.com"}, headers=support),
        client.post(
            f"/api/admin/accounts/{customer.account_id}/credits",
            json={"amount": 5, "reason": "sorry\u0000"},
            headers=support,
        ),
        client.post("/api/keys", json={"name": "app\u0000"}, headers=customer.auth),
    ]
    for response in refusals:
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_input"
        assert "control" in response.json()["error"]["message"] or "printable" in response.json()["error"]["message"]
    assert event_count(database_url) == before
    registered = client.post("/api/auth/register", json={"email": "later@example.com", "password": PASSWORD})
    assert registered.status_code == 201, "the views still settle after the refusals"


def test_a_wrong_password_or_unknown_email_is_the_same_401(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    wrong = client.post("/api/auth/login", json={"email": user.email, "password": "wrong password!"})
    unknown = client.post("/api/auth/login", json={"email": "ghost@example.com", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "invalid_credentials"


def test_the_catalogue_of_presets_needs_no_auth(client: AppClient) -> None:
    response = client.get("/api/presets")
    assert response.status_code == 200
    assert isinstance(response.json(), list)


@both_backends()
def test_a_balance_read_after_a_settled_charge_shows_the_charge(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    key = bearer(create_key(client, user)["key"])
    assert client.get(BALANCE, headers=key).json()["balance"] == 800  # now cached for this position
    account_id, request_id = uuid.UUID(user.account_id), uuid.uuid4()
    charging.reserve(services, account_id, request_id, tool="hex", cost_credits=1)
    services.settle(charging.capture(services, account_id, request_id))
    assert client.get(BALANCE, headers=key).json()["balance"] == 799
