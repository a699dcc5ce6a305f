"""The one list of route modules: the app mounts, and OpenAPI describes, exactly these endpoints.

A new family of routes is a module with an `ENDPOINTS` list, added to `ROUTE_MODULES`.
"""

from __future__ import annotations

from types import ModuleType

from mosaic.http.routes import admin, ai, audit, auth, billing, bulk, credits, generate, keys, meta, page
from mosaic.http.routing import Endpoint

ROUTE_MODULES: tuple[ModuleType, ...] = (
    auth, credits, keys, billing, meta, admin, audit, ai, generate, bulk, page,
)


def all_endpoints() -> list[Endpoint]:
    endpoints: list[Endpoint] = []
    for module in ROUTE_MODULES:
        endpoints.extend(module.ENDPOINTS)
    seen = {(e.method, e.path) for e in endpoints}
    assert len(seen) == len(endpoints), "two endpoints share a method and path"
    return endpoints
