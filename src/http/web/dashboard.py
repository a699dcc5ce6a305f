"""The dashboard (balance, plan, subscription, renewal, the chart of credits spent) and the pricing
pages: the catalogue, Stripe Checkout and the portal, and the pages Stripe returns to."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.domain.errors import NotFound
from mosaic.domain.plans import Interval
from mosaic.http.web.chart import usage_chart
from mosaic.http.web.pages import PageCall, PageRoute
from mosaic.queries.spending import usage


async def dashboard(call: PageCall) -> Response:
    views = call.http.use_cases.views
    account_id = call.who.account_id
    balance = await run_in_threadpool(views.balance, account_id)
    if balance is None:
        raise NotFound("this account has no balance yet")
    billing = await run_in_threadpool(views.billing, account_id)
    user = await run_in_threadpool(views.user, call.who.user_id)
    today = datetime.now(UTC).date()
    found = await run_in_threadpool(
        partial(usage, views, account_id, today=today, renews_at=billing.period_ends_at or None)
    )
    return call.render(
        "dashboard.html", balance=balance, renews_at=billing.period_ends_at[:10] or None, usage=found,
        chart=usage_chart(found, today_index=(today - found.current.start).days),
        welcome="welcome" in call.request.query_params, resent="resent" in call.request.query_params,
        email_verified=user is not None and user.email_verified,
    )


async def pricing(call: PageCall) -> Response:
    overview = await run_in_threadpool(
        partial(call.http.use_cases.billing.overview, account_id=call.who.account_id)
    )
    return call.render("pricing.html", overview=overview)


async def checkout(call: PageCall) -> Response:
    fields = call.fields
    interval: Interval = "year" if fields.get("interval") == "year" else "month"
    url = await run_in_threadpool(
        partial(
            call.http.use_cases.billing.checkout, account_id=call.who.account_id,
            plan=fields.get("plan") or None, pack=fields.get("pack") or None, interval=interval,
        )
    )
    return call.render("leaving.html", url=url, where="Stripe Checkout")


async def portal(call: PageCall) -> Response:
    url = await run_in_threadpool(partial(call.http.use_cases.billing.portal, account_id=call.who.account_id))
    return call.render("leaving.html", url=url, where="Stripe's billing portal")


async def returned(call: PageCall) -> Response:
    paid = call.request.url.path.endswith("/success")
    return call.render("returned.html", paid=paid)


async def billing_home(call: PageCall) -> Response:
    return call.redirect("/dashboard")


ROUTES = [
    PageRoute("GET", "/dashboard", dashboard),
    PageRoute("GET", "/pricing", pricing),
    PageRoute("POST", "/pricing/checkout", checkout),
    PageRoute("POST", "/billing/portal", portal),
    PageRoute("GET", "/billing/success", returned),
    PageRoute("GET", "/billing/cancel", returned),
    PageRoute("GET", "/billing", billing_home),
]
