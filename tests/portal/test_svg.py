"""The server-drawn chart and timeline: right sizes, right colours, user text escaped."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from content_server.portal.svg import (
    KIND_COLOURS,
    ChartSeries,
    TimelineBlock,
    merge_blocks,
    stacked_bar_chart,
    timeline_picture,
)

NS = {"s": "http://www.w3.org/2000/svg"}
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _bars(svg: str) -> list[ET.Element]:
    return ET.fromstring(svg).findall(".//s:rect[@class='bar']", NS)


def test_bar_heights_are_proportional_and_stacked() -> None:
    svg = stacked_bar_chart(
        ["2026-11-24", "2026-11-25"],
        [
            ChartSeries("outdoor", {"2026-11-24": 10, "2026-11-25": 20}),
            ChartSeries("indoor", {"2026-11-25": 20}),
        ],
        title="plays",
    )
    bars = _bars(svg)
    assert len(bars) == 3
    heights = [float(b.get("height", 0)) for b in bars]
    assert abs(heights[1] - 2 * heights[0]) < 0.2 and abs(heights[2] - heights[1]) < 0.2
    # the second day's two parts stack: the indoor part sits right on top of the outdoor part
    assert abs(float(bars[2].get("y", 0)) + heights[2] - float(bars[1].get("y", 0))) < 0.2
    assert [b.findtext("s:title", namespaces=NS) for b in bars] == [
        "2026-11-24 · outdoor: 10",
        "2026-11-25 · outdoor: 20",
        "2026-11-25 · indoor: 20",
    ]


def test_chart_escapes_labels_and_handles_no_data() -> None:
    svg = stacked_bar_chart(["<b>"], [ChartSeries("<script>alert(1)</script>", {"<b>": 1})], title="a & b")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # well-formed
    empty = stacked_bar_chart([], [], title="nothing")
    assert _bars(empty) == []


def _utc(h: int, m: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 25, h, m, s, tzinfo=dt.UTC)


def test_touching_blocks_of_one_kind_merge() -> None:
    blocks = [
        TimelineBlock(_utc(1), _utc(1, 0, 10), "campaign", "A"),
        TimelineBlock(_utc(1, 0, 10), _utc(1, 0, 20), "campaign", "B"),
        TimelineBlock(_utc(1, 0, 20), _utc(1, 0, 30), "filler", "F"),
        TimelineBlock(_utc(1, 0, 30), _utc(1, 0, 40), "campaign", "A"),
    ]
    merged = merge_blocks(blocks)
    assert [(b.kind, b.label, b.end) for b in merged] == [
        ("campaign", "A · B", _utc(1, 0, 20)),
        ("filler", "F", _utc(1, 0, 30)),
        ("campaign", "A", _utc(1, 0, 40)),
    ]


def test_timeline_splits_blocks_at_hours_and_colours_by_kind() -> None:
    start = _utc(2)  # 10:00 in Shanghai
    blocks = [
        TimelineBlock(_utc(2, 50), _utc(3, 10), "campaign", "Bakery <b>"),  # crosses 11:00 local
        TimelineBlock(_utc(3, 10), _utc(3, 20), "announcement", "Water"),
    ]
    svg = timeline_picture(blocks, start=start, tz=SHANGHAI, title="t")
    root = ET.fromstring(svg)
    slots = root.findall(".//s:rect[@data-start]", NS)
    assert [s.get("data-start") for s in slots] == [
        _utc(2, 50).isoformat(),
        _utc(3).isoformat(),
        _utc(3, 10).isoformat(),
    ]
    assert [s.get("fill") for s in slots] == [KIND_COLOURS["campaign"]] * 2 + [KIND_COLOURS["announcement"]]
    assert float(slots[0].get("width", 0)) == 100.0 and float(slots[1].get("width", 0)) == 100.0
    assert "Bakery &lt;b&gt;" in svg and "<b>" not in svg
    labels = [t.text for t in root.findall("s:text", NS)]
    assert (
        labels[0] == "11-25 10:00"
        and len([x for x in labels if re.match(r"\d\d-\d\d \d\d:00", x or "")]) == 24
    )


def test_blocks_outside_the_window_are_left_out() -> None:
    svg = timeline_picture(
        [TimelineBlock(_utc(0), _utc(1), "filler", "x"), TimelineBlock(_utc(3), _utc(4), "filler", "y")],
        start=_utc(2),
        tz=dt.UTC,
        title="t",
        hours=1,
    )
    assert ET.fromstring(svg).findall(".//s:rect[@data-start]", NS) == []


def test_count_axes_have_whole_ticks_only() -> None:
    """Proof of play counts plays: an axis of 0, 0.25, 0.5 ... plays is nonsense (issue 14)."""
    from content_server.portal.svg import axis_ticks

    assert axis_ticks(1, whole=True) == [0, 1]
    assert axis_ticks(3, whole=True) == [0, 1, 2, 3]
    assert axis_ticks(7, whole=True) == [0, 2, 4, 6, 8]
    assert axis_ticks(0, whole=True) == [0, 1]
    assert all(t == int(t) for n in range(1, 5000, 37) for t in axis_ticks(n, whole=True))
    assert max(len(axis_ticks(n, whole=True)) for n in range(1, 5000, 37)) <= 5
    svg = stacked_bar_chart(["d1"], [ChartSeries("s", {"d1": 1})], title="t")
    assert re.findall(r'class="axis">([^<]+)<', svg) == ["0", "1"]


def test_the_timeline_in_words_shares_and_hours() -> None:
    from content_server.portal.svg import summarise

    start = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
    blocks = [
        TimelineBlock(start, start + dt.timedelta(minutes=30), "announcement", "停水通知"),
        TimelineBlock(start + dt.timedelta(minutes=30), start + dt.timedelta(hours=2), "filler", "默认内容"),
    ]
    summary = summarise(blocks, start=start, tz=SHANGHAI, hours=2)
    assert [h.label for h in summary.hours] == ["11-25 10:00", "11-25 11:00"]
    first = summary.hours[0]
    assert first.shares["announcement"] == 0.5 and first.names == ("停水通知", "默认内容")
    assert summary.shares["filler"] == 0.75 and summary.shares["emergency"] == 0
    svg = timeline_picture(blocks, start=start, tz=SHANGHAI, title="t", summary="公告占 25%", hours=2)
    assert 'role="img"' in svg and "公告占 25%" in svg
    assert "tabindex" not in svg and 'role="button"' not in svg  # one picture, not thousands of stops
