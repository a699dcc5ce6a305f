"""Sign-up and sign-in: `POST /api/auth/register`, `POST /api/auth/login` (→ a JWT), `GET /api/auth/me`;
account mail (`mosaic.commands.account_mail`): `POST /api/auth/verify`, `/api/auth/verify/resend`,
`/api/auth/forgot` and `/api/auth/reset`.

All but `me` are throttled with the `login` policy: sign-in per e-mail and per client address, sign-up,
verify and reset per address (each costs an argon2 hash or guards a token), `forgot` per address and
per e-mail (nobody's inbox is flooded), a resend per user. argon2 runs in a worker thread, never on
the loop. A public sign-up always opens a `free` account (`mosaic.commands.owners`): plans change
through support.
"""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mosaic.domain.errors import NotFound
from mosaic.domain.users import normalise_email
from mosaic.http.auth import unauthorized
from mosaic.http.errors import RateLimited
from mosaic.http.ratelimit import RateLimits
from mosaic.http.routing import Call, Endpoint, json_response
from mosaic.http.schemas import (
    AccessToken,
    AccountBody,
    ForgotRequest,
    LoginRequest,
    MailAcceptedBody,
    PasswordResetBody,
    Registered,
    RegisterRequest,
    ResetRequest,
    VerifiedBody,
    VerifyRequest,
)

_FORGOT_ANSWER = MailAcceptedBody(
    "accepted", "if an account has this e-mail address, a link to reset its password is on its way"
)


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
    token = call.http.auth.issue_token(
        user_id=found.user_id, account_id=found.account_id, role=found.role, token_version=found.token_version
    )
    return json_response(AccessToken(token, "bearer", call.http.auth.token_ttl_s))


async def me(call: Call) -> Response:
    user = await run_in_threadpool(call.use_cases.views.user, call.who.user_id)
    if user is None:
        raise NotFound("this token's user is not known")
    body = AccountBody(user.user_id, user.account_id, user.email, user.role, user.email_verified)
    return json_response(body)


async def verify(call: Call) -> Response:
    assert isinstance(call.body, VerifyRequest)
    await throttle(call.http.limits, f"verify-addr:{client_address(call.request)}")
    email = await run_in_threadpool(partial(call.use_cases.mail.verify, token=call.body.token))
    return json_response(VerifiedBody(email, True))


async def resend_verification(call: Call) -> Response:
    await throttle(call.http.limits, f"verify-resend:{call.who.user_id}")
    await run_in_threadpool(partial(call.use_cases.mail.resend_verification, user_id=call.who.user_id))
    return json_response(MailAcceptedBody("accepted", "a new verification link is on its way"), status=202)


async def forgot(call: Call) -> Response:
    assert isinstance(call.body, ForgotRequest)
    email = normalise_email(call.body.email)
    await throttle(call.http.limits, f"forgot-addr:{client_address(call.request)}", f"forgot-email:{email}")
    await run_in_threadpool(partial(call.use_cases.mail.forgot, email=email))
    return json_response(_FORGOT_ANSWER, status=202)


async def reset(call: Call) -> Response:
    assert isinstance(call.body, ResetRequest)
    await throttle(call.http.limits, f"reset-addr:{client_address(call.request)}")
    done = await run_in_threadpool(
        partial(call.use_cases.mail.reset, token=call.body.token, password=call.body.password)
    )
    call.http.auth.forget_sessions(done.user_id)
    return json_response(PasswordResetBody(done.email, True))


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
    Endpoint(
        "GET", "/api/auth/me", me, "Who is signed in, and whether their e-mail address is verified",
        auth="jwt", response=AccountBody, errors=(401, 404, 429), tags=("auth",),
    ),
    Endpoint(
        "POST", "/api/auth/verify", verify,
        "Verify an e-mail address with the token of the mailed link (single-use, for an hour)",
        body=VerifyRequest, response=VerifiedBody, errors=(400, 413, 429), tags=("auth",),
    ),
    Endpoint(
        "POST", "/api/auth/verify/resend", resend_verification, "Mail a new verification link",
        auth="jwt", response=MailAcceptedBody, status=202, errors=(401, 404, 409, 429, 503), tags=("auth",),
    ),
    Endpoint(
        "POST", "/api/auth/forgot", forgot,
        "Mail a password reset link; the same answer whether or not the address has an account",
        body=ForgotRequest, response=MailAcceptedBody, status=202, errors=(400, 413, 429, 503),
        tags=("auth",),
    ),
    Endpoint(
        "POST", "/api/auth/reset", reset,
        "Set a new password with the token of the mailed link; ends every session of the user",
        body=ResetRequest, response=PasswordResetBody, errors=(400, 413, 429), tags=("auth",),
    ),
]
