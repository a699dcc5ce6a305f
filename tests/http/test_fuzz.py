"""Schemathesis over every operation of /openapi.json, in-process, once for each kind of caller.

The callers: a valid API key on a commercial account, sign-in tokens (JWT) of each role (user,
support, auditor), and bad credentials: none, a non-Bearer scheme, a token that is neither a key nor a
JWT, a key with a wrong checksum, a well-formed key nobody holds, a key on the free plan (no API
access), an expired JWT and a JWT signed with another secret. Every answer must have a documented
status and match that status's schema and media type, and no answer is a 5xx other than a 503 (there
is no upstream AI service here, so a 502 is as wrong as a 500). A caller with bad credentials must
be refused before anything else.

The app runs on PostgreSQL, the back end a deployment uses (text there cannot hold NUL, which SQLite
stores happily). Generated data is derandomized, so a run is repeatable; `MOSAIC_FUZZ_EXAMPLES`
(default 5) is Hypothesis' `max_examples` per operation and caller, on top of Schemathesis' coverage
cases, and `MOSAIC_FUZZ_PHOTO_EXAMPLES` (default 2) bounds the generations on a real photo, which run
the image pipeline and cost about a second each.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from PIL import Image
from schemathesis import Case, CheckContext, Response
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import Binary

from mosaic.bootstrap import Services, build
from mosaic.config import JOB_TIMEOUT_S_MAX
from mosaic.domain.keys import key_from_body
from mosaic.http.app import create_app
from mosaic.http.auth import Authenticator
from mosaic.http.openapi import openapi_document
from mosaic.http.ratelimit import RateLimits
from mosaic.http.routes import all_endpoints
from tests.conftest import PG_URL_BASE, _admin, settings_for
from tests.http.conftest import PASSWORD, AppClient, fast_hashing
from tests.http.images import FIXTURE_IMAGES

EXAMPLES: Final = int(os.environ.get("MOSAIC_FUZZ_EXAMPLES", "5"))
PHOTO_EXAMPLES: Final = int(os.environ.get("MOSAIC_FUZZ_PHOTO_EXAMPLES", "2"))

VALID = ("api_key", "user_jwt", "support_jwt", "auditor_jwt")
INVALID = (
    "no_credentials", "basic_scheme", "not_a_token", "bad_checksum_key", "unknown_key", "free_plan_key",
    "expired_jwt", "forged_jwt",
)
# What a refused caller may be told: the route or method does not exist (the router answers before
# any auth), or who they are is not accepted.
REFUSALS: Final = {401, 403}
ROUTER_ANSWERS: Final = {404: "no route", 405: ""}

# The document the app serves, minus the server's own `x-available-modes` (checked equal below):
# parametrizing needs it at collection, before any database exists.
schema = schemathesis.openapi.from_dict(openapi_document(all_endpoints()))


@dataclass(frozen=True)
class FuzzTarget:
    services: Services
    session: ASGIClient
    authorization: dict[str, str | None]


def _small_photo(size: tuple[int, int] = (24, 16)) -> bytes:
    with Image.open(FIXTURE_IMAGES / "chelsea.png") as im:
        small = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "PNG")
    return buffer.getvalue()


def _credentials(services: Services) -> dict[str, str | None]:
    owners, secret = services.use_cases.owners, services.settings.secret
    auth = Authenticator(owners, secret=secret, token_ttl_s=services.settings.jwt_ttl_s)

    def account(role: str, plan: str) -> tuple[str, str]:
        email = f"fuzz-{role}-{plan}-{uuid.uuid4().hex[:6]}@example.com"
        committed = services.ledger.register_user(email=email, password=PASSWORD, plan_name=plan, role=role)
        services.settle(committed)
        return str(committed.value.user_id), str(committed.value.account_id)

    def token(role: str, authenticator: Authenticator = auth) -> str:
        user_id, account_id = account(role, "commercial")
        return authenticator.issue_token(user_id=user_id, account_id=account_id, role=role)

    user_id, _ = account("user", "commercial")
    free_user_id, _ = account("user", "free")
    expired = Authenticator(owners, secret=secret, token_ttl_s=-60)
    forged = Authenticator(owners, secret=b"not the server's secret, at least 32 bytes", token_ttl_s=600)
    bearer = "Bearer {}".format
    return {
        "api_key": bearer(owners.create_key(user_id=user_id, name="fuzz").plain_key),
        "user_jwt": bearer(token("user")),
        "support_jwt": bearer(token("support")),
        "auditor_jwt": bearer(token("auditor")),
        "no_credentials": None,
        "basic_scheme": "Basic ZnV6ejpmdXp6",
        "not_a_token": bearer("not-a-token"),
        "bad_checksum_key": bearer("us_live_" + "a" * 46),
        "unknown_key": bearer(key_from_body("b" * 40)),
        "free_plan_key": bearer(owners.create_key(user_id=free_user_id, name="fuzz").plain_key),
        "expired_jwt": bearer(token("user", expired)),
        "forged_jwt": bearer(token("support", forged)),
    }


@pytest.fixture(scope="module")
def fuzz_target(pg_template: str) -> Iterator[FuzzTarget]:
    """One app for the whole module (a database per operation and caller would cost more than the
    fuzzing), on a fresh PostgreSQL database copied from the migrated template."""
    name = f"mosaic_fuzz_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    services = fast_hashing(build(settings_for(f"{PG_URL_BASE}/{name}"), background=False))
    # Limits far above what a run sends, so a long run fuzzes the routes rather than the limiter.
    limits = RateLimits(
        "memory://", api="1000000/minute", login="1000000/minute", key_prefix=f"fuzz-{uuid.uuid4().hex}"
    )
    app = create_app(services.use_cases, services.settings, rate_limits=limits)
    # Schemathesis' in-process client, used as a session: it does not run the app's lifespan, which
    # Schemathesis would otherwise start and stop around each test (closing the image pool the next
    # test needs); the pool starts on the first generation, as in the other HTTP tests.
    try:
        yield FuzzTarget(services, ASGIClient(app), _credentials(services))
    finally:
        services.close()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def no_server_error_but_503(ctx: CheckContext, response: Response, case: Case) -> None:
    """Never a 500 (a bug), nor a 502 (no upstream is configured); a 503 is a documented "retry"."""
    assert response.status_code < 500 or response.status_code == 503, (
        f"{case.operation.label} answered {response.status_code}: {response.text[:500]}"
    )


CHECKS = [no_server_error_but_503, status_code_conformance, content_type_conformance, response_schema_conformance]


def _send(case: Case, target: FuzzTarget, credential: str, *, timeout_s: float = 10) -> Response:
    value = target.authorization[credential]
    # Schemathesis may have drawn an Authorization header of its own; ours replaces it.
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    headers = {} if value is None else {"Authorization": value}
    return case.call_and_validate(session=target.session, headers=headers, checks=CHECKS, timeout=timeout_s)


def _is_secured(ctx: Any) -> bool:
    return bool(ctx.operation.definition.raw.get("security"))


@pytest.mark.parametrize("credential", VALID)
@schema.parametrize()
# Data too large or filtered: a multipart body with a file can exceed Hypothesis' size budget; the
# examples are bounded by max_examples anyway. too_slow: the first generation starts a worker process.
@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.too_slow],
)
def test_every_route_answers_each_role_with_a_documented_status_and_body(
    case: Case, credential: str, fuzz_target: FuzzTarget
) -> None:
    _send(case, fuzz_target, credential)


@pytest.mark.parametrize("credential", INVALID)
@schema.include(func=_is_secured).parametrize()
@settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None,
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.too_slow],
)
def test_every_secured_route_refuses_bad_credentials_with_a_documented_401_or_403(
    case: Case, credential: str, fuzz_target: FuzzTarget
) -> None:
    response = _send(case, fuzz_target, credential)
    status = response.status_code
    if status in ROUTER_ANSWERS:
        assert response.json()["error"]["message"].startswith(ROUTER_ANSWERS[status]), response.text
    else:
        assert status in REFUSALS, f"{case.operation.label} with {credential}: {status} {response.text[:300]}"


PHOTO: Final = _small_photo()


@pytest.mark.parametrize("credential", ["api_key", "user_jwt"])
@schema.include(path=["/api/generate", "/api/bulk"]).parametrize()
# Only generated cases (no coverage or example phase): each one with a real photo runs the pipeline.
@settings(
    max_examples=PHOTO_EXAMPLES, derandomize=True, deadline=None, phases=[Phase.generate],
    suppress_health_check=[HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.too_slow],
)
def test_the_generation_routes_answer_any_options_on_a_real_photo_with_a_documented_status_and_body(
    case: Case, credential: str, fuzz_target: FuzzTarget
) -> None:
    if isinstance(case.body, dict):
        if "image" in case.body:
            case.body["image"] = Binary(PHOTO)
        if "images" in case.body:
            case.body["images"] = [Binary(PHOTO)]
    # A poster (tiles=3x3) or a book is a long job on a busy machine: the pool's own limit, not 10 s.
    _send(case, fuzz_target, credential, timeout_s=JOB_TIMEOUT_S_MAX)


def test_the_fuzzed_document_is_the_one_the_app_serves(fuzz_target: FuzzTarget) -> None:
    app = fuzz_target.session.app
    client = AppClient(app)  # type: ignore[arg-type]
    try:
        served = client.get("/openapi.json").json()
    finally:
        client.close()
    served["info"].pop("x-available-modes")
    assert served == openapi_document(all_endpoints())
