"""The dashboard's chart, drawn here as SVG: cumulative credits spent by day of the period, the
current period against the previous one. Presentation attributes only (no `style`), so the page's
policy (`style-src 'self'`) holds; every number is also in the table beside it."""

from __future__ import annotations

from itertools import accumulate
from typing import Final

from markupsafe import Markup

from mosaic.queries.spending import Usage

WIDTH: Final = 640
HEIGHT: Final = 260
LEFT, RIGHT, TOP, BOTTOM = 48, 36, 16, 36


def _nice_ceiling(value: int) -> int:
    if value <= 10:
        return 10  # the axis reads 0, 5, 10 until more is spent
    magnitude = int(10 ** (len(str(value)) - 1))
    return next(step * magnitude for step in (1, 2, 5, 10) if value <= step * magnitude)


def _points(cumulative: list[int], days: int, top: int) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max(days - 1, 1)
    return " ".join(
        f"{LEFT + plot_w * i / span:.1f},{TOP + plot_h * (1 - value / top):.1f}"
        for i, value in enumerate(cumulative)
    )


def usage_chart(usage: Usage, *, today_index: int) -> Markup:
    """An SVG of `usage`; the current period's line stops at today (`today_index`, 0-based)."""
    current = list(accumulate(usage.current_by_day))[: today_index + 1]
    previous = list(accumulate(usage.previous_by_day))
    days = max(usage.current.days, usage.previous.days)
    top = _nice_ceiling(max([*current, *previous, 0]))
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg" focusable="false">',
        '<title id="chart-title">Credits spent, this period and the last</title>',
        f'<desc id="chart-desc">{usage.current_total} credits spent since {usage.current.start.isoformat()}; '
        f'{usage.previous_total} in the previous period. The table below holds every day.</desc>',
    ]
    for fraction in (0, 0.5, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c8ccd4" '
                     'stroke-width="1"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#30343c">'
                     f'{round(top * fraction)}</text>')
    plot_w = WIDTH - LEFT - RIGHT
    for day in sorted({1, (days + 1) // 2, days}):
        x = LEFT + plot_w * (day - 1) / max(days - 1, 1)
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="12" '
                     f'fill="#30343c">day {day}</text>')
    if previous:
        parts.append(f'<polyline points="{_points(previous, days, top)}" fill="none" stroke="#6b7280" '
                     'stroke-width="2" stroke-dasharray="6 4"/>')
    if current:
        parts.append(f'<polyline points="{_points(current, days, top)}" fill="none" stroke="#1d4ed8" '
                     'stroke-width="3"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


