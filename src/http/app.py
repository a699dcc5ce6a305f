"""`create_app(use_cases, settings)`: the Starlette application over one process's use cases.

Thin by design: each route parses its input, calls one command or query, and encodes the answer.
The only middleware is the pure-ASGI request-id layer; auth and rate limits run inside the route
wrapper (`mosaic.http.routing.route_for`), so routes without auth pay nothing for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from mosaic.commands.use_cases import UseCases
from mosaic.config import Settings
from mosaic.http.auth import Authenticator
from mosaic.http.balances import BalanceCache
from mosaic.http.errors import http_exception_handler
from mosaic.http.middleware import RequestIdMiddleware
from mosaic.http.ratelimit import RateLimits
from mosaic.http.routes import all_endpoints
from mosaic.http.routing import HttpContext, route_for
from mosaic.http.web.routes import web_routes


def create_app(
    use_cases: UseCases,
    settings: Settings,
    *,
    rate_limits: RateLimits | None = None,
    on_shutdown: Callable[[], None] | None = None,
) -> Starlette:
    """The app. `rate_limits` defaults to the settings' storage and policies (tests pass their own);
    `on_shutdown` runs after the lifespan's background work has stopped (the server closes its
    services there)."""
    limits = rate_limits or RateLimits(
        settings.ratelimit_storage, api=settings.ratelimit_api, login=settings.ratelimit_login
    )
    http = HttpContext(
        use_cases=use_cases,
        auth=Authenticator(use_cases.owners, secret=settings.secret, token_ttl_s=settings.jwt_ttl_s),
        limits=limits,
        balances=BalanceCache(use_cases.runner),
        endpoints=all_endpoints(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with use_cases.background.running():
            yield
        if on_shutdown is not None:
            on_shutdown()

    app = Starlette(
        routes=[*(route_for(endpoint, http) for endpoint in http.endpoints), *web_routes(http, settings)],
        middleware=[Middleware(RequestIdMiddleware, access_log_on=settings.access_log)],
        exception_handlers={HTTPException: http_exception_handler},
        lifespan=lifespan,
    )
    app.state.http = http
    return app
