"""Health, presets and the OpenAPI document, which describes every route the app serves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from starlette.routing import Route

from mosaic.bootstrap import Services
from tests.http.conftest import AppClient


def test_the_openapi_document_describes_every_route_but_the_web_pages(client: AppClient) -> None:
    from mosaic.http.web.routes import all_pages

    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    served = {
        (method, route.path)
        for route in client.app.routes
        if isinstance(route, Route)
        for method in (route.methods or ())
        if method != "HEAD"
    }
    described = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    pages = {(page.method, page.path) for page in all_pages()}
    assert served == described | pages and not described & pages
    assert len(served) >= 9
    components = document["components"]["schemas"]
    assert {"BalanceBody", "CreatedKeyBody", "ErrorBody", "CreateKeyRequest"} <= set(components)
    balance = document["paths"]["/api/credits/balance"]["get"]
    assert balance["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BalanceBody"
    }
    assert "402" not in balance["responses"] and "403" in balance["responses"]
    assert document["paths"]["/api/keys"]["post"]["security"] == [{"jwt": []}]


def test_health_says_the_process_is_alive(client: AppClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


class _DownDatabase:
    @contextmanager
    def read(self) -> Iterator[None]:
        raise ConnectionError("connection refused")
        yield


def test_a_database_that_does_not_answer_leaves_the_process_alive_but_not_ready(
    services: Services, make_client: Callable[..., AppClient]
) -> None:
    client = make_client(services)
    health = services.use_cases.health
    real = health.db
    health.db = _DownDatabase()  # type: ignore[assignment]
    try:
        alive, ready = client.get("/healthz"), client.get("/readyz")
    finally:
        health.db = real
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "database_unavailable"
    assert ready.headers["retry-after"] == "1"


def test_presets_are_the_imaging_catalogue_or_empty(client: AppClient) -> None:
    response = client.get("/api/presets")
    assert response.status_code == 200
    try:
        from mosaic.imaging.presets import presets_catalogue
    except ImportError:
        assert response.json() == []
    else:
        assert response.json() == presets_catalogue()


def test_ready_when_the_database_answers_its_schema_is_current_and_the_views_are_caught_up(
    services: Services, client: AppClient
) -> None:
    from mosaic.commands.schema import head_revision

    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready", "database": "ok", "schema_revision": head_revision(), "views_lag_events": 0
    }


def test_not_ready_names_the_check_that_fails(services: Services, client: AppClient) -> None:
    from mosaic.queries.health import VIEWS_LAG_EVENTS_MAX, Health

    health = services.use_cases.health
    cases = {
        "schema_out_of_date": Health(health.db, schema_revision="0000", log_head=lambda: 0, views_position=lambda: 0),
        "views_lagging": Health(
            health.db, schema_revision=health.schema_revision, log_head=lambda: VIEWS_LAG_EVENTS_MAX + 1,
            views_position=lambda: 0,
        ),
        "database_unavailable": Health(
            _DownDatabase(), schema_revision=health.schema_revision, log_head=lambda: 0, views_position=lambda: 0  # type: ignore[arg-type]
        ),
    }
    for code, broken in cases.items():
        object.__setattr__(services.use_cases, "health", broken)
        response = client.get("/readyz")
        assert response.status_code == 503, code
        assert response.json()["error"]["code"] == code
        assert response.headers["retry-after"] == "1"
    object.__setattr__(services.use_cases, "health", health)
    assert client.get("/readyz").status_code == 200
