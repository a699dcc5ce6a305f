"""The statement: every credit event with its running balance, filtered by kind, tool and date,
paged, and the same lines as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from functools import partial
from typing import Final
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mosaic.http.errors import BadRequest
from mosaic.http.web.pages import PageCall, PageRoute
from mosaic.queries.views import STATEMENT_PAGE_MAX, StatementLine, StatementSearch

PAGE_LINES: Final = 50
KINDS: Final = (
    "monthly_grant", "reserve", "capture", "release", "refund", "goodwill_grant", "expiry", "pack",
    "pack_refund", "payment",
)
TOOLS: Final = ("hex", "voronoi", "cbn", "lineart", "ai", "ai-image")
CSV_COLUMNS: Final = ("line", "at", "kind", "tool", "reference", "delta_credits", "balance_after", "reason")


def _date(call: PageCall, name: str) -> date | None:
    raw = call.request.query_params.get(name, "")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("invalid_query", f"{name}: {raw[:32]!r} is not a date (YYYY-MM-DD)") from None


def _search(call: PageCall) -> tuple[StatementSearch, dict[str, str]]:
    query = call.request.query_params
    kind, tool = query.get("kind", ""), query.get("tool", "")
    if kind and kind not in KINDS:
        raise BadRequest("invalid_query", f"kind: {kind[:32]!r} is not one of {', '.join(KINDS)}")
    if tool and tool not in TOOLS:
        raise BadRequest("invalid_query", f"tool: {tool[:32]!r} is not one of {', '.join(TOOLS)}")
    since, until = _date(call, "since"), _date(call, "until")
    search = StatementSearch(
        kind=kind, tool=tool, since=since.isoformat() if since else "",
        before=(until + timedelta(days=1)).isoformat() if until else "",
    )
    chosen = {"kind": kind, "tool": tool, "since": since.isoformat() if since else "",
              "until": until.isoformat() if until else ""}
    return search, chosen


async def statement(call: PageCall) -> Response:
    search, chosen = _search(call)
    raw_page = call.request.query_params.get("page", "1")
    page = int(raw_page) if raw_page.isdigit() and 0 < int(raw_page) < 10**6 else 1
    lines, total = await run_in_threadpool(
        partial(call.http.use_cases.views.statement_search, call.who.account_id, search,
                offset=(page - 1) * PAGE_LINES, limit=PAGE_LINES)
    )
    filters = {k: v for k, v in chosen.items() if v}
    pages = max(1, -(-total // PAGE_LINES))
    return call.render(
        "statement.html", lines=lines, total=total, page=page, pages=pages, chosen=chosen,
        kinds=KINDS, tools=TOOLS, query=urlencode(filters), csv_query=urlencode(filters),
    )


def _csv(lines: list[StatementLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow([line.line, line.at, line.kind, line.tool or "", line.reference or "",
                         line.delta_credits, line.balance_after, line.reason or ""])
    return out.getvalue()


async def statement_csv(call: PageCall) -> Response:
    search, _ = _search(call)
    views = call.http.use_cases.views
    lines: list[StatementLine] = []
    while True:
        page, total = await run_in_threadpool(
            partial(views.statement_search, call.who.account_id, search,
                    offset=len(lines), limit=STATEMENT_PAGE_MAX)
        )
        lines += page
        if not page or len(lines) >= total:
            break
    headers = {"Content-Disposition": 'attachment; filename="statement.csv"', "Cache-Control": "no-store"}
    return Response(_csv(lines), media_type="text/csv; charset=utf-8", headers=headers)


ROUTES = [
    PageRoute("GET", "/statement", statement),
    PageRoute("GET", "/statement.csv", statement_csv),
]
