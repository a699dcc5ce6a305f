"""The pages of the mailed links and of a forgotten password: verify an address (from its link, or
a new link), ask for a reset link, set a new password (which ends every session of the user). The
use cases of `/api/auth/verify`, `/forgot` and `/reset`, throttled the same way."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.errors import Failure
from mosaic.domain.users import normalise_email
from mosaic.http.routes.auth import client_address, throttle
from mosaic.http.web.pages import PageCall, PageRoute
from mosaic.http.web.session import SESSION_COOKIE


async def verify_form(call: PageCall) -> Response:
    return call.render("verify.html", token=call.request.query_params.get("token", ""), verified=None)


async def verify(call: PageCall) -> Response:
    token = call.fields.get("token", "")
    try:
        await throttle(call.http.limits, f"verify-addr:{client_address(call.request)}")
        email = await run_in_threadpool(partial(call.http.use_cases.mail.verify, token=token))
    except Failure as failure:
        return call.failed("verify.html", failure, token=token, verified=None)
    return call.render("verify.html", token="", verified=email)


async def resend_verification(call: PageCall) -> Response:
    await throttle(call.http.limits, f"verify-resend:{call.who.user_id}")
    await run_in_threadpool(partial(call.http.use_cases.mail.resend_verification, user_id=call.who.user_id))
    return call.redirect("/dashboard?resent=1")


async def forgot_form(call: PageCall) -> Response:
    return call.render("forgot.html", sent=False, email="")


async def forgot(call: PageCall) -> Response:
    email = normalise_email(call.fields.get("email", ""))
    try:
        await throttle(
            call.http.limits, f"forgot-addr:{client_address(call.request)}", f"forgot-email:{email}"
        )
        await run_in_threadpool(partial(call.http.use_cases.mail.forgot, email=email))
    except Failure as failure:
        return call.failed("forgot.html", failure, sent=False, email=email)
    return call.render("forgot.html", status=202, sent=True, email=email)


async def reset_form(call: PageCall) -> Response:
    return call.render("reset.html", token=call.request.query_params.get("token", ""))


async def reset(call: PageCall) -> Response:
    token = call.fields.get("token", "")
    try:
        await throttle(call.http.limits, f"reset-addr:{client_address(call.request)}")
        done = await run_in_threadpool(
            partial(call.http.use_cases.mail.reset, token=token, password=call.fields.get("password", ""))
        )
    except Failure as failure:
        return call.failed("reset.html", failure, token=token)
    call.http.auth.forget_sessions(done.user_id)
    call.cookies.append((SESSION_COOKIE, "", 0))
    return call.redirect("/signin?reset=1")


ROUTES = [
    PageRoute("GET", "/verify", verify_form, signed_in=False),
    PageRoute("POST", "/verify", verify, signed_in=False),
    PageRoute("POST", "/verify/resend", resend_verification),
    PageRoute("GET", "/forgot", forgot_form, signed_in=False),
    PageRoute("POST", "/forgot", forgot, signed_in=False),
    PageRoute("GET", "/reset", reset_form, signed_in=False),
    PageRoute("POST", "/reset", reset, signed_in=False),
]
