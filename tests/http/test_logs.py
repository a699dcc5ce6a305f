"""Logs: one JSON object a line, the request id on each line of a request, and never a secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest

from mosaic.bootstrap import Services
from mosaic.http.logs import REDACTED, JsonLines, redact
from tests.conftest import TEST_SECRET
from tests.http.conftest import PASSWORD, AppClient, bearer, create_key, signed_in_user


@pytest.fixture
def log_lines(services: Services) -> Iterator[Callable[[], list[dict[str, object]]]]:
    redact.use(services.settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_line_of_a_request_carries_its_request_id(
    make_services: Callable[..., Services], make_client: Callable[..., AppClient],
    log_lines: Callable[[], list[dict[str, object]]],
) -> None:
    client = make_client(make_services(MOSAIC_ACCESS_LOG="on"))
    response = client.get("/api/credits/balance", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 401
    lines = [line for line in log_lines() if line["logger"] == "mosaic.access"]
    assert len(lines) == 1
    access = lines[0]
    assert access["request_id"] == "req-42"
    assert access["status"] == 401 and access["route"] == "/api/credits/balance" and access["method"] == "GET"
    assert isinstance(access["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= access.keys()


def test_the_access_line_is_off_unless_asked_for(
    client: AppClient, log_lines: Callable[[], list[dict[str, object]]]
) -> None:
    assert client.get("/api/credits/balance").status_code == 401
    assert [line for line in log_lines() if line["logger"] == "mosaic.access"] == []


def test_no_key_token_password_or_secret_reaches_a_log_line(
    services: Services, client: AppClient, log_lines: Callable[[], list[dict[str, object]]]
) -> None:
    user = signed_in_user(services, client)
    key = create_key(client, user)["key"]
    assert client.get("/api/credits/balance", headers=bearer(key)).status_code == 200
    assert client.post("/api/auth/login", json={"email": user.email, "password": "wrong " + PASSWORD}).status_code == 401
    # and whatever a library or a careless line might put in a message:
    logging.getLogger("somewhere").warning(
        "retrying with Authorization: Bearer %s (token %s, secret %s)", key, user.token, TEST_SECRET
    )
    text = "\n".join(json.dumps(line) for line in log_lines())
    assert text.count(REDACTED) >= 3
    for secret in (key, key[:20], user.token, PASSWORD, TEST_SECRET):
        assert secret not in text


def test_json_lines_are_what_python_json_logger_itself_writes() -> None:
    """JsonLines replaces two of the library's methods for speed; the lines must not change."""
    import datetime
    import sys
    import uuid

    from pythonjsonlogger.json import JsonFormatter

    ours = JsonLines()
    library = JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        timestamp=False,
    )
    logger = logging.getLogger("mosaic.test")
    try:
        raise ValueError("boom")
    except ValueError:
        exc_info = sys.exc_info()
    records = [
        logger.makeRecord(
            "mosaic.access", logging.INFO, __file__, 1, "%s %s %d", ("GET", "/api/credits/balance", 200), None,
            extra={"method": "GET", "route": "/api/credits/balance", "status": 200, "duration_ms": 0.42, "client": None},
        ),
        logger.makeRecord("mosaic.test", logging.ERROR, __file__, 2, "failed %s", ("x",), exc_info),
        logger.makeRecord("mosaic.test", logging.INFO, __file__, 3, {"event": "dict", "name": "n"}, (), None),
        logger.makeRecord(
            "mosaic.test", logging.WARNING, __file__, 4, "odd values", (), None,
            extra={"at": datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC), "id": uuid.UUID(int=7), "_hidden": 1},
        ),
    ]
    for second, record in enumerate(records):
        record.request_id = "req-1"
        record.created += second  # the time text is cached per second
        assert ours.format(record) == redact(library.format(record))
