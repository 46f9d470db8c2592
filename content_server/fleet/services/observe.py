"""What the other features know, as observations for the alert rules (one per subject per rule).

Facts are gathered once per evaluation pass (every live device with its last heartbeat, the
emergencies on air, the CAP feeds, the payment notifications on the delivery queue, the rollouts
that paused themselves) and each rule turns them into
:class:`~content_server.fleet.evaluation.Observation` s. Device rules other than "offline" and
"emergency" look at online devices only: what an offline screen last said is stale,
and the offline rule already speaks for it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content_server.core.delivery import services as deliveries
from content_server.core.settings import Settings
from content_server.fleet.evaluation import Observation
from content_server.fleet.models import AlertRule
from content_server.fleet.rule_kinds import HEARTBEAT_KINDS, RuleKind
from content_server.fleet.services.directory import (
    DeviceDirectory,
    DeviceFacts,
    read_devices,
    read_screens,
    with_heartbeats,
)
from content_server.kiosk.services.community_pay import NOTIFY_SENDER
from content_server.portal.i18n import TEXTS
from content_server.portal.shell import local_time as local
from content_server.signage import health as health_mod
from content_server.signage.models import AlertFeed, CapAlert, Device
from content_server.signage.services import plays, screens
from content_server.signage.services.catalogue import load_live
from content_server.signage.services.manifest import emergencies_of
from content_server.updates import services as updates
from schedules.bilingual import Bilingual
from schedules.protocol.device import EmergencyState

log = logging.getLogger(__name__)

MB = 1024 * 1024
GB = 1024 * MB


@dataclass(frozen=True)
class FeedFacts:
    id: str
    name: str
    last_heard: dt.datetime  # its newest message, or when it was made
    never: bool  # no message yet


@dataclass
class Facts:
    """Everything one evaluation pass looks at, read once."""

    now: dt.datetime
    devices: list[DeviceFacts]
    feeds: list[FeedFacts] = field(default_factory=list)
    emergencies: dict[str, EmergencyState] = field(default_factory=dict)  # device id -> its emergency
    paused_rollouts: list[updates.SelfPaused] = field(default_factory=list)


def gather(
    session: Session,
    now: dt.datetime,
    kinds: set[RuleKind],
    directory: DeviceDirectory | None = None,
    monotonic: float = 0.0,
) -> Facts:
    """Read what the rules due in this pass need (heartbeat contents only for the rules reading them).

    With ``directory`` (a running server's), devices' settings come from its memory."""
    devices = directory.devices(session, monotonic) if directory is not None else read_devices(session)
    if kinds & HEARTBEAT_KINDS:
        devices = with_heartbeats(session, devices)
    facts = Facts(now, devices)
    if RuleKind.CAP_SILENT in kinds:
        newest = dict(
            session.execute(
                select(CapAlert.feed_id, func.max(CapAlert.received_at)).group_by(CapAlert.feed_id)
            ).all()
        )
        for feed in session.scalars(select(AlertFeed).where(AlertFeed.disabled.is_(False))):
            last = newest.get(feed.id)
            facts.feeds.append(FeedFacts(feed.id, feed.name, last or feed.created_at, last is None))
    if RuleKind.EMERGENCY in kinds:
        live = load_live(session, now)
        if any(a.priority == "emergency" for a, _ in live.announcements):  # rare: targeting then
            held = directory.screens(session) if directory is not None else read_screens(session)
            facts.emergencies = emergencies_of(held.values(), now, live)
        if not kinds & HEARTBEAT_KINDS:  # the rule reads what those devices' heartbeats say they show
            facts.devices = with_heartbeats(session, facts.devices, set(facts.emergencies))
    if RuleKind.ROLLOUT in kinds:
        facts.paused_rollouts = updates.self_paused(session)
    return facts


def group_of(d: DeviceFacts, group_by: str) -> str:
    """A device's grouping key: its building (``building:<n>`` tag), its first group, or none."""
    if group_by == "building":
        return d.building
    if group_by == "group":
        return d.first_group
    return ""


class Selection:
    """A rule's selection (any of its groups, any of its tags, its screen classes, its device kinds)."""

    def __init__(self, selector: Mapping[str, Sequence[str]] | None) -> None:
        chosen = selector or {}
        self.groups = frozenset(chosen.get("groups") or ())
        self.tags = frozenset(chosen.get("tags") or ())
        self.classes = frozenset(chosen.get("screen_classes") or ())
        self.kinds = frozenset(chosen.get("kinds") or ())

    def takes(self, d: DeviceFacts) -> bool:
        return (
            (not self.groups or not self.groups.isdisjoint(d.groups))
            and (not self.tags or not self.tags.isdisjoint(d.tags))
            and (not self.classes or d.screen_class in self.classes)
            and (not self.kinds or d.kind in self.kinds)
        )


def _quiet_test(
    kind: RuleKind, facts: Facts, params: Mapping[str, float], settings: Settings
) -> Callable[[DeviceFacts], bool] | None:
    """A cheap test that ``_device`` would observe ``d`` as quiet (None: no cheap test for ``kind``)."""
    if kind is RuleKind.OFFLINE:  # heard within both the "late" time and the rule's threshold
        heard_after = facts.now - min(_offline_limits(params, settings))
        return lambda d: (d.last_seen_at or d.created_at) >= heard_after
    if kind is RuleKind.EMERGENCY:
        return lambda d: d.id not in facts.emergencies
    return None


def _offline_limits(params: Mapping[str, float], settings: Settings) -> tuple[dt.timedelta, dt.timedelta]:
    """(silent longer than this is "late": two heartbeats missed, the rule's threshold)."""
    late = dt.timedelta(seconds=2 * settings.fleet_heartbeat_every_s)
    return late, dt.timedelta(minutes=float(params.get("minutes", 10)))


def _online(d: DeviceFacts, now: dt.datetime, settings: Settings) -> bool:
    return d.last_seen_at is not None and now - d.last_seen_at <= dt.timedelta(
        seconds=settings.offline_after_s
    )


def _hb(d: DeviceFacts) -> dict[str, Any]:
    return d.last_heartbeat or {}


def observe(
    session: Session,
    rule: AlertRule,
    facts: Facts,
    settings: Settings,
    remembered: Collection[str] | None = None,
) -> list[Observation]:
    """The rule's observations at ``facts.now``.

    With ``remembered`` (the subjects the rule has a state for), a device that is certainly quiet
    and not remembered is skipped before anything is built for it: its observation would change
    nothing (``evaluation.evaluate`` drops it too), and a district's pass looks at thousands of
    quiet screens every few seconds, on a thread that shares the GIL with the polls."""
    kind = RuleKind(rule.kind)
    params = rule.params or {}
    if kind is RuleKind.PAYMENTS:
        return [_payments(session, facts.now, params)]
    if kind is RuleKind.CAP_SILENT:
        hours = dt.timedelta(hours=float(params.get("hours", 24)))
        return [
            Observation(
                f.id,
                f.name,
                failing=facts.now - f.last_heard > hours,
                since=f.last_heard + hours,
                detail=TEXTS.both(
                    "fleet.detail.feed_never" if f.never else "fleet.detail.feed_last",
                    time=local(f.last_heard, settings.community_tz, "%Y-%m-%d %H:%M"),
                ),
            )
            for f in facts.feeds
        ]
    if kind is RuleKind.ROLLOUT:
        return [_rollout(p) for p in facts.paused_rollouts]
    if kind is RuleKind.REFUSED_PLAYS:
        return _refused_plays(session, rule, facts.devices, facts.now, params, remembered)
    out: list[Observation] = []
    selection = Selection(rule.selector)
    quiet = _quiet_test(kind, facts, params, settings)
    for d in facts.devices:
        if remembered is not None and quiet is not None and d.id not in remembered and quiet(d):
            continue
        if not selection.takes(d):
            continue
        group = group_of(d, rule.group_by)
        observation = _device(session, kind, d, group, params, facts, settings)
        if observation is not None:
            out.append(observation)
    return out


def _device(
    session: Session,
    kind: RuleKind,
    d: DeviceFacts,
    group: str,
    params: Mapping[str, float],
    facts: Facts,
    settings: Settings,
) -> Observation | None:
    now = facts.now
    name = d.name or d.id
    if kind is RuleKind.OFFLINE:
        late_after, threshold = _offline_limits(params, settings)
        seen = d.last_seen_at or d.created_at
        silent = now - seen
        late = silent > late_after
        failing = silent > threshold
        if not late and not failing:  # heard lately: nothing to say (most screens, every pass)
            return Observation(d.id, name, group)
        silent_since = local(seen, settings.community_tz, "%m-%d %H:%M:%S")
        detail = TEXTS.both("fleet.detail.silent_since", time=silent_since)
        return Observation(
            d.id, name, group, failing=failing, since=seen + threshold, late=late, detail=detail
        )
    if kind is RuleKind.EMERGENCY:
        state = facts.emergencies.get(d.id)
        if state is None or state.started_at is None:
            return Observation(d.id, name, group)
        grace = dt.timedelta(seconds=float(params.get("seconds", 30)))
        shown = _hb(d).get("emergency_version")
        if shown is None:  # a device that does not report what it shows cannot be judged
            return Observation(d.id, name, group)
        reached = shown == state.version and d.last_seen_at is not None and d.last_seen_at >= state.started_at
        due = state.started_at + grace
        return Observation(
            d.id,
            name,
            group,
            failing=not reached and now >= due,
            since=due,
            detail=TEXTS.both("fleet.detail.no_emergency"),
        )
    if not _online(d, now, settings):
        return None  # stale facts; the offline rule speaks for it
    hb = _hb(d)
    if kind is RuleKind.SYNC:
        assessed = health_mod.assess(
            now=now,
            last_seen=d.last_seen_at,
            heartbeat=hb,
            playing=d.playing_manifest,
            latest=d.served_manifest,
            latest_since=d.served_manifest_since,
            hash_since=None,
            schedule_changes=False,
            limits=_limits(settings),
        )
        failing = assessed.sync in ("behind", "failing")
        return Observation(d.id, name, group, failing=failing, detail=sync_detail(hb, assessed.sync))
    if kind is RuleKind.FROZEN:
        frozen_after = dt.timedelta(seconds=settings.frozen_after_s)
        if d.screen_hash_since is None or now - d.screen_hash_since <= frozen_after:
            return Observation(d.id, name, group)
        row = session.get(Device, d.id)  # a candidate: the schedule says whether it should change
        if row is None:
            return None
        assessed = screens.health(session, row, now=now, settings=settings, latest=d.served_manifest)
        since = local(d.screen_hash_since, settings.community_tz, "%m-%d %H:%M")
        detail = TEXTS.both("fleet.detail.same_picture", time=since)
        return Observation(d.id, name, group, failing=assessed.frozen, detail=detail)
    if kind is RuleKind.STORAGE:
        return _storage(d, name, group, hb, params)
    if kind is RuleKind.PERIPHERAL:
        if d.kind != "kiosk":
            return None
        broken = peripheral_problems(hb.get("peripherals"))
        return Observation(d.id, name, group, failing=bool(broken), detail=_joined(broken))
    return None


def _limits(settings: Settings) -> health_mod.Thresholds:
    return health_mod.Thresholds(
        offline_after=dt.timedelta(seconds=settings.offline_after_s),
        behind_after=dt.timedelta(seconds=settings.behind_after_s),
        frozen_after=dt.timedelta(seconds=settings.frozen_after_s),
    )


def _storage(
    d: DeviceFacts, name: str, group: str, hb: Mapping[str, Any], params: Mapping[str, float]
) -> Observation:
    free = int(hb.get("free_disk_bytes") or 0)
    cache = int(hb.get("cache_bytes") or 0)
    if not free and not cache:  # the device does not report its storage
        return Observation(d.id, name, group)
    problems: list[Bilingual] = []
    min_free = float(params.get("min_free_mb", 1024)) * MB
    if free and free < min_free:
        problems.append(TEXTS.both("fleet.detail.free_disk", gb=f"{free / GB:.1f}"))
    budget = int(hb.get("cache_budget_bytes") or 0) or int(float(params.get("cache_budget_mb", 0)) * MB)
    if budget and cache > budget:
        problems.append(
            TEXTS.both("fleet.detail.cache_over", cache=f"{cache / GB:.1f}", budget=f"{budget / GB:.1f}")
        )
    return Observation(d.id, name, group, failing=bool(problems), detail=_joined(problems))


def _joined(parts: Sequence[Bilingual]) -> Bilingual | None:
    if not parts:
        return None
    return Bilingual("；".join(p.zh for p in parts), "; ".join(p.en for p in parts))


def sync_detail(hb: Mapping[str, Any], sync: str) -> Bilingual | None:
    """Why a screen is behind or failing, in both languages."""
    parts: list[Bilingual] = []
    failed, missing, errors = (
        hb.get("failed_items") or (),
        hb.get("missing_assets") or (),
        hb.get("errors") or (),
    )
    if failed:
        parts.append(TEXTS.both("fleet.detail.failing_items", n=len(failed)))
    if missing:
        parts.append(TEXTS.both("fleet.detail.missing_assets", n=len(missing)))
    if errors:
        parts.append(TEXTS.both("fleet.detail.error", text=str(errors[-1])[:160]))
    if sync == "behind":
        parts.append(TEXTS.both("fleet.detail.behind"))
    return _joined(parts)


def peripheral_problems(reported: Any) -> list[Bilingual]:
    """A kiosk's peripherals that are missing or not working, from its heartbeat, in both
    languages (read by ``signage.health.peripheral_states``, as the screens page reads them)."""
    problems: list[Bilingual] = []
    for name, state in sorted(health_mod.peripheral_states(reported)):
        if state == "ok":
            continue
        key = f"fleet.peripheral.{name}"
        shown = TEXTS.both(key) if key in TEXTS else Bilingual(name, name)
        key = "fleet.detail.peripheral_missing" if state == "missing" else "fleet.detail.peripheral_broken"
        problems.append(Bilingual(TEXTS.text(key, "zh", name=shown.zh), TEXTS.text(key, "en", name=shown.en)))
    return problems


def _refused_plays(
    session: Session,
    rule: AlertRule,
    devices: Sequence[DeviceFacts],
    now: dt.datetime,
    params: Mapping[str, float],
    remembered: Collection[str] | None = None,
) -> list[Observation]:
    """A device fails while more of its proof-of-play records than ``refused`` were refused in the last
    ``window_minutes`` (online or not: the counts are what it sent, whenever it sent them)."""
    minutes = float(params.get("window_minutes", 60))
    allowed = int(params.get("refused", 20))
    counts = plays.refusals_since(session, now - dt.timedelta(minutes=minutes))
    out: list[Observation] = []
    selection = Selection(rule.selector)
    for d in devices:
        if remembered is not None and d.id not in counts and d.id not in remembered:
            continue  # nothing refused: quiet (see ``observe``)
        if not selection.takes(d):
            continue
        name, group = d.name or d.id, group_of(d, rule.group_by)
        reasons = counts.get(d.id, {})
        if sum(reasons.values()) <= allowed:
            out.append(Observation(d.id, name, group))
            continue
        out.append(Observation(d.id, name, group, failing=True, detail=refusal_detail(reasons, minutes)))
    return out


def refusal_detail(reasons: Mapping[str, int], minutes: float) -> Bilingual:
    """ "52 proof-of-play record(s) refused in 60 min: no manifest served then 50, in the future 2"."""
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))

    def label(reason: str) -> Bilingual:
        key = f"fleet.refusal.{reason}"
        return TEXTS.both(key) if key in TEXTS else Bilingual(reason, reason)

    listed = Bilingual(
        "，".join(f"{label(r).zh} {n}" for r, n in ranked), ", ".join(f"{label(r).en} {n}" for r, n in ranked)
    )
    n, window = sum(reasons.values()), f"{minutes:g}"
    return Bilingual(
        TEXTS.text("fleet.detail.refused_plays", "zh", n=n, minutes=window, reasons=listed.zh),
        TEXTS.text("fleet.detail.refused_plays", "en", n=n, minutes=window, reasons=listed.en),
    )


MAX_NAMED = 5


def _rollout(paused: updates.SelfPaused) -> Observation:
    """A self-paused rollout fails until it is resumed, aborted or its alert acknowledged (then it is
    no longer among the facts, and its subject recovers)."""
    named = ", ".join(paused.names[:MAX_NAMED]) + (" …" if len(paused.names) > MAX_NAMED else "")
    detail = TEXTS.both("fleet.detail.rollout_failed", n=len(paused.devices), devices=named)
    name = TEXTS.both("fleet.subject.rollout", version=paused.version)
    return Observation(
        paused.rollout_id, name.zh + " · " + name.en, failing=True, since=paused.paused_at, detail=detail
    )


def _payments(session: Session, now: dt.datetime, params: Mapping[str, float]) -> Observation:
    window = dt.timedelta(minutes=float(params.get("window_minutes", 60)))
    failures = int(params.get("failures", 3))
    found = deliveries.failing(session, NOTIFY_SENDER, since=now - window, min_failures=failures)
    failing = found.dead > 0 or found.failing > 0
    detail = TEXTS.both("fleet.detail.payments", dead=found.dead, failing=found.failing)
    if failing and found.last_error:
        detail = Bilingual(f"{detail.zh}：{found.last_error[:160]}", f"{detail.en}: {found.last_error[:160]}")
    name = TEXTS.both("fleet.subject.payments")
    return Observation(NOTIFY_SENDER, name.zh + " · " + name.en, failing=failing, detail=detail)
