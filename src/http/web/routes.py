"""Every page, mounted once by the app."""

from __future__ import annotations

from starlette.routing import Route

from mosaic.config import Settings
from mosaic.http.routing import HttpContext
from mosaic.http.web import account, dashboard, docs, keys, mail, playground, statement
from mosaic.http.web.pages import PageRoute, Web, page_routes
from mosaic.http.web.session import Csrf

PAGE_MODULES = (account, mail, dashboard, keys, statement, playground, docs)


def all_pages() -> list[PageRoute]:
    return [route for module in PAGE_MODULES for route in module.ROUTES]


def web_routes(http: HttpContext, settings: Settings) -> list[Route]:
    web = Web(
        http=http, csrf=Csrf(settings.secret), public_url=settings.public_url.rstrip("/"),
        billing_configured=settings.billing_configured, ai_configured=bool(settings.ai_base_url),
    )
    return page_routes(web, all_pages())
