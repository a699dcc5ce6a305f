"""Credits spent per day over the current and the previous period, for the dashboard's chart.

A period is the paid subscription's (ending at its renewal date) or else the calendar month (UTC),
as the quota grants are. Spent credits are what reservations took less what was released or refunded:
a charge counts on the day it was reserved, its release or refund on the day that happened.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mosaic.queries.views import STATEMENT_PAGE_MAX, StatementLine, StatementSearch, Views

SPENDING_KINDS = ("reserve", "release", "refund")


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # exclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True, slots=True)
class Usage:
    current: Period
    previous: Period
    current_by_day: list[int]  # credits spent on each day of the current period (index 0: its first day)
    previous_by_day: list[int]

    @property
    def current_total(self) -> int:
        return sum(self.current_by_day)

    @property
    def previous_total(self) -> int:
        return sum(self.previous_by_day)


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _months_before(day: date, months: int) -> date:
    month = day.month - 1 - months
    year = day.year + month // 12
    month = month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def periods(today: date, renews_at: str | None) -> tuple[Period, Period]:
    """The current and the previous period on `today`."""
    if renews_at:
        end = datetime.fromisoformat(renews_at).astimezone(UTC).date()
        start = _months_before(end, 1)
        if start <= today < end:
            return Period(start, end), Period(_months_before(start, 1), start)
    start = _month_start(today)
    end = _month_start(start + timedelta(days=32))
    previous = _month_start(start - timedelta(days=1))
    return Period(start, end), Period(previous, start)


def spent_by_day(lines: Iterable[StatementLine], period: Period) -> list[int]:
    days = [0] * period.days
    for line in lines:
        if line.kind not in SPENDING_KINDS:
            continue
        day = datetime.fromisoformat(line.at).astimezone(UTC).date()
        if period.start <= day < period.end:
            days[(day - period.start).days] -= line.delta_credits
    return days


def _lines_between(views: Views, account_id: str, period: Period) -> list[StatementLine]:
    search = StatementSearch(since=period.start.isoformat(), before=period.end.isoformat())
    found: list[StatementLine] = []
    while True:
        page, total = views.statement_search(account_id, search, offset=len(found), limit=STATEMENT_PAGE_MAX)
        found += page
        if not page or len(found) >= total:
            return found


def usage(views: Views, account_id: str, *, today: date, renews_at: str | None) -> Usage:
    current, previous = periods(today, renews_at)
    lines = _lines_between(views, account_id, Period(previous.start, current.end))
    return Usage(current, previous, spent_by_day(lines, current), spent_by_day(lines, previous))
