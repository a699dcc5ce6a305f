"""Sign-up and sign-in: `POST /api/auth/register`, `POST /api/auth/login` (→ a JWT).

Both are throttled with the `login` policy: sign-in per e-mail and per client address, sign-up per
address (each costs an argon2 hash, ~100 ms of CPU). argon2 runs in a worker thread, never on the loop.
A public sign-up always opens a `free` account: plans change through the operator CLI only.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.bootstrap import Services
from mosaic.domain.users import normalise_email
from mosaic.http.auth import unauthorized
from mosaic.http.errors import ApiError
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import AccessToken, LoginRequest, Registered, RegisterRequest

PUBLIC_PLAN_NAME = "free"
_dummy_hashes: dict[int, str] = {}


async def _throttle(call: Call, *identities: str) -> None:
    limits = call.http.limits
    for identity in identities:
        verdict = await limits.hit(limits.login, identity)
        if not verdict.allowed:
            raise ApiError(
                429, "rate_limited", "too many attempts; wait and retry", headers=verdict.refusal_headers()
            )


def _client_address(call: Call) -> str:
    client = call.request.client
    return client.host if client is not None else "unknown"


def _register(services: Services, body: RegisterRequest) -> Registered:
    committed = services.ledger.register_user(
        email=body.email, password=body.password, plan_name=PUBLIC_PLAN_NAME
    )
    services.settle(committed)
    user_id, account_id = committed.value.user_id, committed.value.account_id
    balance = services.views.balance(str(account_id))
    assert balance is not None, "settled: the account's balance row exists"
    email = normalise_email(body.email)
    return Registered(str(user_id), str(account_id), email, balance.plan_name)


async def register(call: Call) -> Response:
    assert isinstance(call.body, RegisterRequest)
    await _throttle(call, f"register-addr:{_client_address(call)}")
    registered = await run_in_threadpool(_register, call.services, call.body)
    return json_response(registered, status=201)


def _password_matches(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """argon2 verify; for an unknown e-mail, verify against a dummy hash so timing does not tell."""
    if password_hash is None:
        dummy = _dummy_hashes.get(id(hasher))
        if dummy is None:
            dummy = _dummy_hashes[id(hasher)] = hasher.hash("not-a-password-" * 2)
        password_hash = dummy
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_login(services: Services, body: LoginRequest) -> tuple[str, str, str] | None:
    user = services.views.user_by_email(normalise_email(body.email))
    hasher = services.ledger.password_hasher
    matches = _password_matches(hasher, user.password_hash if user else None, body.password)
    if user is None or not matches:
        return None
    return user.user_id, user.account_id, user.role


async def login(call: Call) -> Response:
    assert isinstance(call.body, LoginRequest)
    email = normalise_email(call.body.email)
    await _throttle(call, f"login-email:{email}", f"login-addr:{_client_address(call)}")
    found = await run_in_threadpool(_check_login, call.services, call.body)
    if found is None:
        raise unauthorized("invalid_credentials", "the e-mail or the password is wrong")
    user_id, account_id, role = found
    token = call.http.auth.issue_token(user_id=user_id, account_id=account_id, role=role)
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
