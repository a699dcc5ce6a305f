"""Signing up, in and out: the same use cases as `/api/auth/*`, throttled the same way; the session
is the JWT sign-in issues, kept in the session cookie."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.errors import Failure
from mosaic.domain.users import normalise_email
from mosaic.http.auth import unauthorized
from mosaic.http.routes.auth import client_address, throttle
from mosaic.http.web.pages import PageCall, PageRoute
from mosaic.http.web.session import SESSION_COOKIE, safe_next


async def home(call: PageCall) -> Response:
    return call.redirect("/dashboard" if call.principal is not None else "/signin")


async def sign_in_form(call: PageCall) -> Response:
    query = call.request.query_params
    notice = (
        "Your password is changed and every session of yours is ended: sign in with the new one."
        if "reset" in query else "You are signed out." if "signed_out" in query else ""
    )
    return call.render(
        "signin.html", next=safe_next(call.request.query_params.get("next")), email="", notice=notice
    )


def _start_session(call: PageCall, *, user_id: str, account_id: str, role: str, token_version: int) -> None:
    auth = call.http.auth
    token = auth.issue_token(user_id=user_id, account_id=account_id, role=role, token_version=token_version)
    call.cookies.append((SESSION_COOKIE, token, auth.token_ttl_s))


async def sign_in(call: PageCall) -> Response:
    email = normalise_email(call.fields.get("email", ""))
    next_path = safe_next(call.fields.get("next"))
    try:
        await throttle(call.http.limits, f"login-email:{email}", f"login-addr:{client_address(call.request)}")
        found = await run_in_threadpool(
            partial(call.http.use_cases.owners.sign_in, email=email, password=call.fields.get("password", ""))
        )
        if found is None:
            raise unauthorized("invalid_credentials", "the e-mail or the password is wrong")
    except Failure as failure:
        return call.failed("signin.html", failure, next=next_path, email=email, notice="")
    _start_session(
        call, user_id=found.user_id, account_id=found.account_id, role=found.role,
        token_version=found.token_version,
    )
    return call.redirect(next_path)


async def sign_up_form(call: PageCall) -> Response:
    return call.render("signup.html", email="")


async def sign_up(call: PageCall) -> Response:
    email = call.fields.get("email", "")
    try:
        await throttle(call.http.limits, f"register-addr:{client_address(call.request)}")
        registered = await run_in_threadpool(
            partial(
                call.http.use_cases.owners.register, email=email, password=call.fields.get("password", "")
            )
        )
    except Failure as failure:
        return call.failed("signup.html", failure, email=email)
    _start_session(
        call, user_id=registered.user_id, account_id=registered.account_id, role="user", token_version=0
    )
    return call.redirect("/dashboard?welcome=1")


async def sign_out(call: PageCall) -> Response:
    call.cookies.append((SESSION_COOKIE, "", 0))
    return call.redirect("/signin?signed_out=1")


ROUTES = [
    PageRoute("GET", "/", home, signed_in=False),
    PageRoute("GET", "/signin", sign_in_form, signed_in=False),
    PageRoute("POST", "/signin", sign_in, signed_in=False),
    PageRoute("GET", "/signup", sign_up_form, signed_in=False),
    PageRoute("POST", "/signup", sign_up, signed_in=False),
    PageRoute("POST", "/signout", sign_out, signed_in=False),  # clears even an expired session
]
