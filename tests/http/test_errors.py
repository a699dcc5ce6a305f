"""One error shape and one status table; JSON for unknown routes, wrong methods and bugs."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mosaic
from mosaic.bootstrap import Services
from mosaic.commands.generation import GenerationTimedOut
from mosaic.commands.writer import LedgerBusy
from mosaic.domain.errors import ALL_DOMAIN_ERRORS, DomainError, KeyLimitReached
from mosaic.http.errors import (
    STATUS_BY_DOMAIN_ERROR,
    STATUS_BY_IMAGE_REJECTION,
    response_for_domain_error,
)
from tests.http.conftest import AppClient, signed_in_user

SPEC_STATUSES = {400, 401, 402, 403, 429, 502}
EXTRA_STATUSES = {404, 409, 413, 422, 503}


def subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)


def every_error_class_of_the_package(base: type) -> set[type]:
    """Every subclass of `base` defined anywhere in `mosaic` (each module imported, so none hides)."""
    for module in pkgutil.walk_packages(mosaic.__path__, "mosaic."):
        if not module.name.startswith("mosaic._alembic"):  # a wheel's migration scripts: not importable
            importlib.import_module(module.name)
    return {cls for cls in subclasses(base) if cls.__module__.startswith("mosaic.")}


def test_every_domain_error_class_anywhere_in_the_package_has_a_status_of_the_spec_or_the_extras() -> None:
    defined = every_error_class_of_the_package(DomainError)
    assert {*ALL_DOMAIN_ERRORS, LedgerBusy, GenerationTimedOut} <= defined, "the walk finds them all"
    missing = sorted(cls.__qualname__ for cls in defined if cls not in STATUS_BY_DOMAIN_ERROR)
    assert missing == [], "add these to STATUS_BY_DOMAIN_ERROR"
    assert set(STATUS_BY_DOMAIN_ERROR.values()) <= SPEC_STATUSES | EXTRA_STATUSES


def test_every_error_of_the_domain_module_is_listed_in_all_domain_errors() -> None:
    in_module = {cls for cls in every_error_class_of_the_package(DomainError) if cls.__module__ == "mosaic.domain.errors"}
    assert in_module == set(ALL_DOMAIN_ERRORS)


def test_imaging_errors_and_edge_refusals_use_statuses_of_the_spec_or_the_extras() -> None:
    # `api_error_for_imaging` answers every one of IMAGING_ERRORS with 400 or a status from this table.
    assert set(STATUS_BY_IMAGE_REJECTION.values()) <= SPEC_STATUSES | EXTRA_STATUSES
    src = Path(mosaic.__file__).parent
    literal = {int(m) for path in src.rglob("*.py") for m in re.findall(r"ApiError\(\s*(\d{3})", path.read_text())}
    assert literal and literal <= SPEC_STATUSES | EXTRA_STATUSES, literal


def test_a_generation_that_timed_out_is_a_503_with_retry_after_not_a_500() -> None:
    response = response_for_domain_error(GenerationTimedOut("the image took longer than 300 s"), "rid")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


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
