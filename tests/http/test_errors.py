"""One error shape and one status table; JSON for unknown routes, wrong methods and bugs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest

from mosaic.bootstrap import Services
from mosaic.commands.writer import LedgerBusy
from mosaic.domain.errors import ALL_DOMAIN_ERRORS, KeyLimitReached
from mosaic.http.errors import STATUS_BY_DOMAIN_ERROR, response_for_domain_error
from tests.http.conftest import AppClient, signed_in_user

SPEC_STATUSES = {400, 401, 402, 403, 429, 502}
EXTRA_STATUSES = {404, 409, 413, 422, 503}


def test_every_domain_error_class_has_a_status() -> None:
    for error_class in (*ALL_DOMAIN_ERRORS, LedgerBusy):
        assert error_class in STATUS_BY_DOMAIN_ERROR, error_class.__name__
        assert STATUS_BY_DOMAIN_ERROR[error_class] in SPEC_STATUSES | EXTRA_STATUSES


def test_the_spec_errors_map_to_the_spec_statuses() -> None:
    by_code = {cls.code: status for cls, status in STATUS_BY_DOMAIN_ERROR.items()}
    assert by_code["insufficient_credits"] == 402
    assert by_code["not_found"] == 404
    assert by_code["email_taken"] == 409
    assert by_code["key_limit_reached"] == 409
    assert by_code["ledger_busy"] == 503


def test_a_busy_ledger_answers_503_with_retry_after() -> None:
    response = response_for_domain_error(LedgerBusy("busy"), "rid")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


def test_an_unknown_route_is_a_json_404_with_a_request_id(client: AppClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert error["request_id"] == response.headers["x-request-id"]


def test_a_wrong_method_is_a_json_405(client: AppClient) -> None:
    response = client.request("PUT", "/api/credits/balance")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_every_response_carries_a_request_id_and_a_sane_client_id_is_kept(client: AppClient) -> None:
    assert client.get("/healthz").headers["x-request-id"]
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    hostile = client.get("/healthz", headers={"X-Request-ID": "a b\tc" * 40})
    assert hostile.headers["x-request-id"] != "a b\tc" * 40


class _Broken:
    def __getattr__(self, name: str) -> Callable[..., None]:
        def fail(*args: object, **kwargs: object) -> None:
            raise RuntimeError("secret internal detail")

        return fail


def test_an_unexpected_exception_is_a_json_500_with_a_log_line_and_no_trace(
    services: Services, make_client: Callable[..., AppClient], caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(services)
    user = signed_in_user(services, client)
    services.views = _Broken()  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/credits/balance", headers=user.auth)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert any(error["request_id"] in record.getMessage() for record in caplog.records)


def test_a_domain_error_body_has_the_one_shape() -> None:
    response = response_for_domain_error(KeyLimitReached("at most 100 keys"), "rid-1")
    assert response.status_code == 409
    assert json.loads(response.body) == {
        "error": {"code": "key_limit_reached", "message": "at most 100 keys", "request_id": "rid-1"}
    }
