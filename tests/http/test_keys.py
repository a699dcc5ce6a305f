"""Key management over HTTP: create (shown once), list (never the key), revoke; hostile input."""

from __future__ import annotations

import uuid

from mosaic.bootstrap import Services
from mosaic.commands import keys
from mosaic.commands.writer import Unit
from mosaic.domain.accounts import KEYS_PER_ACCOUNT_MAX
from mosaic.queries.views import KEYS_LIST_MAX
from tests.conftest import both_backends
from tests.http.conftest import AppClient, bearer, create_key, event_count, signed_in_user

KEYS = "/api/keys"
BALANCE = "/api/credits/balance"


@both_backends()
def test_a_key_is_created_listed_by_prefix_revoked_and_then_refused(
    services: Services, client: AppClient
) -> None:
    user = signed_in_user(services, client)
    created = create_key(client, user, "My App")
    assert set(created) == {"id", "key", "prefix", "name", "created_at"}
    assert created["key"].startswith(created["prefix"]) and len(created["prefix"]) == 14
    assert client.get(BALANCE, headers=bearer(created["key"])).json()["balance"] == 800

    listed = client.get(KEYS, headers=user.auth).json()["keys"]
    assert [(k["id"], k["prefix"], k["name"], k["revoked_at"]) for k in listed] == [
        (created["id"], created["prefix"], "My App", None)
    ]
    assert created["key"] not in client.get(KEYS, headers=user.auth).text
    assert listed[0]["last_used_at"] is not None

    assert client.delete(f"{KEYS}/{created['id']}", headers=user.auth).status_code == 204
    assert client.get(BALANCE, headers=bearer(created["key"])).status_code == 401
    assert client.get(KEYS, headers=user.auth).json()["keys"][0]["revoked_at"] is not None


@both_backends()
def test_another_users_key_id_is_404_and_stays_usable(services: Services, client: AppClient) -> None:
    owner = signed_in_user(services, client)
    intruder = signed_in_user(services, client)
    created = create_key(client, owner)
    response = client.delete(f"{KEYS}/{created['id']}", headers=intruder.auth)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert client.get(KEYS, headers=intruder.auth).json()["keys"] == []
    assert client.get(BALANCE, headers=bearer(created["key"])).status_code == 200


def test_a_malformed_or_unknown_key_id_is_404(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    for key_id in ("not-a-uuid", "1' OR '1'='1", str(uuid.uuid4())):
        response = client.delete(f"{KEYS}/{key_id}", headers=user.auth)
        assert response.status_code == 404, key_id
        assert response.json()["error"]["code"] == "not_found"


def test_hostile_bodies_get_a_clear_400_and_change_nothing(
    services: Services, client: AppClient, database_url: str
) -> None:
    user = signed_in_user(services, client)
    before = event_count(database_url)
    cases = {
        b"{not json": "malformed_json",
        b"": "missing_body",
        b"[]": "invalid_body",
        b'{"name": 42}': "invalid_body",
        b'{"name": "ok", "admin": true}': "invalid_body",
        b'{"name": ""}': "invalid_body",
        ('{"name": "' + "x" * 10_000 + '"}').encode(): "invalid_body",
        b'{"name": "\\u0007bell"}': "invalid_input",
        b'{"name": "   "}': "invalid_input",
    }
    for raw, code in cases.items():
        response = client.post(KEYS, content=raw, headers={**user.auth, "Content-Type": "application/json"})
        assert response.status_code == 400, raw[:40]
        error = response.json()["error"]
        assert error["code"] == code, (raw[:40], error)
        assert error["message"]
    unknown = client.post(KEYS, json={"name": "ok", "admin": True}, headers=user.auth)
    assert "admin" in unknown.json()["error"]["message"], "the message names the unknown field"
    long_name = client.post(KEYS, json={"name": "x" * 10_000}, headers=user.auth)
    assert "$.name" in long_name.json()["error"]["message"]
    assert event_count(database_url) == before
    assert client.get(KEYS, headers=user.auth).json()["keys"] == []


def test_an_oversized_body_is_413_before_it_is_parsed(services: Services, client: AppClient) -> None:
    user = signed_in_user(services, client)
    huge = b'{"name": "' + b"x" * (65 * 1024) + b'"}'
    response = client.post(KEYS, content=huge, headers={**user.auth, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


@both_backends()
def test_a_thousand_keys_stop_at_the_documented_cap_with_409_and_write_nothing_more(
    services: Services, client: AppClient, database_url: str
) -> None:
    user = signed_in_user(services, client)
    statuses = [client.post(KEYS, json={"name": f"k{i}"}, headers=user.auth).status_code for i in range(100)]
    assert statuses == [201] * KEYS_PER_ACCOUNT_MAX
    events_at_cap = event_count(database_url)
    statement_at_cap = client.get("/api/credits/history", headers=user.auth).json()
    refusals = [client.post(KEYS, json={"name": f"k{i}"}, headers=user.auth) for i in range(100, 1_000)]
    assert {r.status_code for r in refusals} == {409}
    assert {r.json()["error"]["code"] for r in refusals} == {"key_limit_reached"}
    assert str(KEYS_PER_ACCOUNT_MAX) in refusals[0].json()["error"]["message"]
    assert event_count(database_url) == events_at_cap
    assert len(client.get(KEYS, headers=user.auth).json()["keys"]) == KEYS_PER_ACCOUNT_MAX
    assert client.get("/api/credits/history", headers=user.auth).json() == statement_at_cap


def _created_and_revoked(unit: Unit, *, user_id: uuid.UUID, count: int) -> None:
    for _ in range(count):
        key_id = uuid.uuid4()
        keys.create_key(unit, user_id=user_id, key_id=key_id, name="old", plain_key=keys.new_plain_key(), secret=b"s")
        keys.revoke_key(unit, user_id=user_id, key_id=key_id, revoked_by=str(user_id))


@both_backends()
def test_a_key_created_after_a_thousand_revoked_ones_is_shown_once_and_listed_first(
    services: Services, client: AppClient
) -> None:
    user = signed_in_user(services, client)
    kept = create_key(client, user, "kept")
    user_id = uuid.UUID(user.user_id)
    services.settle(services.ledger.writer.execute(lambda unit: _created_and_revoked(unit, user_id=user_id, count=KEYS_LIST_MAX)))
    created = client.post(KEYS, json={"name": "newest"}, headers=user.auth)
    assert created.status_code == 201, created.text
    assert client.get(BALANCE, headers=bearer(created.json()["key"])).status_code == 200
    listed = client.get(KEYS, headers=user.auth).json()["keys"]
    assert len(listed) == KEYS_LIST_MAX
    assert [k["id"] for k in listed[:2]] == [created.json()["id"], kept["id"]], "active keys first, newest first"
    assert listed[0]["created_at"] == created.json()["created_at"]
    assert all(k["revoked_at"] is not None for k in listed[2:])
    assert listed[2]["created_at"] >= listed[-1]["created_at"]
