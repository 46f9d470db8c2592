"""Pictures the portal draws on the server as inline SVG: the proof-of-play chart and the
24-hour timeline of a screen.

Pure functions over plain data, no web framework: they are tested on their own, and inline
SVG needs no script, so the page stays readable with JavaScript off and under a strict CSP.
Every label passes through :func:`xml.sax.saxutils.escape`: campaign names are user text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

# One colour per series or slot kind; chosen for contrast against white and each other.
PALETTE: tuple[str, ...] = ("#1f5fa8", "#d9730d", "#2e7d32", "#8e24aa", "#c62828", "#00796b")
KIND_COLOURS: dict[str, str] = {
    "announcement": "#1f5fa8",
    "campaign": "#d9730d",
    "filler": "#9e9e9e",
    "emergency": "#c62828",
    "off": "#ffffff",
}


@dataclass(frozen=True)
class ChartSeries:
    """One stacked series: a label (e.g. a screen class) and its value per category (day)."""

    label: str
    values: Mapping[str, float]


def _nice_ceiling(value: float) -> float:
    """The smallest 1/2/5 x 10^n at or above ``value``, so the axis reads well."""
    if value <= 0:
        return 1.0
    magnitude = 1.0
    while magnitude * 10 <= value:
        magnitude *= 10
    while magnitude > value:
        magnitude /= 10
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def axis_ticks(top: float, *, whole: bool, most: int = 5) -> list[float]:
    """Evenly spaced tick values from 0 to at least ``top``; counts (``whole``) get whole numbers only."""
    top = max(top, 1.0 if whole else top)
    if not whole:
        ceiling = _nice_ceiling(top)
        return [ceiling * i / (most - 1) for i in range(most)]
    step = 1
    while top / step > most - 1:
        step = next(s for s in _steps() if s > step)
    last = int(-(-top // step)) * step
    return [float(v) for v in range(0, last + 1, step)]


def _steps() -> Iterator[int]:
    """1, 2, 5, 10, 20, 50, ...: the whole-number tick steps that read well."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            yield step * magnitude
        magnitude *= 10


def stacked_bar_chart(
    categories: Sequence[str],
    series: Sequence[ChartSeries],
    *,
    title: str,
    width: int = 720,
    height: int = 280,
    whole: bool = True,
) -> str:
    """A stacked bar chart (one bar per category, one colour per series) as an SVG string.

    ``whole``: the values are counts, so the axis shows whole numbers only (no "1.5 plays")."""
    left, right, top, bottom = 48, 12, 16, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s.values.get(c, 0) for s in series) for c in categories]
    ticks = axis_ticks(max(totals, default=0), whole=whole)
    top_value = ticks[-1]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
    ]
    for value in ticks:  # grid lines and axis labels
        y = top + plot_h - plot_h * value / top_value
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{value:g}</text>')
    slot_w = plot_w / max(len(categories), 1)
    bar_w = max(min(slot_w * 0.7, 48), 2)
    for ci, category in enumerate(categories):
        x = left + slot_w * ci + (slot_w - bar_w) / 2
        y = float(top + plot_h)
        for si, s in enumerate(series):
            value = s.values.get(category, 0)
            if value <= 0:
                continue
            h = plot_h * value / top_value
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[si % len(PALETTE)]}" class="bar">'
                f"<title>{escape(category)} · {escape(s.label)}: {value:g}</title></rect>"
            )
        label_x = x + bar_w / 2
        out.append(
            f'<text x="{label_x:.1f}" y="{top + plot_h + 14}" text-anchor="end" class="axis" '
            f'transform="rotate(-35 {label_x:.1f} {top + plot_h + 14})">{escape(category)}</text>'
        )
    legend_y = height - 10
    for si, s in enumerate(series):
        lx = left + si * 150
        out.append(
            f'<rect x="{lx}" y="{legend_y - 10}" width="12" height="12" fill="{PALETTE[si % len(PALETTE)]}"/>'
        )
        out.append(f'<text x="{lx + 16}" y="{legend_y}" class="legend">{escape(s.label)}</text>')
    out.append("</svg>")
    return "".join(out)


@dataclass(frozen=True)
class TimelineBlock:
    """A run of the timeline: [start, end) in any time zone, what kind, and a hover label."""

    start: dt.datetime
    end: dt.datetime
    kind: str  # announcement | campaign | filler | emergency
    label: str


def merge_blocks(blocks: Sequence[TimelineBlock]) -> list[TimelineBlock]:
    """Join touching blocks of the same kind so a day of 10-second slots stays a light picture."""
    merged: list[TimelineBlock] = []
    for b in sorted(blocks, key=lambda b: b.start):
        last = merged[-1] if merged else None
        if last is not None and last.kind == b.kind and last.end >= b.start:
            labels = last.label if b.label in last.label.split(" · ") else f"{last.label} · {b.label}"
            if len(labels) > 200:
                labels = last.label
            merged[-1] = TimelineBlock(last.start, max(last.end, b.end), last.kind, labels)
        else:
            merged.append(b)
    return merged


@dataclass(frozen=True)
class HourSummary:
    """One hour of the timeline in words: its local start, the share of each kind, what plays."""

    label: str
    shares: dict[str, float]  # kind -> fraction of the hour
    names: tuple[str, ...]  # the first few things playing, in order


@dataclass(frozen=True)
class TimelineSummary:
    """The picture's text alternative: shares of the whole window and hour by hour."""

    shares: dict[str, float]
    hours: tuple[HourSummary, ...]


KINDS = ("announcement", "campaign", "filler", "emergency")


def timeline_legend(kind_labels: Mapping[str, str]) -> list[tuple[str, str]]:
    """(swatch picture, name) of each kind the timeline draws, for the page's legend below it (a
    picture's fill, not an inline style, which the portal's CSP forbids)."""
    return [
        (
            f'<svg class="swatch" width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">'
            f'<rect x="0.5" y="0.5" width="13" height="13" rx="2" fill="{KIND_COLOURS[kind]}" '
            f'stroke="#8c959f"/></svg>',
            kind_labels.get(kind, kind),
        )
        for kind in KINDS
    ]


def summarise(
    blocks: Sequence[TimelineBlock],
    *,
    start: dt.datetime,
    tz: dt.tzinfo,
    hours: int = 24,
    names_per_hour: int = 3,
) -> TimelineSummary:
    """What the timeline says, for people who do not see the picture (and everyone who wants it in words)."""
    origin = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    rows: list[HourSummary] = []
    totals = dict.fromkeys(KINDS, 0.0)
    for h in range(hours):
        h_start, h_end = origin + dt.timedelta(hours=h), origin + dt.timedelta(hours=h + 1)
        seconds = dict.fromkeys(KINDS, 0.0)
        names: list[str] = []
        for b in blocks:
            overlap = (min(b.end, h_end) - max(b.start, h_start)).total_seconds()
            if overlap <= 0 or b.kind not in seconds:
                continue
            seconds[b.kind] += overlap
            if b.label and b.label not in names:
                names.append(b.label)
        for kind in KINDS:
            totals[kind] += seconds[kind]
        rows.append(
            HourSummary(
                h_start.strftime("%m-%d %H:00"),
                {k: v / 3600 for k, v in seconds.items()},
                tuple(names[:names_per_hour]),
            )
        )
    return TimelineSummary({k: v / (3600 * hours) for k, v in totals.items()}, tuple(rows))


def timeline_picture(
    blocks: Sequence[TimelineBlock],
    *,
    start: dt.datetime,
    tz: dt.tzinfo,
    title: str,
    summary: str = "",
    hours: int = 24,
    kind_labels: Mapping[str, str] | None = None,
) -> str:
    """Hours as rows, minutes across; each block coloured by kind.

    One picture for assistive technology (``role="img"`` named by ``title`` and described by
    ``summary``): its thousands of blocks are not each a tab stop. Every block carries
    ``data-start``/``data-end`` (ISO, UTC) so the page's script can ask the server for the
    engine's explanation of the exact instant clicked; the page offers the same by time and
    hour by hour for keyboards.
    """
    kind_labels = kind_labels or {}
    left, row_h, minute_w, top = 64, 16, 10, 6
    width = left + 60 * minute_w + 8
    height = top + hours * row_h + 4  # the legend is the page's (HTML wraps and stays readable on a phone)
    origin = start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label={quoteattr(title + (". " + summary if summary else ""))}>',
        f"<title>{escape(title)}</title>",
    ]
    if summary:
        out.append(f"<desc>{escape(summary)}</desc>")
    for h in range(hours):
        row_start = origin + dt.timedelta(hours=h)
        y = top + h * row_h
        out.append(
            f'<text x="{left - 6}" y="{y + row_h - 4}" text-anchor="end" class="axis">'
            f"{row_start.strftime('%m-%d %H:00')}</text>"
        )
        out.append(f'<rect x="{left}" y="{y}" width="{60 * minute_w}" height="{row_h - 2}" class="row"/>')
    end_all = origin + dt.timedelta(hours=hours)
    for b in merge_blocks(blocks):
        b_start, b_end = max(b.start, origin), min(b.end, end_all)
        if b_end <= b_start:
            continue
        cursor = b_start
        while cursor < b_end:  # split at hour boundaries: one rect per row
            local = cursor.astimezone(tz)
            row = int((local - origin).total_seconds() // 3600)
            row_end = origin + dt.timedelta(hours=row + 1)
            piece_end = min(b_end, row_end)
            minute = (local - (origin + dt.timedelta(hours=row))).total_seconds() / 60
            length = (piece_end - cursor).total_seconds() / 60
            colour = KIND_COLOURS.get(b.kind, "#607d8b")
            label = f"{local.strftime('%H:%M:%S')} {kind_labels.get(b.kind, b.kind)}: {b.label}"
            out.append(
                f'<rect x="{left + minute * minute_w:.2f}" y="{top + row * row_h}" '
                f'width="{max(length * minute_w, 0.5):.2f}" height="{row_h - 2}" fill="{colour}" '
                f'class="slot slot-{escape(b.kind)}" '
                f'data-start="{cursor.astimezone(dt.UTC).isoformat()}" '
                f'data-end="{piece_end.astimezone(dt.UTC).isoformat()}">'
                f"<title>{escape(label)}</title></rect>"
            )
            cursor = piece_end
    out.append("</svg>")
    return "".join(out)
