"""What the fuzzing (tests/http/test_fuzz.py) found, each pinned by a plain test of its own."""

from __future__ import annotations

import uuid

from mosaic.bootstrap import Services
from mosaic.http.openapi import openapi_document
from mosaic.http.routes import all_endpoints
from tests.conftest import both_backends
from tests.http.conftest import AppClient, signed_in_user, staff


def documented(method: str, path: str) -> set[int]:
    operation = openapi_document(all_endpoints())["paths"][path][method.lower()]
    return {int(status) for status in operation["responses"]}


def test_finding_an_account_by_an_email_with_control_characters_is_a_documented_400(
    services: Services, client: AppClient
) -> None:
    support = staff(services, client, "support")
    response = client.get("/api/admin/accounts", params={"email": "ada\x00@example.com"}, headers=support.auth)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert 400 in documented("GET", "/api/admin/accounts")


@both_backends()
def test_staff_reading_the_history_of_an_account_id_that_is_not_a_uuid_get_a_400_not_a_500(
    services: Services, client: AppClient
) -> None:
    support = staff(services, client, "support")
    customer = signed_in_user(services, client)
    for malformed in ("\x00", "not-an-id"):
        response = client.get("/api/credits/history", params={"account_id": malformed}, headers=support.auth)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "invalid_query"
    assert 400 in documented("GET", "/api/credits/history")
    shouted = customer.account_id.upper()
    response = client.get("/api/credits/history", params={"account_id": shouted}, headers=support.auth)
    assert response.status_code == 200
    assert response.json()["lines"]


def test_the_id_path_parameters_are_documented_as_uuids() -> None:
    paths = openapi_document(all_endpoints())["paths"]
    formats = {
        (path, parameter["name"]): parameter["schema"].get("format")
        for path, operations in paths.items()
        for operation in operations.values()
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "path"
    }
    assert formats == {
        ("/api/admin/accounts/{account_id}/statement", "account_id"): "uuid",
        ("/api/admin/accounts/{account_id}/credits", "account_id"): "uuid",
        ("/api/admin/accounts/{account_id}/plan", "account_id"): "uuid",
        ("/api/keys/{key_id}", "key_id"): "uuid",
        ("/static/{name}", "name"): None,
    }


@both_backends()
def test_a_statement_page_after_a_cursor_that_is_not_a_charge_id_is_a_400_not_a_500(
    services: Services, client: AppClient
) -> None:
    support = staff(services, client, "support")
    customer = signed_in_user(services, client)
    statement = f"/api/admin/accounts/{customer.account_id}/statement"
    response = client.get(statement, params={"after": "X\x00"}, headers=support.auth)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_query"
    first = client.get(statement, headers=support.auth)
    assert first.status_code == 200 and first.json()["charges"] == []
    after = client.get(statement, params={"after": str(uuid.uuid4())}, headers=support.auth)
    assert after.status_code == 200


@both_backends()
def test_a_refund_naming_a_charge_id_that_is_not_a_uuid_is_a_400_not_a_500(
    services: Services, client: AppClient
) -> None:
    support = staff(services, client, "support")
    body = {"charge_id": "\x00x", "amount": 1, "reason": "the page came out smudged"}
    response = client.post("/api/admin/refunds", json=body, headers=support.auth)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_body"
    unknown = {**body, "charge_id": str(uuid.uuid4())}
    assert client.post("/api/admin/refunds", json=unknown, headers=support.auth).status_code == 404
