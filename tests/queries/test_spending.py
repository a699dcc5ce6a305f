"""The dashboard's periods and credits spent per day."""

from __future__ import annotations

from datetime import date

from mosaic.queries.spending import Period, periods, spent_by_day
from mosaic.queries.views import StatementLine


def _line(at: str, kind: str, delta: int) -> StatementLine:
    return StatementLine(1, 1, at, kind, None, "cbn", delta, 0, None, None)


def test_without_a_subscription_the_periods_are_calendar_months() -> None:
    current, previous = periods(date(2026, 1, 15), None)
    assert current == Period(date(2026, 1, 1), date(2026, 2, 1))
    assert previous == Period(date(2025, 12, 1), date(2026, 1, 1))


def test_a_subscriptions_period_ends_at_its_renewal() -> None:
    current, previous = periods(date(2026, 12, 3), "2026-12-29T05:33:20+00:00")
    assert current == Period(date(2026, 11, 29), date(2026, 12, 29))
    assert previous == Period(date(2026, 10, 29), date(2026, 11, 29))


def test_a_renewal_date_long_past_falls_back_to_the_calendar_month() -> None:
    current, _ = periods(date(2027, 3, 10), "2026-12-29T05:33:20+00:00")
    assert current == Period(date(2027, 3, 1), date(2027, 4, 1))


def test_spent_counts_reservations_less_releases_and_refunds_on_their_days_and_nothing_else() -> None:
    period = Period(date(2026, 1, 1), date(2026, 1, 4))
    lines = [
        _line("2026-01-01T09:00:00+00:00", "monthly_grant", 800),
        _line("2026-01-01T10:00:00+00:00", "reserve", -3),
        _line("2026-01-01T10:00:01+00:00", "capture", 0),
        _line("2026-01-02T10:00:00+00:00", "reserve", -1),
        _line("2026-01-02T10:00:01+00:00", "release", 1),
        _line("2026-01-03T23:59:59+00:00", "refund", 2),
        _line("2026-01-04T00:00:00+00:00", "reserve", -5),  # the next period
        _line("2025-12-31T23:59:59+00:00", "reserve", -7),  # the last one
    ]
    assert spent_by_day(lines, period) == [3, 0, -2]
