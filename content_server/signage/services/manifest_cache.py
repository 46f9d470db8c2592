"""The last manifest per screen, current until a change touches its inputs or its day ends.

A manifest is current while none of the scopes it depends on (``signage.scopes``: its class,
groups, tags, its own key, the media its rows name, ``all``) was stamped after it was built
(``core.changes``), and the clock has not reached its ``expires_at`` (the screen's next local
midnight, or earlier when an announcement ends or an emergency starts or ends). So a change
rebuilds only the manifests it touches, and the day's rebuild happens per time zone, lazily, on
each screen's next poll. Equivalent screens share one built manifest (``SharedManifest``); each
screen adds only its own few hundred bytes.

``fresh_grant`` answers the poll and download fast path from memory, trusting the process's
view of the stamps (``CachedGenerations``: read at most ``poll_cache_s`` ago on the injected
clock; a change committed here is learnt at once), so a change reaches a screen within that time.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from content_server.core.changes import CachedGenerations
from content_server.signage import scopes
from content_server.signage.asset_access import AssetGrant
from content_server.signage.models import Device
from content_server.signage.services import plays
from content_server.signage.services.catalogue import LiveSet, load_live
from content_server.signage.services.manifest import (
    SharedManifest,
    build_shared,
    device_kinds,
    next_midnight,
    personalise,
    served,
)
from content_server.signage.services.screens import to_screen
from schedules.model import ItemKind, Screen
from schedules.protocol.device import Manifest, parse_kinds

# the counters /metrics reports (``fleet.services.metrics``)
BUILDS = "manifest_builds"  # shared manifests built (the costly part: catalogue, JSON)
ENTRIES = "manifest_entries"  # screens given a new manifest (their own part and a database write)
MEMORY_304 = "manifest_304_memory"  # unchanged polls answered by the fast path


@dataclass(frozen=True)
class _Shared:
    built: SharedManifest
    generation: int  # the change generation its inputs were read at


@dataclass(frozen=True)
class _Entry:
    shared: _Shared
    generation: int  # the change generation the screen's own row was read at
    own_scope: str
    manifest: Manifest
    head: bytes
    grant: AssetGrant
    kinds: frozenset[ItemKind]

    @property
    def body(self) -> bytes:
        return self.head + self.shared.built.tail


class ManifestCache:
    """Last manifest per device; shared manifests per equivalence class; the live set per generation.

    ``targeted`` false restores the old design for comparison (benchmarks and tests only): one
    global counter, the UTC day, no sharing between screens.
    """

    def __init__(
        self,
        view: CachedGenerations,
        count: Callable[[str], None] | None = None,
        *,
        targeted: bool = True,
    ) -> None:
        self._view = view
        self._count = count or (lambda _name: None)
        self._targeted = targeted
        self._entries: dict[str, _Entry] = {}
        self._shared: dict[tuple[object, ...], _Shared] = {}
        self._live: tuple[tuple[int, dt.date], LiveSet] | None = None
        self._lock = threading.Lock()
        self._live_loading = threading.Lock()  # one load of the live set at a time

    # ---- the one rule: is a cached manifest current? ------------------------------------------

    def _current(self, entry: _Entry, now: dt.datetime, generation: int | None = None) -> bool:
        """Whether ``entry`` is still the screen's manifest: from the fast path (``generation``
        None: the view must be fresh) or right after the view was read (``generation``)."""
        shared = entry.shared
        if now >= shared.built.expires_at:
            return False
        if not self._targeted:
            current = self._view.current() if generation is None else (generation, 0)
            return current is not None and current[0] == shared.generation == entry.generation
        fresh = generation is not None
        return self._view.unchanged_since(
            shared.generation, shared.built.depends_on, fresh=fresh
        ) and self._view.unchanged_since(entry.generation, (entry.own_scope,), fresh=fresh)

    def _shared_current(self, shared: _Shared, now: dt.datetime, generation: int) -> bool:
        if now >= shared.built.expires_at:
            return False
        if not self._targeted:
            return shared.generation == generation
        return self._view.unchanged_since(shared.generation, shared.built.depends_on, fresh=True)

    # ---- the normal route -------------------------------------------------------------------

    def get(self, session: Session, device: Device, now: dt.datetime, *, days: int) -> tuple[Manifest, bytes]:
        """The device's manifest and its JSON; records (and commits) which version it was served."""
        generation = self._view.read(session)[0]
        kinds = device_kinds(device)
        entry = self._entries.get(device.id)
        if entry is not None and entry.kinds == kinds and self._current(entry, now, generation):
            return entry.manifest, entry.body
        if device not in session.dirty:  # read after the counters: at least as new as they say
            session.refresh(device)
        screen = to_screen(device)
        live = self._live_set(session, generation, now)
        key = self._key(screen, kinds, live)
        with self._lock:
            shared = self._shared.get(key)
        if shared is None or not self._shared_current(shared, now, generation):
            built = build_shared(screen, kinds, now, days=days, live=live, local_day=self._targeted)
            if not self._targeted:  # the old design: the UTC day, whatever else changes by the clock
                built = _until_utc_midnight(built, now)
            shared = _Shared(built, generation)
            with self._lock:
                self._shared[key] = shared
            self._count(BUILDS)
        manifest, head = personalise(shared.built, screen)
        grant = served(device, manifest, now)
        # what the device's proof of play will be checked against (once per version)
        remembered = plays.remember_served(session, device, manifest, now)
        if remembered or session.dirty or session.new:
            session.commit()
        entry = _Entry(shared, generation, scopes.screen(device.id), manifest, head, grant, kinds)
        with self._lock:
            self._entries[device.id] = entry
        self._count(ENTRIES)
        return manifest, entry.body

    def _live_set(self, session: Session, generation: int, now: dt.datetime) -> LiveSet:
        """Everything live, loaded once per change generation (and UTC day) for all screens: after
        a change, the first request loads it and the others that need it meanwhile wait for that
        load instead of each loading it again (tens of worker threads at once in a change storm)."""
        key = (generation, now.astimezone(dt.UTC).date())
        with self._live_loading:
            live = self._live[1] if self._live is not None and self._live[0] == key else None
            if live is None:
                live = load_live(session, now)
                self._live = (key, live)
        return live

    def _key(self, screen: Screen, kinds: frozenset[ItemKind], live: LiveSet) -> tuple[object, ...]:
        """What makes two screens equivalent: their settings but id and name, their item kinds,
        and the live rows that name them by id."""
        if not self._targeted:
            return (screen.id,)
        named = tuple(
            sorted(
                [a.id for a, t in live.announcements if screen.id in t.screen_ids]
                + [c.id for c, t in live.campaigns if screen.id in t.screen_ids]
            )
        )
        settings = screen.model_dump_json(exclude={"id", "name"})
        return (settings, tuple(sorted(kinds)), named)

    # ---- the fast path and the heartbeats (no database) -------------------------------------

    def fresh_manifest(self, device_id: str, now: dt.datetime) -> Manifest | None:
        """The device's cached manifest if it is certainly current, else None (no database)."""
        entry = self._fresh(device_id, now)
        return None if entry is None else entry.manifest

    def fresh_grant(
        self, device_id: str, now: dt.datetime, kinds: frozenset[ItemKind] | None = None
    ) -> tuple[Manifest, AssetGrant] | None:
        """The device's current manifest and what it may download, if certainly current (and made
        for these item kinds, when given: a player that now names others gets a new one)."""
        entry = self._fresh(device_id, now)
        if entry is None or (kinds is not None and entry.kinds != kinds):
            return None
        return entry.manifest, entry.grant

    def answered_from_memory(self) -> None:
        """The fast path answered an unchanged poll (a 304) from this cache."""
        self._count(MEMORY_304)

    def _fresh(self, device_id: str, now: dt.datetime) -> _Entry | None:
        entry = self._entries.get(device_id)
        if entry is None or not self._current(entry, now):
            return None
        return entry

    def forget(self, device_id: str) -> None:
        with self._lock:
            self._entries.pop(device_id, None)


def for_request(
    cache: ManifestCache, session: Session, device: Device, now: dt.datetime, *, days: int, kinds: str | None
) -> tuple[Manifest, bytes]:
    """A manifest poll: remembers the optional kinds the player named (``?kinds=``; committed only
    when they change, which stamps the screen's own scope), then the device's manifest for them."""
    named = sorted(k.value for k in parse_kinds(kinds))
    if sorted(device.item_kinds or ()) != named:
        device.item_kinds = named
        session.commit()
    return cache.get(session, device, now, days=days)


def _until_utc_midnight(built: SharedManifest, now: dt.datetime) -> SharedManifest:
    return SharedManifest(built.manifest, built.digest, built.tail, built.depends_on, next_midnight(now))
