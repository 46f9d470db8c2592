"""Alert rule evaluation: what the fleet reports becomes incidents and notices. Pure; time passed in.

One call evaluates one rule at ``now``, given its observations (one per subject: a screen, a
kiosk, a CAP feed, the payment notifications), each subject's alert state from the last pass,
and the rule's open incidents. The rules of the game, as a duty team wants them:

- **hold**: a condition must hold for ``hold_for`` before its subject fires (``since`` lets the
  facts say when it began: a screen is offline from its last heartbeat plus the threshold);
- **clear**: a firing subject recovers only after ``clear_for`` without the condition;
- **flapping**: a subject that began firing ``flap_count`` times within ``flap_window`` must stay
  clear for ``flap_clear`` instead, so an unstable screen costs a message pair per
  ``flap_clear`` at most;
- **grouping**: firing subjects of one group (a building) share one incident; its first notice
  waits ``group_wait`` to gather those failing together, and names the group's *late* subjects
  too (silent past their heartbeat, not yet past the threshold: the same outage arriving), so 20
  screens of a building going dark make one message; subjects firing later in an incident that
  was notified make an *update*, at most every ``group_interval``;
- **recovery**: when every member of a notified incident has recovered, one recovery notice
  naming everyone its notices named, also those back before the last (a building whose screens
  return over a few passes is named whole);
- **escalation**: a notified incident not acknowledged within ``escalate_after`` escalates once.

Quiet hours and channels are the caller's: each notice says whether it is ``urgent``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from schedules.bilingual import Bilingual


class NoticeKind(StrEnum):
    FIRING = "firing"
    UPDATE = "update"
    RECOVERY = "recovery"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class RuleSpec:
    """The timing of one rule (what it checks is in its observations)."""

    id: str
    hold_for: dt.timedelta = dt.timedelta(0)
    clear_for: dt.timedelta = dt.timedelta(minutes=2)
    group_wait: dt.timedelta = dt.timedelta(seconds=10)
    group_interval: dt.timedelta = dt.timedelta(minutes=5)
    escalate_after: dt.timedelta | None = None
    flap_count: int = 3
    flap_window: dt.timedelta = dt.timedelta(hours=1)
    flap_clear: dt.timedelta = dt.timedelta(minutes=15)
    urgent: bool = False  # emergencies: no group wait, no quiet hours


@dataclass(frozen=True)
class Observation:
    """What the facts say about one subject now."""

    subject: str
    name: str
    group: str = ""  # the grouping key: a building, a screen group, "" for none
    failing: bool = False  # the rule's condition holds
    detail: Bilingual | None = None  # for people: "silent since 14:02", "0.4 GB free"
    since: dt.datetime | None = None  # when the condition began, when the facts know it
    late: bool = False  # a weaker sign of the same trouble: joins an open incident, never opens one


@dataclass(frozen=True)
class SubjectState:
    """A subject's alert state between passes (subjects with nothing going on are not kept)."""

    subject: str
    name: str
    group: str = ""
    detail: Bilingual | None = None
    pending_since: dt.datetime | None = None  # condition true since (before or while firing)
    firing: bool = False
    fired_at: dt.datetime | None = None
    clear_since: dt.datetime | None = None  # firing, but the condition has been false since
    fires: tuple[dt.datetime, ...] = ()  # when it began firing, within the flap window
    incident: str | None = None
    late: bool = False  # in its incident as a late member, not firing itself

    @property
    def quiet(self) -> bool:
        """Nothing to remember about it."""
        return not (self.pending_since or self.firing or self.incident or self.fires)


@dataclass(frozen=True)
class Member:
    """A subject as a notice names it."""

    subject: str
    name: str
    detail: Bilingual | None
    late: bool = False


@dataclass(frozen=True)
class IncidentState:
    id: str
    rule: str
    group: str
    opened_at: dt.datetime
    members: tuple[Member, ...] = ()
    notified_at: dt.datetime | None = None
    named: tuple[str, ...] = ()  # subjects named in notices so far
    last_notice_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    flapping: bool = False
    urgent: bool = False
    updates: int = 0  # update notices so far
    left: tuple[Member, ...] = ()  # members that recovered while it stayed open (for its recovery)


@dataclass(frozen=True)
class Notice:
    """A message to send about an incident."""

    kind: NoticeKind
    incident: str
    rule: str
    group: str
    members: tuple[Member, ...]  # who is affected now (for recovery: who was)
    added: tuple[Member, ...] = ()  # for an update: who joined since the last notice
    opened_at: dt.datetime | None = None
    urgent: bool = False
    number: int = 0  # the n-th notice of this kind for the incident (updates count up)


@dataclass(frozen=True)
class Result:
    subjects: dict[str, SubjectState]  # every subject with something to remember
    incidents: list[IncidentState]  # every incident this pass touched, open or just resolved
    notices: list[Notice] = field(default_factory=list)


def _recent(times: Iterable[dt.datetime], now: dt.datetime, window: dt.timedelta) -> tuple[dt.datetime, ...]:
    return tuple(t for t in times if now - t <= window)


def _step_subject(
    rule: RuleSpec, st: SubjectState, obs: Observation | None, now: dt.datetime
) -> SubjectState:
    """One subject's hold / fire / clear / flap transition."""
    if obs is not None:
        st = replace(st, name=obs.name, group=obs.group, detail=obs.detail or st.detail)
    fires = _recent(st.fires, now, rule.flap_window)
    flapping = len(fires) >= rule.flap_count
    if obs is not None and obs.failing:
        began = obs.since if obs.since is not None and obs.since <= now else now
        since = st.pending_since or began
        st = replace(st, pending_since=since, clear_since=None, fires=fires, late=False)
        if not st.firing and now >= since + rule.hold_for:
            st = replace(st, firing=True, fired_at=now, fires=(*fires, now))
        return st
    st = replace(
        st, pending_since=None, fires=fires, late=bool(obs is not None and obs.late and not st.firing)
    )
    if st.firing:
        clear_since = st.clear_since or now
        needed = rule.flap_clear if flapping else rule.clear_for
        if now - clear_since >= needed:
            return replace(st, firing=False, clear_since=None, fired_at=None)
        return replace(st, clear_since=clear_since)
    return st


def _left(incident: IncidentState, members: tuple[Member, ...]) -> tuple[Member, ...]:
    """``incident.left`` plus its last pass's members that are no longer in it."""
    now_in = {m.subject for m in members}
    gone = [m for m in incident.members if m.subject not in now_in]
    if not gone:
        return incident.left
    by_subject = {m.subject: m for m in incident.left} | {m.subject: m for m in gone}
    return tuple(by_subject[s] for s in sorted(by_subject))


def _recovered(incident: IncidentState) -> tuple[Member, ...]:
    """Who a recovery notice names: every member its notices named, back now (none still late)."""
    who = {m.subject: m for m in incident.left} | {m.subject: m for m in incident.members}
    named = set(incident.named)
    return tuple(replace(who[s], late=False) for s in sorted(who) if s in named)


def _member(st: SubjectState) -> Member:
    return Member(st.subject, st.name, st.detail, late=not st.firing)


def evaluate(
    rule: RuleSpec,
    observations: Iterable[Observation],
    subjects: Mapping[str, SubjectState],
    incidents: Iterable[IncidentState],
    *,
    now: dt.datetime,
    new_id: Callable[[], str],
) -> Result:
    """One pass of ``rule`` at ``now``."""
    # a quiet observation of a subject with nothing remembered changes nothing: skipped early
    # (thousands of healthy screens every few seconds)
    seen = {o.subject: o for o in observations if o.failing or o.late or o.subject in subjects}
    states: dict[str, SubjectState] = {}
    for subject in seen.keys() | subjects.keys():
        previous = subjects.get(subject) or SubjectState(subject, seen[subject].name)
        states[subject] = _step_subject(rule, previous, seen.get(subject), now)

    open_incidents = {i.id: i for i in incidents if i.resolved_at is None}
    by_group = {i.group: i.id for i in sorted(open_incidents.values(), key=lambda i: i.opened_at)}
    touched: set[str] = set()

    # membership: firing subjects join (or open) their group's incident; late ones only join
    for subject, st in sorted(states.items()):
        if st.incident is not None and st.incident not in open_incidents:
            st = states[subject] = replace(st, incident=None)
        if st.incident is not None:
            keep = st.firing or (st.late and subject in seen)
            if not keep:
                states[subject] = replace(st, incident=None, late=False)
                touched.add(st.incident)
            continue
        if st.firing:
            incident_id = by_group.get(st.group)
            if incident_id is None:
                incident_id = new_id()
                open_incidents[incident_id] = IncidentState(
                    incident_id, rule.id, st.group, now, urgent=rule.urgent
                )
                by_group[st.group] = incident_id
            states[subject] = replace(st, incident=incident_id, late=False)
            touched.add(incident_id)
    for subject, st in sorted(states.items()):
        if st.incident is None and st.late and not st.firing and st.group in by_group:
            states[subject] = replace(st, incident=by_group[st.group])
            touched.add(by_group[st.group])

    # each open incident: members, notices (members gathered in one sorted pass: an outage has
    # thousands of subjects in tens of incidents)
    notices: list[Notice] = []
    result_incidents: list[IncidentState] = []
    in_incident: dict[str, list[SubjectState]] = {}
    for _, s in sorted(states.items()):
        if s.incident is not None:
            in_incident.setdefault(s.incident, []).append(s)
    for incident in sorted(open_incidents.values(), key=lambda i: (i.opened_at, i.id)):
        members = tuple(_member(s) for s in in_incident.get(incident.id, ()))
        firing = [m for m in members if not m.late]
        flapping = any(len(states[m.subject].fires) >= rule.flap_count for m in members)
        left = _left(incident, members)
        updated = replace(incident, members=members, flapping=flapping, left=left)
        if not firing:  # every firing member recovered (late ones alone do not keep it open)
            for m in members:
                states[m.subject] = replace(states[m.subject], incident=None, late=False)
            updated = replace(updated, members=(), resolved_at=now)
            if incident.notified_at is not None:
                notices.append(
                    Notice(
                        NoticeKind.RECOVERY,
                        incident.id,
                        rule.id,
                        incident.group,
                        _recovered(incident),
                        opened_at=incident.opened_at,
                        urgent=rule.urgent,
                    )
                )
            result_incidents.append(updated)
            continue
        if incident.notified_at is None:
            wait = dt.timedelta(0) if rule.urgent else rule.group_wait
            if now - incident.opened_at >= wait:
                notices.append(
                    Notice(
                        NoticeKind.FIRING,
                        incident.id,
                        rule.id,
                        incident.group,
                        members,
                        opened_at=incident.opened_at,
                        urgent=rule.urgent,
                    )
                )
                updated = replace(
                    updated, notified_at=now, last_notice_at=now, named=tuple(m.subject for m in members)
                )
        else:
            added = tuple(m for m in firing if m.subject not in incident.named)
            last = incident.last_notice_at or incident.notified_at
            if added and now - last >= rule.group_interval:
                number = incident.updates + 1
                notices.append(
                    Notice(
                        NoticeKind.UPDATE,
                        incident.id,
                        rule.id,
                        incident.group,
                        members,
                        added,
                        incident.opened_at,
                        rule.urgent,
                        number,
                    )
                )
                updated = replace(
                    updated,
                    last_notice_at=now,
                    updates=number,
                    named=(*incident.named, *(m.subject for m in added)),
                )
            if (
                rule.escalate_after is not None
                and incident.acknowledged_at is None
                and incident.escalated_at is None
                and now - incident.notified_at >= rule.escalate_after
            ):
                notices.append(
                    Notice(
                        NoticeKind.ESCALATION,
                        incident.id,
                        rule.id,
                        incident.group,
                        members,
                        opened_at=incident.opened_at,
                        urgent=rule.urgent,
                    )
                )
                updated = replace(updated, escalated_at=now)
        if updated != incident or incident.id in touched:
            result_incidents.append(updated)
    kept = {s: st for s, st in states.items() if not st.quiet}
    return Result(kept, result_incidents, notices)
