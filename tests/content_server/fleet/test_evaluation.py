"""The alert evaluator, pure: hold, clear, flapping, one incident per building, late members, updates,
recovery, escalation, acknowledgement, urgency. Time moves by passing ``now``; nothing sleeps."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from content_server.fleet.evaluation import (
    IncidentState,
    Notice,
    NoticeKind,
    Observation,
    RuleSpec,
    SubjectState,
    evaluate,
)

T0 = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
S = dt.timedelta(seconds=1)
M = dt.timedelta(minutes=1)


@dataclass
class Run:
    """The evaluator's memory between passes, as the service keeps it in the database."""

    rule: RuleSpec
    subjects: dict[str, SubjectState] = field(default_factory=dict)
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=itertools.count)

    def step(self, now: dt.datetime, observations: Iterable[Observation]) -> list[Notice]:
        result = evaluate(
            self.rule,
            list(observations),
            self.subjects,
            [i for i in self.incidents.values() if i.resolved_at is None],
            now=now,
            new_id=lambda: f"inc{next(self.ids)}",
        )
        self.subjects = result.subjects
        for incident in result.incidents:
            self.incidents[incident.id] = incident
        self.notices.extend(result.notices)
        return result.notices

    def open(self) -> list[IncidentState]:
        return [i for i in self.incidents.values() if i.resolved_at is None]

    def kinds(self) -> list[NoticeKind]:
        return [n.kind for n in self.notices]


def obs(subject: str, failing: bool, group: str = "building:3", **kw: object) -> Observation:
    return Observation(subject, f"screen {subject}", group, failing, **kw)  # type: ignore[arg-type]


def test_a_condition_must_hold_before_it_fires() -> None:
    run = Run(RuleSpec("r", hold_for=5 * M, group_wait=dt.timedelta(0)))
    assert run.step(T0, [obs("a", True)]) == []
    assert run.step(T0 + 4 * M, [obs("a", True)]) == []
    assert run.subjects["a"].pending_since == T0 and not run.subjects["a"].firing
    fired = run.step(T0 + 5 * M, [obs("a", True)])
    assert [n.kind for n in fired] == [NoticeKind.FIRING]
    assert [m.subject for m in fired[0].members] == ["a"]


def test_a_condition_that_stops_before_the_hold_never_fires() -> None:
    run = Run(RuleSpec("r", hold_for=5 * M, group_wait=dt.timedelta(0)))
    run.step(T0, [obs("a", True)])
    run.step(T0 + 4 * M, [obs("a", False)])
    run.step(T0 + 6 * M, [obs("a", True)])  # the hold starts again
    assert run.step(T0 + 10 * M, [obs("a", True)]) == []
    assert run.kinds() == []
    assert run.step(T0 + 11 * M, [obs("a", True)])[0].kind is NoticeKind.FIRING


def test_the_facts_may_say_when_the_condition_began() -> None:
    """A screen silent since 06:00 with a 10-minute threshold was offline from 06:10, whenever we look."""
    run = Run(RuleSpec("r", hold_for=dt.timedelta(0), group_wait=dt.timedelta(0)))
    notices = run.step(T0 + 30 * M, [obs("a", True, since=T0 + 10 * M)])
    assert notices[0].kind is NoticeKind.FIRING
    assert run.subjects["a"].pending_since == T0 + 10 * M
    # a "since" in the future (a clock ahead somewhere) counts from now
    run2 = Run(RuleSpec("r", hold_for=M, group_wait=dt.timedelta(0)))
    run2.step(T0, [obs("a", True, since=T0 + 10 * M)])
    assert run2.subjects["a"].pending_since == T0


def test_recovery_needs_the_condition_clear_for_a_while_and_is_announced_once() -> None:
    run = Run(RuleSpec("r", clear_for=2 * M, group_wait=dt.timedelta(0)))
    run.step(T0, [obs("a", True)])
    assert run.step(T0 + M, [obs("a", False)]) == []  # clearing, not yet clear
    assert run.step(T0 + 2 * M, [obs("a", True)]) == []  # back again: no message, same incident
    run.step(T0 + 3 * M, [obs("a", False)])
    assert run.step(T0 + 4 * M, [obs("a", False)]) == []
    recovered = run.step(T0 + 5 * M, [obs("a", False)])
    assert [n.kind for n in recovered] == [NoticeKind.RECOVERY]
    assert [m.subject for m in recovered[0].members] == ["a"]
    assert run.open() == [] and run.subjects["a"].incident is None
    assert run.step(T0 + 6 * M, [obs("a", False)]) == []
    assert run.kinds() == [NoticeKind.FIRING, NoticeKind.RECOVERY]


def test_a_building_going_dark_is_one_message_listing_its_screens_late_ones_included() -> None:
    """20 screens of building 3 lose their network at 06:00. Their last heartbeats are spread over the
    minute before; the first crosses the 10-minute threshold at 06:09:03 and, once the group wait
    has passed, one message names all 20: those past the threshold and those still 'late'."""
    threshold = 10 * M
    run = Run(RuleSpec("offline", group_wait=20 * S))
    last_seen = {f"s{i:02d}": T0 - 60 * S + i * 3 * S for i in range(20)}
    others = {"x1": "building:4", "x2": ""}

    def observe(now: dt.datetime) -> list[Observation]:
        out = [
            obs(s, now - seen > threshold, since=seen + threshold, late=now - seen > 2 * M)
            for s, seen in last_seen.items()
        ]
        out += [obs(s, False, group=g) for s, g in others.items()]
        return out

    notices: list[Notice] = []
    now = T0
    while now <= T0 + 30 * M:
        notices += run.step(now, observe(now))
        now += 5 * S
    firing = [n for n in notices if n.kind is NoticeKind.FIRING]
    assert len(firing) == 1
    assert sorted(m.subject for m in firing[0].members) == sorted(last_seen)
    assert firing[0].group == "building:3"
    assert any(m.late for m in firing[0].members) and any(not m.late for m in firing[0].members)
    # the rest crossing the threshold later makes no further message: they were named
    assert [n.kind for n in notices] == [NoticeKind.FIRING]
    # the whole building comes back: one recovery
    back = [obs(s, False) for s in last_seen] + [obs(s, False, group=g) for s, g in others.items()]
    later = run.step(T0 + 31 * M, back) + run.step(T0 + 34 * M, back)
    assert [n.kind for n in later] == [NoticeKind.RECOVERY]
    assert len(later[0].members) == 20


def test_a_building_back_over_several_passes_is_named_whole_by_its_recovery() -> None:
    """The duty team was told of 20 screens; they come back in three waves, the last one a
    screen that was only late when the message went out. The recovery names all 20, none of them
    as still silent, and none that the messages never named."""
    run = Run(RuleSpec("offline", group_wait=dt.timedelta(0), clear_for=M, group_interval=10 * M))
    screens = [f"s{i:02d}" for i in range(20)]
    dark = [obs(s, True) for s in screens[:19]] + [obs(screens[19], False, late=True)]
    run.step(T0, dark)
    assert [len(n.members) for n in run.notices] == [20]
    run.step(T0 + 5 * S, [*dark, obs("z9", True)])  # a 21st fails after the message: not named yet
    waves = [screens[:8], screens[8:19], [*screens[19:], "z9"]]
    now = T0 + 10 * S
    back: list[str] = []
    for wave in waves:
        back += wave
        seen = [obs(s, s not in back) for s in [*screens, "z9"]]
        run.step(now, seen)
        now += 2 * M  # each wave clear for longer than clear_for before the next
        run.step(now, seen)
    recovery = [n for n in run.notices if n.kind is NoticeKind.RECOVERY]
    assert len(recovery) == 1
    assert [m.subject for m in recovery[0].members] == screens
    assert not any(m.late for m in recovery[0].members)
    assert run.open() == []


def test_separate_buildings_make_separate_incidents_and_late_screens_never_open_one() -> None:
    run = Run(RuleSpec("offline", group_wait=dt.timedelta(0)))
    notices = run.step(
        T0,
        [
            obs("a", True, group="building:1"),
            obs("b", True, group="building:2"),
            obs("c", False, group="building:5", late=True),
        ],
    )
    assert sorted(n.group for n in notices) == ["building:1", "building:2"]
    assert "c" not in run.subjects and len(run.open()) == 2  # nothing to remember about c


def test_a_late_screen_joins_an_open_incident_and_leaves_when_it_is_heard_again() -> None:
    run = Run(RuleSpec("offline", group_wait=dt.timedelta(0), clear_for=M))
    run.step(T0, [obs("a", True), obs("b", False, late=True)])
    incident = run.open()[0]
    assert {m.subject for m in incident.members} == {"a", "b"}
    assert {m.subject: m.late for m in incident.members} == {"a": False, "b": True}
    run.step(T0 + 10 * S, [obs("a", True), obs("b", False)])  # b sent a heartbeat
    assert [m.subject for m in run.open()[0].members] == ["a"]
    assert run.subjects.get("b") is None or run.subjects["b"].incident is None


def test_an_incident_of_late_screens_alone_closes_without_a_word() -> None:
    """The one firing screen recovers before the group wait: nothing was said, nothing is said."""
    run = Run(RuleSpec("offline", group_wait=30 * S, clear_for=dt.timedelta(0)))
    run.step(T0, [obs("a", True), obs("b", False, late=True)])
    run.step(T0 + 10 * S, [obs("a", False), obs("b", False, late=True)])
    assert run.open() == [] and run.notices == []


def test_screens_failing_after_the_first_message_make_one_update_per_interval() -> None:
    run = Run(RuleSpec("sync", group_wait=dt.timedelta(0), group_interval=5 * M))
    run.step(T0, [obs("a", True), obs("b", False), obs("c", False)])
    assert run.step(T0 + M, [obs("a", True), obs("b", True), obs("c", False)]) == []  # within the interval
    assert run.step(T0 + 2 * M, [obs("a", True), obs("b", True), obs("c", True)]) == []
    update = run.step(T0 + 5 * M, [obs("a", True), obs("b", True), obs("c", True)])
    assert [n.kind for n in update] == [NoticeKind.UPDATE]
    assert sorted(m.subject for m in update[0].added) == ["b", "c"] and update[0].number == 1
    assert run.step(T0 + 11 * M, [obs("a", True), obs("b", True), obs("c", True)]) == []  # nobody new


def test_flapping_is_damped_a_screen_that_keeps_coming_back_must_stay_back_longer() -> None:
    rule = RuleSpec(
        "r",
        group_wait=dt.timedelta(0),
        clear_for=M,
        flap_count=3,
        flap_window=dt.timedelta(hours=1),
        flap_clear=15 * M,
    )
    run = Run(rule)
    now = T0
    # for an hour: down for 2 minutes, then back for 4 (long enough to count as recovered, undamped)
    for i in range(30):
        run.step(now, [obs("a", i % 3 == 0)])
        now += 2 * M
    kinds = run.kinds()
    assert kinds.count(NoticeKind.FIRING) == 3, kinds  # undamped: 10 alerts and 10 recoveries
    assert kinds.count(NoticeKind.RECOVERY) == 2
    assert run.open() and run.open()[0].flapping
    # once it stays well, it recovers after the flap clear time
    for _ in range(10):
        run.step(now, [obs("a", False)])
        now += 2 * M
    assert run.kinds()[-1] is NoticeKind.RECOVERY and run.open() == []


def test_unacknowledged_alerts_escalate_once_and_acknowledging_stops_it() -> None:
    rule = RuleSpec("r", group_wait=dt.timedelta(0), escalate_after=30 * M)
    run = Run(rule)
    run.step(T0, [obs("a", True)])
    assert run.step(T0 + 29 * M, [obs("a", True)]) == []
    escalated = run.step(T0 + 30 * M, [obs("a", True)])
    assert [n.kind for n in escalated] == [NoticeKind.ESCALATION]
    assert run.step(T0 + 90 * M, [obs("a", True)]) == []  # once
    # another incident, acknowledged in time: no escalation
    run2 = Run(rule)
    run2.step(T0, [obs("a", True)])
    incident = run2.open()[0]
    run2.incidents[incident.id] = replace(incident, acknowledged_at=T0 + 10 * M)
    assert run2.step(T0 + 45 * M, [obs("a", True)]) == []
    assert NoticeKind.ESCALATION not in run2.kinds()


def test_emergencies_do_not_wait_to_gather() -> None:
    run = Run(RuleSpec("emergency", group_wait=dt.timedelta(minutes=10), urgent=True))
    notices = run.step(T0, [obs("a", True), obs("b", True)])
    assert [n.kind for n in notices] == [NoticeKind.FIRING] and notices[0].urgent
    assert len(notices[0].members) == 2


def test_a_subject_that_disappears_counts_as_recovered() -> None:
    """A revoked screen, or one a rule's selection no longer takes, leaves its incident."""
    run = Run(RuleSpec("r", group_wait=dt.timedelta(0), clear_for=dt.timedelta(0)))
    run.step(T0, [obs("a", True), obs("b", True)])
    run.step(T0 + M, [obs("a", True)])
    assert [m.subject for m in run.open()[0].members] == ["a"]
    recovered = run.step(T0 + 2 * M, [])
    assert [n.kind for n in recovered] == [NoticeKind.RECOVERY] and run.open() == []
    assert all(not st.firing and st.incident is None for st in run.subjects.values())


def test_the_state_survives_a_round_trip_and_passes_are_repeatable() -> None:
    """The same facts at the same time give the same result: a pass repeated after a crash
    decides what the lost one would have (the queue's keys then send each message once)."""
    rule = RuleSpec("r", group_wait=10 * S)
    before = Run(rule)
    before.step(T0, [obs("a", True)])
    snapshot_subjects, snapshot_incidents = dict(before.subjects), dict(before.incidents)
    first = evaluate(
        rule,
        [obs("a", True)],
        snapshot_subjects,
        list(snapshot_incidents.values()),
        now=T0 + 20 * S,
        new_id=lambda: "never",
    )
    second = evaluate(
        rule,
        [obs("a", True)],
        snapshot_subjects,
        list(snapshot_incidents.values()),
        now=T0 + 20 * S,
        new_id=lambda: "never",
    )
    assert first == second and [n.kind for n in first.notices] == [NoticeKind.FIRING]


def test_quiet_subjects_are_forgotten() -> None:
    run = Run(RuleSpec("r"))
    run.step(T0, [obs(str(i), False) for i in range(100)])
    assert run.subjects == {}


def test_rules_reading_heartbeat_contents_are_looked_at_every_30_s_the_others_every_pass() -> None:
    from content_server.fleet.rule_kinds import RuleKind, due

    assert due(RuleKind.OFFLINE, None, 100.0, 5) and due(RuleKind.SYNC, None, 100.0, 5)
    assert due(RuleKind.OFFLINE, 100.0, 105.0, 5) and due(RuleKind.EMERGENCY, 100.0, 105.0, 5)
    assert not due(RuleKind.SYNC, 100.0, 105.0, 5) and not due(RuleKind.STORAGE, 100.0, 120.0, 5)
    assert due(RuleKind.STORAGE, 100.0, 130.0, 5) and due(RuleKind.FROZEN, 100.0, 160.0, 60)
    assert not due(RuleKind.PERIPHERAL, 100.0, 150.0, 60)
