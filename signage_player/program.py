"""What to show when, pure: the manifest's timeline (computed offline) or a kiosk's attract loop.

The play loop asks a :class:`Program` for the entry at ``now`` and when to ask again; time is
always passed in. :class:`ManifestProgram` computes the timeline with :mod:`schedules` for a
window of days and rolls it forward, so a player with no network keeps following dayparts,
caps and separation for as long as the manifest's rules run (at least 7 days).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from schedules.errors import ScheduleError
from schedules.model import ContentItem, ItemKind, Screen, Slot, SlotSource
from schedules.protocol.device import EmergencyState, Manifest
from schedules.timeline import Timeline, active_emergency, is_on, ticker_texts, timeline
from signage_player.texts import texts

log = logging.getLogger(__name__)
WINDOW = dt.timedelta(days=8)
RECOMPUTE_MARGIN = dt.timedelta(hours=12)
IDLE_RECHECK = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Entry:
    """One thing to show from ``start`` to ``end`` (UTC)."""

    item: ContentItem
    start: dt.datetime
    end: dt.datetime
    source: SlotSource = SlotSource.FILLER
    source_id: str | None = None
    is_default: bool = False

    @property
    def campaign_id(self) -> str | None:
        return self.source_id if self.source is SlotSource.CAMPAIGN else None

    @property
    def announcement_id(self) -> str | None:
        return self.source_id if self.source in (SlotSource.ANNOUNCEMENT, SlotSource.EMERGENCY) else None


class Program(Protocol):
    def entry_at(self, now: dt.datetime) -> Entry | None:
        """What to show at ``now``; None means the screen is off (outside operating hours)."""

    def next_change(self, now: dt.datetime) -> dt.datetime:
        """When to ask again (the end of the current entry, or the next switch-on)."""

    def default_item(self) -> ContentItem: ...

    def fallbacks(self) -> list[ContentItem]: ...

    def ticker(self, now: dt.datetime) -> list[dict[str, str]]: ...

    def emergency(self, now: dt.datetime) -> ContentItem | None: ...


def builtin_default(title: str = "") -> ContentItem:
    """The slide of last resort, needing no file: the screen is never black while it is on."""
    text = texts("welcome")
    if title:
        text["zh"] = title
    return ContentItem(id="builtin-default", kind=ItemKind.TEXT, duration_s=30, text=text)


class ManifestProgram:
    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.screen: Screen = manifest.screen
        self._tl: Timeline | None = None
        self._window: tuple[dt.datetime, dt.datetime] | None = None

    def timeline_for(self, now: dt.datetime) -> Timeline | None:
        """The timeline around ``now``; None when the rules give nothing to play (no filler at all)."""
        w = self._window
        if w is None or now < w[0] or now > w[1] - RECOMPUTE_MARGIN:
            start = now.replace(minute=0, second=0, microsecond=0)
            self._window = (start, start + WINDOW)
            try:
                self._tl = timeline(self.screen, self.manifest.catalogue, start, start + WINDOW)
            except ScheduleError as exc:
                log.warning("no timeline for manifest %s: %s", self.manifest.version[:12], exc)
                self._tl = None
        return self._tl

    def entry_at(self, now: dt.datetime) -> Entry | None:
        tl = self.timeline_for(now)
        slot = tl.slot_at(now) if tl is not None else None
        if slot is not None:
            item = self.manifest.catalogue.items.get(slot.item_id)
            if item is not None:
                return _from_slot(item, slot)
        if not is_on(self.screen, now):
            return None
        # on, but nothing scheduled (empty catalogue): the community's default slide
        end = (tl.next_change(now) if tl is not None else None) or now + IDLE_RECHECK
        return Entry(self.default_item(), now, min(end, now + IDLE_RECHECK), is_default=True)

    def next_change(self, now: dt.datetime) -> dt.datetime:
        tl = self.timeline_for(now)
        nxt = tl.next_change(now) if tl is not None else None
        return nxt if nxt is not None and nxt > now else now + IDLE_RECHECK

    def default_item(self) -> ContentItem:
        did = self.manifest.default_item_id
        item = self.manifest.catalogue.items.get(did) if did else None
        return item or builtin_default(self.screen.name)

    def fallbacks(self) -> list[ContentItem]:
        """Items to try, in order, when the scheduled one cannot play: default slide, then fillers."""
        items = [self.default_item()]
        cat = self.manifest.catalogue
        items += [cat.items[i] for i in cat.filler_item_ids if i in cat.items and cat.items[i] not in items]
        return items

    def ticker(self, now: dt.datetime) -> list[dict[str, str]]:
        return ticker_texts(self.screen, self.manifest.catalogue, now)

    def emergency(self, now: dt.datetime) -> ContentItem | None:
        ann = active_emergency(self.screen, self.manifest.catalogue, now)
        if ann is None:
            return None
        items = [self.manifest.catalogue.items.get(i) for i in ann.item_ids]
        text_items = [i for i in items if i is not None and i.kind is ItemKind.TEXT]
        if text_items:
            return text_items[0]
        return ContentItem(id=f"emergency-{ann.id}", kind=ItemKind.TEXT, duration_s=60,
                           text=dict(ann.ticker_text) or texts("emergency"))


def emergency_item(state: EmergencyState | None) -> ContentItem | None:
    return state.item if state is not None and state.active else None


class LoopProgram:
    """A fixed list of items played in turn, for ever (the kiosk's attract loop)."""

    def __init__(self, items: Sequence[ContentItem], anchor: dt.datetime) -> None:
        if not items:
            raise ValueError("items: an attract loop needs at least one item")
        self.items = tuple(items)
        self.anchor = anchor
        self._cycle = sum(i.duration_s for i in self.items)

    def entry_at(self, now: dt.datetime) -> Entry | None:
        offset = (now - self.anchor).total_seconds() % self._cycle
        base = now - dt.timedelta(seconds=offset)
        t = 0.0
        for item in self.items:
            if offset < t + item.duration_s:
                start = base + dt.timedelta(seconds=t)
                return Entry(item, start, start + dt.timedelta(seconds=item.duration_s))
            t += item.duration_s
        return Entry(self.items[0], now, now + dt.timedelta(seconds=self.items[0].duration_s))

    def next_change(self, now: dt.datetime) -> dt.datetime:
        entry = self.entry_at(now)
        assert entry is not None
        return entry.end

    def default_item(self) -> ContentItem:
        return self.items[0]

    def fallbacks(self) -> list[ContentItem]:
        return [builtin_default()]

    def ticker(self, now: dt.datetime) -> list[dict[str, str]]:
        return []

    def emergency(self, now: dt.datetime) -> ContentItem | None:
        return None


def _from_slot(item: ContentItem, slot: Slot) -> Entry:
    return Entry(item, slot.start, slot.end, slot.source, slot.source_id)
