"""A small server-rendered SVG line chart of a petition's signatures over time.

No JavaScript and no library: the chart is a string of SVG that a page embeds inline. It is
accessible (`role="img"` labelled by its `<title>` and a `<desc>` that says in words what the
line shows) and stays readable from a single day to years of data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 52
MAX_X_LABELS = 5
Y_TICKS = 4
MARKERS_UP_TO = 31  # days; beyond this, dots would blur into the line


def _num(n: float) -> str:
    return f"{n:,.0f}"


def _coord(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _day(d: date, *, with_year: bool) -> str:
    return f"{d.day} {d:%b %Y}" if with_year else f"{d.day} {d:%b}"


def nice_step(top: float, ticks: int = Y_TICKS) -> int:
    """A round step (1, 2, 2.5, 5 × 10ⁿ, at least 1) so `ticks` steps reach `top`."""
    raw = max(top / ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw and float(step).is_integer():
            return int(step)
    return int(10 * magnitude)


def cumulative(daily: Sequence[tuple[date, int]], start: int = 0) -> list[int]:
    running, out = start, []
    for _, n in daily:
        running += n
        out.append(running)
    return out


def describe(daily: Sequence[tuple[date, int]], start: int = 0) -> str:
    """The chart in words, for screen readers and for anyone the picture does not reach."""
    if not daily or (not start and not any(n for _, n in daily)):
        return "No signatures yet."
    totals = cumulative(daily, start)
    first, last = daily[0][0], daily[-1][0]
    busiest_day, busiest = max(daily, key=lambda pair: (pair[1], pair[0]))
    span = (
        f"on {_day(first, with_year=True)}"
        if first == last
        else f"from {_day(first, with_year=True)} to {_day(last, with_year=True)}"
    )
    text = f"{_num(totals[-1])} signatures in all, counted {span}."
    if first != last and busiest:
        text += f" The busiest day was {_day(busiest_day, with_year=True)} with {_num(busiest)}."
    return text


def signature_chart(
    daily: Sequence[tuple[date, int]],
    *,
    title: str = "Signatures over time",
    goal: int | None = None,
    start: int = 0,
    chart_id: str = "growth",
) -> str:
    """SVG markup for the cumulative signatures by day. `daily` is one (day, new signatures)
    pair per consecutive day, oldest first; `start` is a count from before the first day."""
    totals = cumulative(daily, start)
    peak = totals[-1] if totals else 0
    top = max(peak, 1)
    if goal and goal <= peak * 1.25:
        top = max(top, goal)  # show the goal line when it is (nearly) in reach
    step = nice_step(top)
    y_max = step * math.ceil(top / step)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(totals)

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * v / y_max

    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="sans-serif" font-size="12">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<desc id="{desc_id}">{escape(describe(daily, start))}</desc>',
    ]
    # Horizontal grid lines with their values.
    for k in range(int(y_max // step) + 1):
        value = k * step
        gy = _coord(y(value))
        parts.append(
            f'<line x1="{LEFT}" y1="{gy}" x2="{WIDTH - RIGHT}" y2="{gy}" stroke="#dde3ea" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{gy}" text-anchor="end" dominant-baseline="middle" '
            f'fill="#555">{_num(value)}</text>'
        )
    # Axes and their labels.
    base = _coord(y(0))
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#555" stroke-width="1"/>'
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#555" stroke-width="1"/>'
    )
    middle_y = _coord(TOP + plot_h / 2)
    parts.append(
        f'<text x="14" y="{middle_y}" text-anchor="middle" fill="#1b1b1b" '
        f'transform="rotate(-90 14 {middle_y})">Signatures (total)</text>'
    )
    parts.append(
        f'<text x="{_coord(LEFT + plot_w / 2)}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'fill="#1b1b1b">Date (UTC)</text>'
    )
    if n:
        with_year = daily[0][0].year != daily[-1][0].year or n == 1
        label_count = min(n, MAX_X_LABELS)
        indexes = sorted(
            {round(j * (n - 1) / (label_count - 1)) for j in range(label_count)} if n > 1 else {0}
        )
        for i in indexes:
            anchor = "middle" if n == 1 or 0 < i < n - 1 else ("start" if i == 0 else "end")
            edge = i in (0, n - 1)
            parts.append(
                f'<text x="{_coord(x(i))}" y="{_coord(TOP + plot_h + 18)}" text-anchor="{anchor}" '
                f'fill="#555">{escape(_day(daily[i][0], with_year=with_year or edge))}</text>'
            )
    if goal and goal <= y_max:
        gy = _coord(y(goal))
        parts.append(
            f'<line x1="{LEFT}" y1="{gy}" x2="{WIDTH - RIGHT}" y2="{gy}" stroke="#a4262c" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - RIGHT}" y="{_coord(y(goal) - 5)}" text-anchor="end" fill="#a4262c">'
            f"Goal {_num(goal)}</text>"
        )
    if n == 1:
        parts.append(f'<circle cx="{_coord(x(0))}" cy="{_coord(y(totals[0]))}" r="4" fill="#2e7d32"/>')
    elif n > 1:
        line = " ".join(f"{_coord(x(i))},{_coord(y(v))}" for i, v in enumerate(totals))
        parts.append(
            f'<polygon points="{_coord(x(0))},{base} {line} {_coord(x(n - 1))},{base}" '
            f'fill="#2e7d32" fill-opacity="0.12"/>'
        )
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="#2e7d32" stroke-width="2" '
            f'stroke-linejoin="round"/>'
        )
        if n <= MARKERS_UP_TO:
            parts.extend(
                f'<circle cx="{_coord(x(i))}" cy="{_coord(y(v))}" r="2.5" fill="#2e7d32"/>'
                for i, v in enumerate(totals)
            )
    if not peak:
        parts.append(
            f'<text x="{_coord(LEFT + plot_w / 2)}" y="{_coord(TOP + plot_h / 2)}" text-anchor="middle" '
            f'fill="#555">No signatures yet</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
