"""Endpoints as data: what each route needs (auth, body type, response type), and the one wrapper
that turns an `Endpoint` into a Starlette `Route`: authenticate → rate-limit → parse → handle → encode,
and any `Failure` on the way → its error answer.

Route modules (`mosaic.http.routes.*`) declare `ENDPOINTS`; `mosaic.http.routes.all_endpoints` lists
them once, for the app and for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from mosaic.commands.use_cases import UseCases
from mosaic.domain.errors import Failure
from mosaic.http.auth import Authenticator, Principal
from mosaic.http.balances import BalanceCache
from mosaic.http.errors import BadRequest, PayloadTooLarge, RateLimited, request_id_of, response_for
from mosaic.http.middleware import ROUTE_SCOPE_KEY
from mosaic.http.ratelimit import RateLimits

JSON_BODY_BYTES_MAX = 64 * 1024

Auth = Literal["none", "api_key_or_jwt", "jwt"]
Handler = Callable[["Call"], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    auth: Auth = "none"
    body: type | None = None  # a msgspec Struct decoded from a JSON body (capped in size)
    response: Any = None  # the type of the success body, for OpenAPI (None: no body)
    form: dict[str, Any] | None = None  # OpenAPI schema of a multipart body the handler reads itself
    produces: tuple[str, ...] = ()  # media types of a binary success body, for OpenAPI
    status: int = 200
    errors: tuple[int, ...] = ()
    query: tuple[QueryParam, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(slots=True)
class HttpContext:
    """What every handler may use, built once per app: the use cases and the edge's own parts."""

    use_cases: UseCases
    auth: Authenticator
    limits: RateLimits
    balances: BalanceCache
    endpoints: list[Endpoint] = field(default_factory=list)


@dataclass(slots=True)
class Call:
    request: Request
    http: HttpContext
    principal: Principal | None
    body: object

    @property
    def use_cases(self) -> UseCases:
        return self.http.use_cases

    @property
    def who(self) -> Principal:
        assert self.principal is not None, "only authenticated endpoints ask who is calling"
        return self.principal


class _JsonBody:
    def __init__(self, body_type: type) -> None:
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(body_type)

    async def read(self, request: Request) -> object:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > JSON_BODY_BYTES_MAX:
            raise _too_large()
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > JSON_BODY_BYTES_MAX:
                raise _too_large()
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise BadRequest("missing_body", "send a JSON object as the request body")
        try:
            return self.decoder.decode(raw)
        except msgspec.ValidationError as exc:
            raise BadRequest("invalid_body", f"the body does not fit this route: {exc}") from None
        except msgspec.DecodeError as exc:
            raise BadRequest("malformed_json", f"the body is not valid JSON: {exc}") from None


_encode = msgspec.json.Encoder().encode


def json_response(value: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Encode `value` (Structs, lists, dicts) with the shared msgspec encoder."""
    return Response(_encode(value), status_code=status, headers=headers, media_type="application/json")


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge("body_too_large", f"a JSON body may hold at most {JSON_BODY_BYTES_MAX} bytes")


def route_for(endpoint: Endpoint, http: HttpContext) -> Route:
    body = _JsonBody(endpoint.body) if endpoint.body is not None else None
    needs_auth = endpoint.auth != "none"
    api_key_allowed = endpoint.auth == "api_key_or_jwt"

    async def asgi_endpoint(request: Request) -> Response:
        request.scope[ROUTE_SCOPE_KEY] = endpoint.path
        try:
            principal = None
            verdict = None
            if needs_auth:
                principal = await http.auth.authenticate(
                    request.headers.get("authorization"), api_key_allowed=api_key_allowed
                )
                verdict = await http.limits.hit(http.limits.api, principal.rate_identity)
                if not verdict.allowed:
                    raise RateLimited(
                        "rate_limited", "too many requests; wait and retry",
                        headers=verdict.refusal_headers(),
                    )
            parsed = await body.read(request) if body is not None else None
            response = await endpoint.handler(Call(request, http, principal, parsed))
            if verdict is not None:  # a handler never sets it: append, not `headers[...] =`'s scan
                response.raw_headers.append((b"ratelimit", verdict.ratelimit_header.encode("latin-1")))
            return response
        except Failure as exc:  # the one place failures become answers; anything else is a bug (a 500)
            return response_for(exc, request_id_of(request))

    name = endpoint.handler.__name__
    return Route(endpoint.path, _AsgiEndpoint(asgi_endpoint), methods=[endpoint.method], name=name)


class _AsgiEndpoint:
    """A route's ASGI app: Starlette wraps a plain function in `request_response`, which adds a layer of
    exception handling around every request and every message sent. `asgi_endpoint` turns every
    failure of ours into its answer itself; anything else (a Starlette HTTPException, a bug) goes on
    to the app's own exception middleware, which holds the same handlers."""

    __slots__ = ("_endpoint",)

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._endpoint(Request(scope, receive, send))
        await response(scope, receive, send)
