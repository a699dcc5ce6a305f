"""The page layer's wrapper: what `route_for` is to the API, for HTML pages.

session cookie → (posts) same-origin and CSRF checks → rate limit (the signed-in user's API policy)
→ handler → HTML. A `Failure` becomes a page with the failure's status that names it in an alert
(read out by screen readers); a page that needs a session sends a browser without one to sign in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final
from urllib.parse import quote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mosaic.domain.errors import Failure
from mosaic.domain.users import PASSWORD_CHARS_MIN
from mosaic.http.auth import Principal
from mosaic.http.errors import RateLimited, Unauthorized, request_id_of, status_of
from mosaic.http.middleware import ROUTE_SCOPE_KEY
from mosaic.http.routes.ai import form_fields
from mosaic.http.routing import HttpContext
from mosaic.http.web.session import (
    CSRF_COOKIE,
    CSRF_COOKIE_MAX_AGE_S,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Csrf,
    check_same_origin,
    clear_cookie,
    served_securely,
    set_cookie,
)

# No inline script or style anywhere; forms post only here; nothing is loaded from another origin.
PAGE_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: Final = {
    "Content-Security-Policy": PAGE_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show balances and keys: never from a cache
}
SIGN_IN_PATH: Final = "/signin"


def _templates() -> jinja2.Environment:
    folder = resources.files("mosaic.http").joinpath("templates")
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name is an error in tests, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["dollars"] = lambda cents: f"${cents / 100:,.2f}"
    environment.globals["password_min"] = PASSWORD_CHARS_MIN
    return environment


@dataclass(slots=True)
class Web:
    """What every page may use, built once per app."""

    http: HttpContext
    csrf: Csrf
    public_url: str
    billing_configured: bool
    ai_configured: bool
    templates: jinja2.Environment = field(default_factory=_templates)


@dataclass(slots=True)
class PageCall:
    request: Request
    web: Web
    principal: Principal | None
    browser_id: str
    fields: dict[str, str] = field(default_factory=dict)  # a urlencoded post's fields
    cookies: list[tuple[str, str, int]] = field(default_factory=list)  # (name, value, max age); "" clears

    @property
    def http(self) -> HttpContext:
        return self.web.http

    @property
    def who(self) -> Principal:
        assert self.principal is not None, "only signed-in pages ask who is calling"
        return self.principal

    @property
    def csrf_token(self) -> str:
        return self.web.csrf.token(self.browser_id)

    def check_csrf(self, sent: str | None) -> None:
        self.web.csrf.check(self.browser_id, sent)

    def base_url(self) -> str:
        return self.web.public_url or str(self.request.base_url).rstrip("/")

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        html = self.web.templates.get_template(template).render(
            signed_in=self.principal is not None,
            role=self.principal.role if self.principal else None,
            csrf=self.csrf_token,
            path=self.request.url.path,
            billing_configured=self.web.billing_configured,
            ai_configured=self.web.ai_configured,
            **context,
        )
        return Response(html, status_code=status, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    def failed(self, template: str, failure: Failure, **context: Any) -> Response:
        """`template` again, with the failure in its alert and the failure's status."""
        error = {"code": failure.code, "message": failure.message, "request_id": request_id_of(self.request)}
        return self.render(template, status=status_of(failure), error=error, **context)

    def redirect(self, path: str) -> Response:
        return RedirectResponse(path, status_code=303)


PageHandler = Callable[[PageCall], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class PageRoute:
    method: str
    path: str
    handler: PageHandler
    signed_in: bool = True
    read_form: bool = True  # a post's body is a small form read (and CSRF-checked) here; False: the handler's


async def _session(web: Web, request: Request) -> Principal | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        return await web.http.auth.session(token)
    except Unauthorized:
        return None


async def _run(route: PageRoute, web: Web, request: Request) -> Response:
    browser_id, new_browser = web.csrf.browser_id(request)
    call = PageCall(request, web, await _session(web, request), browser_id)
    try:
        if route.signed_in and call.principal is None:
            if request.method == "GET":
                return call.redirect(f"{SIGN_IN_PATH}?next={quote(request.url.path)}")
            raise Unauthorized("signed_out", "your session has ended; sign in again")
        if request.method == "POST":
            check_same_origin(request, web.public_url)
            if route.read_form:
                call.fields = await form_fields(request)
                call.check_csrf(call.fields.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER))
        if call.principal is not None:
            limits = web.http.limits
            verdict = await limits.hit(limits.api, call.principal.rate_identity)
            if not verdict.allowed:
                raise RateLimited("rate_limited", "too many requests; wait a moment and retry",
                                  headers=verdict.refusal_headers())
        response = await route.handler(call)
    except Failure as failure:
        response = call.failed("error.html", failure)
    secure = served_securely(request, web.public_url)
    if new_browser and (response.media_type or "").startswith("text/html"):
        set_cookie(response, CSRF_COOKIE, browser_id, max_age=CSRF_COOKIE_MAX_AGE_S, secure=secure)
    for name, value, max_age in call.cookies:
        if value:
            set_cookie(response, name, value, max_age=max_age, secure=secure)
        else:
            clear_cookie(response, name, secure=secure)
    return response


def page_routes(web: Web, routes: list[PageRoute]) -> list[Route]:
    def mounted(route: PageRoute) -> Route:
        async def endpoint(request: Request) -> Response:
            request.scope[ROUTE_SCOPE_KEY] = route.path
            return await _run(route, web, request)

        return Route(route.path, endpoint, methods=[route.method], name=f"page_{route.handler.__name__}")

    return [mounted(route) for route in routes]
