"""The campaign burn-down as an SVG drawn on the server: no script, no CDN, no font files.

Remaining pairs per day from the stored snapshots and today's live figure (solid), the
ideal line from the start to zero at the deadline (grey), the projection at the current
rate (dashed) and the deadline (red). Every text is escaped; the numbers are computed.
"""

from datetime import date, timedelta
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 40


def _series(progress: dict) -> list[tuple[date, int]]:
    points = {s["day"]: s["remaining"] for s in progress["snapshots"]}
    points[progress["as_of"]] = progress["remaining"]
    return sorted(points.items())


def _x_range(progress: dict, series) -> tuple[date, date]:
    campaign = progress["campaign"]
    start = min(campaign["starts_on"], series[0][0])
    end = max(campaign["deadline"], progress["as_of"])
    finish = progress["projection"]["finish"]
    span = (end - start).days or 1
    if finish and finish > end:
        # A far projection is cut at twice the campaign's span so the history stays legible.
        end = min(finish, start + timedelta(days=2 * span))
    return start, end if end > start else start + timedelta(days=1)


def burndown_svg(progress: dict) -> str:
    """An SVG document (text) of the campaign's burn-down."""
    series = _series(progress)
    start, end = _x_range(progress, series)
    top = max([progress["total"], 1, *(s["total"] for s in progress["snapshots"])])
    span = (end - start).days
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: date) -> float:
        days = min(max((day - start).days, 0), span)
        return round(LEFT + plot_w * days / span, 1)

    def y(value: float) -> float:
        return round(TOP + plot_h * (1 - value / top), 1)

    campaign = progress["campaign"]
    first_total = progress["snapshots"][0]["total"] if progress["snapshots"] else progress["total"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" font-family="sans-serif" font-size="11">',
        f"<title>Burn-down of {escape(campaign['name'])}: {progress['remaining']} of "
        f"{progress['total']} pairs remaining on {progress['as_of']:%Y-%m-%d}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
        'stroke="#ccc"/>',
        # Ideal: from the total at the start to nothing left at the deadline.
        f'<line class="ideal" x1="{x(campaign["starts_on"])}" y1="{y(first_total)}" '
        f'x2="{x(campaign["deadline"])}" y2="{y(0)}" stroke="#999" stroke-width="1.5"/>',
        f'<line class="deadline" x1="{x(campaign["deadline"])}" y1="{TOP}" '
        f'x2="{x(campaign["deadline"])}" y2="{TOP + plot_h}" stroke="#c0392b" '
        'stroke-dasharray="2 3"/>',
    ]
    finish = progress["projection"]["finish"]
    if finish and progress["remaining"]:
        parts.append(
            f'<line class="projection" x1="{x(progress["as_of"])}" '
            f'y1="{y(progress["remaining"])}" x2="{x(finish)}" y2="{y(0)}" '
            'stroke="#2471a3" stroke-width="1.5" stroke-dasharray="6 4"/>'
        )
    points = " ".join(f"{x(day)},{y(value)}" for day, value in series)
    parts.append(
        f'<polyline class="remaining" points="{points}" fill="none" stroke="#1e8449" '
        'stroke-width="2"/>'
    )
    parts += [
        f'<circle cx="{x(day)}" cy="{y(value)}" r="2.5" fill="#1e8449"/>' for day, value in series
    ]
    parts += _axes(start, end, top, x, y, campaign["deadline"])
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(start, end, top, x, y, deadline) -> list[str]:
    base = HEIGHT - BOTTOM
    # A deadline label near the right edge is right-aligned so it is never cut off.
    anchor = "end" if x(deadline) > WIDTH - RIGHT - 60 else "middle"
    labels = [
        f'<text x="{LEFT - 6}" y="{y(top) + 4}" text-anchor="end">{top:,}</text>',
        f'<text x="{LEFT - 6}" y="{y(0) + 4}" text-anchor="end">0</text>',
        f'<text x="{x(start)}" y="{base + 16}" text-anchor="start">{start:%Y-%m-%d}</text>',
        f'<text x="{x(end)}" y="{base + 16}" text-anchor="end">{end:%Y-%m-%d}</text>',
        f'<text x="{x(deadline)}" y="{base + 30}" text-anchor="{anchor}" fill="#c0392b">'
        f"deadline {deadline:%Y-%m-%d}</text>",
        f'<text x="14" y="{TOP + 10}" transform="rotate(-90 14 {TOP + 10})" '
        'text-anchor="end">pairs remaining</text>',
    ]
    return labels
