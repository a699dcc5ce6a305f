"""Sign-up and sign-in: `POST /api/auth/register`, `POST /api/auth/login` (→ a JWT).

Both are throttled with the `login` policy: sign-in per e-mail and per client address, sign-up per
address (each costs an argon2 hash, ~100 ms of CPU). argon2 runs in a worker thread, never on the loop.
A public sign-up always opens a `free` account (`mosaic.commands.owners`): plans change through support.
"""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mosaic.domain.users import normalise_email
from mosaic.http.auth import unauthorized
from mosaic.http.errors import RateLimited
from mosaic.http.ratelimit import RateLimits
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import AccessToken, LoginRequest, Registered, RegisterRequest


async def throttle(limits: RateLimits, *identities: str) -> None:
    """Count one attempt against each identity under the `login` policy; 429 once any is spent."""
    for identity in identities:
        verdict = await limits.hit(limits.login, identity)
        if not verdict.allowed:
            raise RateLimited(
                "rate_limited", "too many attempts; wait and retry", headers=verdict.refusal_headers()
            )


def client_address(request: Request) -> str:
    client = request.client
    return client.host if client is not None else "unknown"


async def register(call: Call) -> Response:
    assert isinstance(call.body, RegisterRequest)
    await throttle(call.http.limits, f"register-addr:{client_address(call.request)}")
    registered = await run_in_threadpool(
        partial(call.use_cases.owners.register, email=call.body.email, password=call.body.password)
    )
    return json_response(
        Registered(registered.user_id, registered.account_id, registered.email, registered.plan_name),
        status=201,
    )


async def login(call: Call) -> Response:
    assert isinstance(call.body, LoginRequest)
    email = normalise_email(call.body.email)
    await throttle(call.http.limits, f"login-email:{email}", f"login-addr:{client_address(call.request)}")
    found = await run_in_threadpool(
        partial(call.use_cases.owners.sign_in, email=email, password=call.body.password)
    )
    if found is None:
        raise unauthorized("invalid_credentials", "the e-mail or the password is wrong")
    token = call.http.auth.issue_token(user_id=found.user_id, account_id=found.account_id, role=found.role)
    return json_response(AccessToken(token, "bearer", call.http.auth.token_ttl_s))


ENDPOINTS = [
    Endpoint(
        "POST", "/api/auth/register", register, "Create a user and a free account",
        body=RegisterRequest, response=Registered, status=201, errors=(400, 409, 413, 429),
        tags=("auth",),
    ),
    Endpoint(
        "POST", "/api/auth/login", login, "Sign in: exchange e-mail and password for a JWT",
        body=LoginRequest, response=AccessToken, errors=(400, 401, 413, 429), tags=("auth",),
    ),
]
