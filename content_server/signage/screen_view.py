"""What the screens pages show about one device, from its stored heartbeat and state."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from content_server.signage.health import Health, peripheral_states
from content_server.signage.models import Device


@dataclass(frozen=True)
class ScreenView:
    id: str
    name: str
    screen_class: str
    groups: tuple[str, ...]
    online: str  # online | offline | never
    sync: str  # in_sync | syncing | behind | failing | unknown
    frozen: bool
    missing: tuple[str, ...]
    last_seen: str | None
    current_item: str | None
    free_disk_gb: float | None
    screenshot: bool
    screenshot_at: str | None
    screenshot_version: str  # changes with the picture: its thumbnail's URL changes too
    kind: str = "player"
    page: str | None = None  # kiosks: the page on show
    peripherals: tuple[tuple[str, str], ...] = ()  # kiosks: (name, ok | missing | broken)


def _local(t: dt.datetime | None, tz: str) -> str | None:
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M:%S") if t else None


def view(d: Device, health: Health, current_title: str | None = None) -> ScreenView:
    """Display fields from the device row and the server's health verdict."""
    hb = d.last_heartbeat or {}
    free = hb.get("free_disk_bytes")
    return ScreenView(
        id=d.id,
        name=d.name,
        screen_class=d.screen_class,
        groups=tuple(d.groups or ()),
        online="never" if d.last_seen_at is None else "online" if health.online else "offline",
        sync=health.sync,
        frozen=health.frozen,
        missing=tuple(hb.get("missing_assets", ())),
        last_seen=_local(d.last_seen_at, d.timezone),
        current_item=current_title or hb.get("current_item_id"),
        free_disk_gb=free / 1e9 if isinstance(free, int) else None,
        screenshot=d.screenshot_sha256 is not None,
        screenshot_at=_local(d.screenshot_at, d.timezone),
        screenshot_version=(d.screenshot_sha256 or "")[:12],
        kind=d.kind,
        page=hb.get("page") if isinstance(hb.get("page"), str) else None,
        peripherals=tuple(peripheral_states(hb.get("peripherals"))),
    )


# what an operator must look at first, worst first: (translation key, screens)
ALERTS: tuple[tuple[str, str], ...] = (
    ("screens.alert_frozen", "frozen"),
    ("screens.alert_failing", "failing"),
    ("screens.alert_behind", "behind"),
    ("screens.alert_offline", "offline"),
)


def alerts(rows: list[ScreenView]) -> list[tuple[str, list[str]]]:
    """Alert lines for the screens list: frozen, failing, behind and offline screens by name."""
    matches = {
        "frozen": [r for r in rows if r.frozen],
        "failing": [r for r in rows if r.sync == "failing"],
        "behind": [r for r in rows if r.sync == "behind"],
        "offline": [r for r in rows if r.online == "offline"],
    }
    return [(key, [r.name or r.id for r in matches[kind]]) for key, kind in ALERTS if matches[kind]]
