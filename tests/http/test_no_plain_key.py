"""No plain key anywhere: not in any table (event store included), any view, any log line."""

from __future__ import annotations

import logging
import re

import pytest

from mosaic.bootstrap import Services
from tests.conftest import both_backends
from tests.http.conftest import AppClient, bearer, create_key, dump_database, signed_in_user

KEY_LIKE = re.compile(r"us_live_[0-9A-Za-z]{7,}")  # longer than the 14-character display prefix


def _text(value: object) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


@both_backends()
def test_no_full_key_is_stored_or_logged_anywhere(
    services: Services, client: AppClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user = signed_in_user(services, client)
    keys = [create_key(client, user, f"app {i}") for i in range(3)]
    for created in keys:
        assert client.get("/api/credits/balance", headers=bearer(created["key"])).status_code == 200
    revoked = keys[0]
    assert client.delete(f"/api/keys/{revoked['id']}", headers=user.auth).status_code == 204
    client.get("/api/credits/balance", headers=bearer(revoked["key"]))
    client.get("/api/credits/balance", headers=bearer(revoked["key"][:-1] + "0"))

    tables = dump_database(database_url)
    assert any("events" in name for name in tables), "the event store is among the dumped tables"
    prefixes_seen: set[str] = set()
    for table, rows in tables.items():
        for row in rows:
            for cell in row:
                text = _text(cell)
                for created in keys:
                    assert created["key"] not in text, f"a plain key is in table {table}"
                    assert created["key"][8:] not in text, f"a key body is in table {table}"
                assert not KEY_LIKE.search(text), f"something key-like is in table {table}"
                if created["prefix"] in text:
                    prefixes_seen.add(table)
    logs = "\n".join(record.getMessage() + str(record.args) for record in caplog.records)
    for created in keys:
        assert created["key"] not in logs
    assert not KEY_LIKE.search(logs)
    assert "api_keys" in prefixes_seen, "the display prefix is stored, and only it"
