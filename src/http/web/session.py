"""The web pages' session and CSRF rules.

The session is the JWT sign-in issues, in an `HttpOnly; SameSite=Strict` cookie (`Secure` when the
page is served over HTTPS), so no script can read it and no other site's page can send it. API
clients keep `Authorization: Bearer`; the API routes never read this cookie.

CSRF: each browser gets a random `mosaic_csrf` cookie (HttpOnly, SameSite=Strict); every form and
fetch that changes anything carries `HMAC(csrf key, that cookie)` as its `csrf` field (or the
`X-CSRF-Token` header), compared in constant time. A post whose `Origin` (or `Sec-Fetch-Site`)
names another site is refused before its body is read, whatever it carries.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from mosaic.http.errors import NotPermitted

SESSION_COOKIE: Final = "mosaic_session"
CSRF_COOKIE: Final = "mosaic_csrf"
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "x-csrf-token"
CSRF_SECRET_LABEL: Final = b"mosaic/web-csrf/v1"
CSRF_COOKIE_MAX_AGE_S: Final = 30 * 24 * 3600
_CSRF_COOKIE_CHARS: Final = 43  # token_urlsafe(32)
_SAME_SITE_FETCHES: Final = frozenset({"same-origin", "none"})


class CsrfRefused(NotPermitted):
    """A state-changing page request without this browser's token, or sent from another site."""


class Csrf:
    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, CSRF_SECRET_LABEL, hashlib.sha256).digest()

    def browser_id(self, request: Request) -> tuple[str, bool]:
        """This browser's CSRF cookie, or a new one (and True: the response must set it)."""
        found = request.cookies.get(CSRF_COOKIE, "")
        if len(found) == _CSRF_COOKIE_CHARS and found.isascii():
            return found, False
        return secrets.token_urlsafe(32), True

    def token(self, browser_id: str) -> str:
        return hmac.new(self._key, browser_id.encode("ascii"), hashlib.sha256).hexdigest()

    def check(self, browser_id: str, sent: str | None) -> None:
        if not sent or not hmac.compare_digest(self.token(browser_id), sent):
            raise CsrfRefused(
                "csrf_token_invalid", "this form has expired or did not come from this site; reload the page"
            )


def check_same_origin(request: Request, public_url: str) -> None:
    """Refuse a cross-site post: the browser says where it came from in `Origin` and `Sec-Fetch-Site`.
    This server's origin is the request's, or `MOSAIC_PUBLIC_URL`'s (TLS may end at a proxy in front,
    so the browser's `https://` origin reaches here as plain HTTP)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in _SAME_SITE_FETCHES:
        raise CsrfRefused("cross_origin", "a request from another site may not change anything here")
    origin = request.headers.get("origin")
    if origin is not None and origin not in (own_origin(request), _origin_of(public_url)):
        raise CsrfRefused("cross_origin", "a request from another site may not change anything here")


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def own_origin(request: Request) -> str:
    url = request.url
    return f"{url.scheme}://{url.netloc}"


def served_securely(request: Request, public_url: str) -> bool:
    """Over HTTPS here, or at an `https://` public URL whose host this request was sent to (TLS ends
    at the proxy in front)."""
    if request.url.scheme == "https":
        return True
    public = urlsplit(public_url)
    return public.scheme == "https" and public.netloc == request.url.netloc


def set_cookie(response: Response, name: str, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )


def clear_cookie(response: Response, name: str, *, secure: bool) -> None:
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="strict")


def safe_next(value: str | None, default: str = "/dashboard") -> str:
    """A path on this site to return to after signing in; anything else (another host) is ignored."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value
