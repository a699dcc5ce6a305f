"""One error shape and one status table; JSON for unknown routes, wrong methods and bugs."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
from collections.abc import Callable, Iterator

import pytest

import mosaic
from mosaic.bootstrap import Services
from mosaic.commands.generate import ImageTooLarge, RejectedInput, rejected
from mosaic.commands.pool import GenerationTimedOut
from mosaic.commands.writer import LedgerBusy
from mosaic.domain.errors import ALL_DOMAIN_ERRORS, DomainError, ErrorKind, Failure, KeyLimitReached
from mosaic.http.errors import STATUS_BY_KIND, EdgeError, response_for, status_of
from mosaic.imaging.decode import REJECTION_CODES, ImageRejected
from tests.http.conftest import AppClient, signed_in_user

SPEC_STATUSES = {400, 401, 402, 403, 429, 502}
EXTRA_STATUSES = {404, 409, 413, 422, 503}
PAID_WORK_FAULT_STATUS = 500  # ErrorKind.INTERNAL: paid work that failed for a reason of ours, released


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


def test_every_failure_class_anywhere_in_the_package_says_its_kind_and_gets_a_status_of_the_spec_or_the_extras() -> None:
    defined = every_error_class_of_the_package(Failure)
    assert {*ALL_DOMAIN_ERRORS, LedgerBusy, GenerationTimedOut, RejectedInput} <= defined, "the walk finds them all"
    abstract = {DomainError, EdgeError}  # bases: each subclass says its kind
    without_kind = sorted(cls.__qualname__ for cls in defined - abstract if not isinstance(getattr(cls, "kind", None), ErrorKind))
    assert without_kind == [], "give these a kind"
    assert set(STATUS_BY_KIND) == set(ErrorKind)
    statuses = {STATUS_BY_KIND[cls.kind] for cls in defined - abstract}
    assert statuses <= SPEC_STATUSES | EXTRA_STATUSES | {PAID_WORK_FAULT_STATUS}


def test_infrastructure_failures_are_not_domain_errors() -> None:
    from mosaic.commands.pool import GenerationBusy, WorkerLost
    from mosaic.commands.upstream import AiUnavailable, UpstreamBusy, UpstreamFailed

    for cls in (LedgerBusy, GenerationBusy, GenerationTimedOut, WorkerLost, AiUnavailable, UpstreamBusy, UpstreamFailed):
        assert not issubclass(cls, DomainError), cls


def test_every_error_of_the_domain_module_is_listed_in_all_domain_errors() -> None:
    in_module = {cls for cls in every_error_class_of_the_package(DomainError) if cls.__module__ == "mosaic.domain.errors"}
    assert in_module == set(ALL_DOMAIN_ERRORS)


def test_imaging_refusals_become_400s_and_a_too_large_image_a_413() -> None:
    for code in REJECTION_CODES:
        failure = rejected(ImageRejected(code, "why"))
        assert (failure.code, failure.message) == (code, "why")
        assert status_of(failure) == (413 if code == "image_too_large" else 400), code
    assert isinstance(rejected(ImageRejected("image_too_large", "big")), ImageTooLarge)


def test_edge_refusals_use_statuses_of_the_spec_or_the_extras() -> None:
    edge = every_error_class_of_the_package(EdgeError)
    assert edge and {STATUS_BY_KIND[cls.kind] for cls in edge} <= SPEC_STATUSES | EXTRA_STATUSES


def test_a_generation_that_timed_out_is_a_503_with_retry_after_not_a_500() -> None:
    response = response_for(GenerationTimedOut("the image took longer than 300 s"), "rid")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


def test_the_spec_errors_map_to_the_spec_statuses() -> None:
    by_code = {cls.code: STATUS_BY_KIND[cls.kind] for cls in every_error_class_of_the_package(Failure) if hasattr(cls, "kind")}
    assert by_code["insufficient_credits"] == 402
    assert by_code["not_found"] == 404
    assert by_code["email_taken"] == 409
    assert by_code["key_limit_reached"] == 409
    assert by_code["ledger_busy"] == 503
    assert by_code["upstream_failed"] == 502
    assert by_code["ai_unavailable"] == 503


def test_a_busy_ledger_answers_503_with_retry_after() -> None:
    response = response_for(LedgerBusy("busy"), "rid")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


def test_a_missing_upstream_is_a_503_without_retry_after_retrying_will_not_configure_it() -> None:
    from mosaic.commands.upstream import AiUnavailable

    response = response_for(AiUnavailable("no upstream"), "rid")
    assert response.status_code == 503
    assert "retry-after" not in response.headers


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
    object.__setattr__(services.use_cases, "views", _Broken())  # the routes' queries fail
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/credits/balance", headers=user.auth)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert "secret internal detail" not in response.text and "Traceback" not in response.text
    assert any(getattr(record, "request_id", None) == error["request_id"] for record in caplog.records)


def test_a_domain_error_body_has_the_one_shape() -> None:
    response = response_for(KeyLimitReached("at most 100 keys"), "rid-1")
    assert response.status_code == 409
    assert json.loads(response.body) == {
        "error": {"code": "key_limit_reached", "message": "at most 100 keys", "request_id": "rid-1"}
    }
