"""The play loop: switches items on time, preloads the next, never shows black, records proof of play.

Each switch is scheduled from the wall clock at the previous one and waited for on the
monotonic clock (a precise QTimer), so long runs do not drift. A wall-clock step (NTP
correcting a drifted or unset clock) is noticed within a second and the program re-evaluated
at once, so a screen switched off "until 07:00" by a wrong clock does not stay black for
hours. The next item is prepared ``PRELOAD_S`` before its turn; the switch itself is one
repaint. Any error inside a switch is logged and the loop carries on with a fallback (the
default slide, then fillers, then a built-in slide).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from schedules.clock import Clock, SystemClock
from schedules.model import LIVE_KINDS, ContentItem, ItemKind, SlotSource
from schedules.protocol.device import Loudness, PlayRecord
from signage_player.media import MediaError
from signage_player.outbox import Outbox
from signage_player.program import Entry, Program, builtin_default
from signage_player.view import Playable, Prepared, SignageView

log = logging.getLogger(__name__)

PLAYS_TOPIC = "plays"
PRELOAD_S = 0.5
COMPLETE_TOLERANCE_S = 0.5
EMERGENCY_CHECK_MS = 1000
CLOCK_STEP_TOLERANCE_S = 2.0  # wall minus monotonic moving more than this is a clock step
FILE_KINDS = frozenset({ItemKind.IMAGE, ItemKind.VIDEO})  # played from a cached, verified file


@dataclass
class _Playing:
    entry: Entry
    item: ContentItem  # may differ from entry.item when a fallback plays instead
    started_wall: dt.datetime
    started_mono: float
    due_mono: float  # when the switch was scheduled to happen
    shown_mono: float | None  # when it was first on screen: a page once loaded, a stream once it plays


class PlayLoop(QObject):
    item_started = Signal(str)
    item_failed = Signal(str, str)  # item id, reason
    frame_shown = Signal(str, float)  # item id, gap in seconds from scheduled start to first painted frame
    screen_power = Signal(bool)  # True = on

    def __init__(
        self,
        view: SignageView,
        resolve: Callable[[str], Path | None],
        *,
        clock: Clock | None = None,
        outbox: Outbox | None = None,
        langs: tuple[str, ...] = ("zh", "en"),
        parent: QObject | None = None,
    ) -> None:
        """``resolve(sha256)`` returns the verified local Path of an asset, or None."""
        super().__init__(parent)
        self.view = view
        self.resolve = resolve
        self.clock = clock or SystemClock()
        self.outbox = outbox
        self.langs = langs
        self.program: Program | None = None
        self.failed_items: dict[str, str] = {}
        self.errors: list[str] = []
        self.current: _Playing | None = None
        self.remote_emergency: ContentItem | None = None
        self.remote_loudness = Loudness.FULL_SCREEN
        self.remote_emergency_known = False  # the server told us (else the manifest decides)
        self._emergency_shown: ContentItem | None = None  # a full-screen emergency (the programme stops)
        self._banner_shown: ContentItem | None = None  # a banner over the programme
        self._held: tuple[bool, bool] | None = None  # (operator's on/off, hours' on/off when held)
        self._preloaded: tuple[tuple[str, dt.datetime], Prepared] | None = None
        self._due_mono = 0.0
        self._wall_offset: float | None = None  # wall - monotonic when the last switch was scheduled
        self._running = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_due)
        self._preload_timer = QTimer(self)
        self._preload_timer.setSingleShot(True)
        self._preload_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._preload_timer.timeout.connect(self._on_preload_due)
        self._emergency_timer = QTimer(self)
        self._emergency_timer.setInterval(EMERGENCY_CHECK_MS)
        self._emergency_timer.timeout.connect(self._on_tick)
        view.main.frame_painted.connect(self._on_frame_painted)
        view.main.video_failed.connect(self._on_video_failed)

    # -- control ---------------------------------------------------------------------------

    def set_program(self, program: Program | None) -> None:
        """Play ``program`` from now on (a new manifest went live); re-evaluates at once."""
        self.program = program
        self._preloaded = None
        if self._running:
            self.step()

    def start(self) -> None:
        self._running = True
        self._emergency_timer.start()
        self.step()

    def stop(self) -> None:
        self._running = False
        self._timer.stop()
        self._preload_timer.stop()
        self._emergency_timer.stop()
        self._finish_current(completed=False)
        self.view.main.clear()

    def set_remote_emergency(self, item: ContentItem | None, loudness: str = Loudness.FULL_SCREEN) -> None:
        """The server's emergency state (long-poll): it overrides the manifest's while known, in the
        overlay and in the main zone (an ended one's slots in the live schedule are not shown).

        A banner (``loudness`` banner_warning / banner_notice) shows over the programme, which goes
        on playing and counting its plays; full screen stops the programme."""
        ended = item is None and (self._emergency_shown is not None or self._banner_shown is not None)
        self.remote_emergency = item
        self.remote_loudness = Loudness(loudness)
        self.remote_emergency_known = True
        self._update_overlays()
        if ended and self._running:
            self.step()

    def hold_power(self, on: bool) -> None:
        """An operator switched the screen on or off now: it stays so until the operating hours next
        switch it (or another hold). An emergency still turns it on."""
        self._held = (on, self._hours_on(self.clock.now()))
        log.info("screen held %s by an operator", "on" if on else "off")
        if self._running:
            self.step()

    @property
    def held(self) -> bool | None:
        """The operator's hold (True on, False off), None when the hours decide."""
        return self._held[0] if self._held is not None else None

    def _hours_on(self, now: dt.datetime) -> bool:
        return self.program is None or self.program.entry_at(now) is not None

    def step(self) -> None:
        """Evaluate the program now and show what is due (also called by tests after moving the clock)."""
        self._due_mono = self.clock.monotonic()
        self._guarded_step()

    def _guarded_step(self) -> None:
        try:
            self._step()
        except Exception as exc:  # the play-loop boundary: log, fall back, keep going
            log.exception("play loop error; showing the default slide")
            self._note_error(f"play loop: {exc}")
            self._show_fallback(None, self.clock.now())
            self._schedule(self.clock.now() + dt.timedelta(seconds=10))

    # -- the switch ------------------------------------------------------------------------

    def _on_due(self) -> None:
        self._guarded_step()  # keeps _due_mono: the switch gap is measured from the scheduled time

    def _step(self) -> None:
        now = self.clock.now()
        hours_on = self._hours_on(now)
        if self._held is not None and self._held[1] != hours_on:
            self._held = None  # the hours switched the screen since the operator's hold: they decide again
        on = self._held[0] if self._held is not None else hours_on
        if self.program is None:
            self._power(on)
            if on:
                self._show_fallback(None, now)
            self._schedule(now + dt.timedelta(seconds=60))
            return
        self._update_overlays()
        entry = self.program.entry_at(now)
        if entry is not None and self._emergency_over(entry):
            self._power(True)
            self._show_fallback(entry, now)  # until the manifest without it is live
            self._schedule(self.program.next_change(now))
            return
        if not on:
            self._finish_current(completed=False)
            self.view.main.clear()
            self._power(False)
        elif entry is None:  # held on outside the hours: the default slide
            self._power(True)
            self._show_fallback(None, now)
        else:
            self._power(True)
            self._play(entry, now)
        self._schedule(self.program.next_change(now))

    def _emergency_over(self, entry: Entry) -> bool:
        """An emergency slot of a schedule made while it lasted, after the server said it ended."""
        told_over = self.remote_emergency_known and self.remote_emergency is None
        return entry.source is SlotSource.EMERGENCY and told_over

    def _schedule(self, at: dt.datetime) -> None:
        now = self.clock.now()
        self._wall_offset = self._offset(now)
        delay = max(0.0, (at - now).total_seconds())
        self._due_mono = self.clock.monotonic() + delay
        self._timer.start(int(delay * 1000))
        self._preload_timer.stop()
        # prepare the next item PRELOAD_S ahead; for items shorter than that, a third of the way in
        lead = delay - PRELOAD_S if delay > 2 * PRELOAD_S else delay / 3
        self._preload_timer.start(int(lead * 1000))

    def _on_preload_due(self) -> None:
        if self.program is None:
            return
        try:
            at = self.clock.now() + dt.timedelta(seconds=PRELOAD_S + 0.001)
            entry = self.program.entry_at(at)
            if entry is not None:
                self._preloaded = (self._key(entry), self._prepare(entry.item))
        except MediaError as exc:
            self._preloaded = None
            log.info("preload: %s", exc)
        except Exception:
            self._preloaded = None
            log.exception("preload failed")

    def _play(self, entry: Entry, now: dt.datetime) -> None:
        cur = self.current
        if cur is not None and self._key(cur.entry) == self._key(entry):
            return  # same placement (re-evaluated early): keep playing
        prepared: Prepared | None = None
        key = self._key(entry)
        if self._preloaded is not None and self._preloaded[0] == key:
            prepared = self._preloaded[1]
        self._preloaded = None
        if prepared is None:
            try:
                prepared = self._prepare(entry.item)
            except MediaError as exc:
                self._mark_failed(entry.item.id, str(exc))
        if prepared is None:
            self._show_fallback(entry, now)
            return
        self._show(entry, prepared, now)

    def _show(self, entry: Entry, prepared: Prepared, now: dt.datetime) -> None:
        self._finish_current(completed=True)
        due = self._due_mono
        mono = self.clock.monotonic()
        item = prepared.playable.item
        shown = None if item.kind in LIVE_KINDS else mono  # a page or stream counts from its first frame
        self.current = _Playing(entry, item, now, mono, due, shown)
        self.item_started.emit(prepared.item_id)
        self.view.main.show_prepared(prepared)

    def _show_fallback(self, entry: Entry | None, now: dt.datetime) -> None:
        """Something else in place of ``entry``: default slide, fillers, then the built-in slide."""
        candidates = self.program.fallbacks() if self.program is not None else []
        candidates.append(builtin_default())
        for item in candidates:
            if entry is not None and item.id == entry.item.id:
                continue
            try:
                prepared = self._prepare(item)
            except MediaError as exc:
                self._mark_failed(item.id, str(exc))
                continue
            end = entry.end if entry is not None else now + dt.timedelta(seconds=item.duration_s)
            stand_in = Entry(item, now, end, is_default=True)
            if entry is not None and self.current is not None and self.current.item.id == item.id:
                self.current.entry = stand_in  # already showing this fallback: just extend it
                return
            self._show(stand_in, prepared, now)
            return

    def _prepare(self, item: ContentItem) -> Prepared:
        path = None
        if item.kind in FILE_KINDS:
            if item.asset_sha256 is None:
                raise MediaError(f"{item.id}: no asset")
            found = self.resolve(item.asset_sha256)
            if found is None:
                raise MediaError(f"{item.id}: asset {item.asset_sha256[:12]} is not in the cache")
            path = found
        return self.view.main.prepare(Playable(item, path))

    # -- proof of play ---------------------------------------------------------------------

    def _finish_current(self, completed: bool) -> None:
        cur, self.current = self.current, None
        if cur is None or cur.shown_mono is None:
            return  # a page that never loaded, a stream that never played: nothing was shown
        mono = self.clock.monotonic()
        duration = max(0.0, mono - cur.shown_mono)
        planned = (cur.entry.end - cur.entry.start).total_seconds()
        done = completed and mono - cur.started_mono + COMPLETE_TOLERANCE_S >= planned
        if self._emergency_shown is not None:
            done = False
        record = PlayRecord(
            id=uuid.uuid4(),
            item_id=cur.item.id,
            campaign_id=None if cur.entry.is_default else cur.entry.campaign_id,
            announcement_id=None if cur.entry.is_default else cur.entry.announcement_id,
            started_at=cur.started_wall + dt.timedelta(seconds=cur.shown_mono - cur.started_mono),
            duration_s=min(duration, 86400),
            completed=done,
        )
        if self.outbox is not None and duration > 0:
            payload = record.model_dump_json().encode()
            self.outbox.put(PLAYS_TOPIC, str(record.id), payload, now=cur.started_wall)

    # -- overlays, clock steps, failures ---------------------------------------------------

    def _offset(self, now: dt.datetime) -> float:
        return now.timestamp() - self.clock.monotonic()

    def _on_tick(self) -> None:
        """Every second: emergencies and ticker, and a wall-clock step re-plans at once."""
        last = self._wall_offset
        if self._running and last is not None:
            jump = self._offset(self.clock.now()) - last
            if abs(jump) > CLOCK_STEP_TOLERANCE_S:
                log.warning("wall clock stepped by %+.1f s; re-evaluating the program", jump)
                self._preloaded = None
                self.step()  # also updates the overlays
                return
        self._update_overlays()

    def _update_overlays(self) -> None:
        now = self.clock.now()
        program = self.program
        loudness = Loudness.FULL_SCREEN
        if self.remote_emergency_known:
            item, loudness = self.remote_emergency, self.remote_loudness
        else:
            item = program.emergency(now) if program is not None else None
        banner = item if loudness is not Loudness.FULL_SCREEN else None
        full = item if banner is None else None
        if _changed(full, self._emergency_shown) or _changed(banner, self._banner_shown):
            if full is not None:
                self._finish_current(completed=False)
            self._emergency_shown, self._banner_shown = full, banner
            self.view.emergency.set_item(item, loudness)
            if full is not None:
                self._power(True)
        if program is not None:
            texts = [_pick(t, self.langs) for t in program.ticker(now)]
            self.view.ticker.set_texts([t for t in texts if t])

    def _power(self, on: bool) -> None:
        """Screen on/off for operating hours; an emergency keeps it on."""
        effective = on or self._emergency_shown is not None
        if self.view.off != effective:
            return
        self.view.set_off(not effective)
        self.screen_power.emit(effective)

    def _mark_failed(self, item_id: str, reason: str) -> None:
        if item_id not in self.failed_items:
            log.warning("skipping item %s: %s", item_id, reason)
        self.failed_items[item_id] = reason
        self.item_failed.emit(item_id, reason)

    def _note_error(self, message: str) -> None:
        self.errors = [*self.errors[-19:], message]

    def _on_frame_painted(self, item_id: str, at_mono: float) -> None:
        cur = self.current
        if cur is not None and cur.item.id == item_id:
            if cur.shown_mono is None:
                cur.shown_mono = max(cur.started_mono, self.clock.monotonic())
            self.frame_shown.emit(item_id, max(0.0, at_mono - cur.due_mono))

    def _on_video_failed(self, item_id: str, reason: str) -> None:
        self._mark_failed(item_id, reason)
        cur = self.current
        if cur is not None and cur.item.id == item_id:
            self._finish_current(completed=False)
            self._show_fallback(cur.entry, self.clock.now())

    @staticmethod
    def _key(entry: Entry) -> tuple[str, dt.datetime]:
        return entry.item.id, entry.start


def _changed(new: ContentItem | None, shown: ContentItem | None) -> bool:
    return (new is None) != (shown is None) or (new is not None and shown is not None and new.id != shown.id)


def _pick(texts: dict[str, str], langs: tuple[str, ...]) -> str:
    parts = [texts[lang] for lang in langs if texts.get(lang)]
    return " / ".join(parts) or next(iter(texts.values()), "")
