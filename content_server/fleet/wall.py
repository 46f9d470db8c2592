"""The fleet wall's model: every screen and kiosk as a tile, coloured by state, grouped by building. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

STATES = ("ok", "warning", "offline", "never")
BUILDING = "building:"


@dataclass(frozen=True)
class DeviceFacts:
    """What the wall needs of one device."""

    id: str
    name: str
    kind: str  # player | kiosk
    screen_class: str
    tags: tuple[str, ...]
    last_seen: dt.datetime | None
    screenshot_at: dt.datetime | None
    has_screenshot: bool


@dataclass(frozen=True)
class Tile:
    id: str
    name: str
    kind: str
    screen_class: str
    state: str  # one of STATES
    problems: tuple[str, ...]  # rule kinds firing for it
    last_seen: dt.datetime | None
    screenshot_at: dt.datetime | None
    has_screenshot: bool


@dataclass(frozen=True)
class Building:
    key: str  # "3" for building:3, "" for screens without a building
    tiles: tuple[Tile, ...]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Wall:
    buildings: tuple[Building, ...]
    counts: Mapping[str, int]  # over every device, before the filters
    shown: int
    filters: Mapping[str, str] = field(default_factory=dict)


def state_of(
    d: DeviceFacts, problems: Sequence[str], *, now: dt.datetime, offline_after: dt.timedelta
) -> str:
    if d.last_seen is None:
        return "never"
    if now - d.last_seen > offline_after:
        return "offline"
    return "warning" if problems else "ok"


def building_of(tags: Iterable[str]) -> str:
    return next((t.removeprefix(BUILDING) for t in sorted(tags) if t.startswith(BUILDING)), "")


def _building_order(key: str) -> tuple[int, int, str]:
    """Numbered buildings in number order, named ones after, no building last."""
    return (key == "", 0 if key.isdigit() else 1, f"{int(key):08d}" if key.isdigit() else key)


def build(
    devices: Iterable[DeviceFacts],
    problems: Mapping[str, Sequence[str]],
    *,
    now: dt.datetime,
    offline_after: dt.timedelta,
    state: str = "",
    screen_class: str = "",
    kind: str = "",
) -> Wall:
    """Tiles for every device, counted, then filtered (by state, class and kind) and grouped."""
    listed = list(devices)
    tiles: list[tuple[str, Tile]] = []
    for d in listed:
        found = tuple(sorted(set(problems.get(d.id, ()))))
        tile = Tile(
            d.id,
            d.name or d.id,
            d.kind,
            d.screen_class,
            state_of(d, found, now=now, offline_after=offline_after),
            found,
            d.last_seen,
            d.screenshot_at,
            d.has_screenshot,
        )
        tiles.append((building_of(d.tags), tile))
    counts = {s: sum(1 for _, t in tiles if t.state == s) for s in STATES}
    shown = [
        (b, t)
        for b, t in tiles
        if (not state or t.state == state)
        and (not screen_class or t.screen_class == screen_class)
        and (not kind or t.kind == kind)
    ]
    grouped: dict[str, list[Tile]] = {}
    for b, t in shown:
        grouped.setdefault(b, []).append(t)
    severity = {"offline": 0, "warning": 1, "never": 2, "ok": 3}
    buildings = tuple(
        Building(
            key,
            tuple(sorted(group, key=lambda t: (severity[t.state], t.name))),
            {s: sum(1 for t in group if t.state == s) for s in STATES},
        )
        for key, group in sorted(grouped.items(), key=lambda kv: _building_order(kv[0]))
    )
    filters = {"state": state, "screen_class": screen_class, "kind": kind}
    return Wall(buildings, counts, len(shown), filters)
