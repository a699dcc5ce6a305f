"""`create_app(services)`: the Starlette application over one `Services`.

Thin by design: each route parses its input, calls one command or query, and encodes the answer.
The only middleware is the pure-ASGI request-id layer; auth and rate limits run inside the route
wrapper (`mosaic.http.routing.route_for`), so routes without auth pay nothing for them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware

from mosaic.bootstrap import Services
from mosaic.commands.generation import JOB_TIMEOUT_S, Generations
from mosaic.commands.paid import Payments
from mosaic.config import WORK_SHARE_OF_RESERVATION
from mosaic.http.auth import Authenticator
from mosaic.http.balances import BalanceCache
from mosaic.http.errors import http_exception_handler
from mosaic.http.lifecycle import running
from mosaic.http.middleware import RequestIdMiddleware
from mosaic.http.ratelimit import RateLimits
from mosaic.http.routes import all_endpoints
from mosaic.http.routing import HttpContext, route_for
from mosaic.idempotency import IdempotencyStore


def create_app(
    services: Services,
    *,
    rate_limits: RateLimits | None = None,
    close_services_on_shutdown: bool = False,
    generations: Generations | None = None,
) -> Starlette:
    """The app. `rate_limits` defaults to the settings' storage and policies (tests pass their own);
    `generations` to a pool of `settings.workers` processes, started lazily or by the lifespan."""
    settings = services.settings
    limits = rate_limits or RateLimits(
        settings.ratelimit_storage, api=settings.ratelimit_api, login=settings.ratelimit_login
    )
    work_budget_s = WORK_SHARE_OF_RESERVATION * settings.reservation_timeout_s
    http = HttpContext(
        services=services,
        auth=Authenticator(services),
        limits=limits,
        balances=BalanceCache(services.runner),
        generations=generations
        or Generations(
            workers=settings.workers,
            # a job must give up well before the sweeper would release its reservation under it
            job_timeout_s=min(JOB_TIMEOUT_S, work_budget_s),
        ),
        idempotency=IdempotencyStore(services.db),
        payments=Payments(services.ledger, work_budget_s=work_budget_s),
    )
    http.endpoints = all_endpoints()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(services, http.generations, http.idempotency):
            yield
        if close_services_on_shutdown:
            services.close()

    app = Starlette(
        routes=[route_for(endpoint, http) for endpoint in http.endpoints],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={HTTPException: http_exception_handler},
        lifespan=lifespan,
    )
    app.state.http = http
    return app
