"""Alert rules: create, change, remove, list; the evaluator's view of a rule (its timing)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from content_server.core.errors import NotFound
from content_server.fleet.errors import FieldInvalid
from content_server.fleet.evaluation import RuleSpec
from content_server.fleet.models import AlertRule, Channel, Incident
from content_server.fleet.rule_kinds import GROUP_BY, RuleError, RuleKind, Timing, check_params


class Selector(BaseModel):
    """Which screens a rule watches: any of these groups, tags, classes, kinds (empty: all)."""

    model_config = ConfigDict(extra="forbid")

    groups: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=50)
    screen_classes: list[str] = Field(default_factory=list, max_length=10)
    kinds: list[str] = Field(default_factory=list, max_length=2)


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    kind: RuleKind
    enabled: bool = True
    selector: Selector = Field(default_factory=Selector)
    params: dict[str, float] = Field(default_factory=dict)
    hold_for_s: int = 0
    clear_for_s: int = 120
    group_wait_s: int = 10
    group_by: str = "building"
    escalate_after_s: int = 0
    channel_ids: list[str] = Field(default_factory=list, max_length=20)
    escalate_channel_ids: list[str] = Field(default_factory=list, max_length=20)


def _check(session: Session, data: RuleIn) -> tuple[dict[str, float], Timing]:
    try:
        params = check_params(data.kind, data.params)
        timing = Timing(data.hold_for_s, data.clear_for_s, data.group_wait_s, data.escalate_after_s).check()
    except RuleError as exc:
        raise FieldInvalid(exc.field, str(exc).split(": ", 1)[-1]) from None
    if data.group_by not in GROUP_BY:
        raise FieldInvalid("group_by", f"one of {', '.join(GROUP_BY)}")
    wanted = set(data.channel_ids) | set(data.escalate_channel_ids)
    known = set(session.scalars(select(Channel.id).where(Channel.id.in_(wanted)))) if wanted else set()
    if wanted - known:
        raise FieldInvalid("channel_ids", f"unknown channel {sorted(wanted - known)[0]}")
    return params, timing


def _apply(rule: AlertRule, data: RuleIn, params: dict[str, float], timing: Timing, now: dt.datetime) -> None:
    rule.name, rule.enabled, rule.params = data.name, data.enabled, params
    rule.selector = {k: sorted(set(v)) for k, v in data.selector.model_dump().items() if v}
    rule.hold_for_s, rule.clear_for_s = timing.hold_for_s, timing.clear_for_s
    rule.group_wait_s, rule.escalate_after_s = timing.group_wait_s, timing.escalate_after_s
    rule.group_by = data.group_by
    rule.channel_ids, rule.escalate_channel_ids = list(data.channel_ids), list(data.escalate_channel_ids)
    rule.updated_at = now


def create(session: Session, data: RuleIn, *, now: dt.datetime) -> AlertRule:
    params, timing = _check(session, data)
    rule = AlertRule(kind=data.kind.value, created_at=now)
    _apply(rule, data, params, timing, now)
    session.add(rule)
    session.commit()
    return rule


def get(session: Session, rule_id: str) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound("unknown alert rule")
    return rule


def update_rule(session: Session, rule_id: str, data: RuleIn, *, now: dt.datetime) -> AlertRule:
    rule = get(session, rule_id)
    if data.kind.value != rule.kind:
        raise FieldInvalid("kind", "a rule keeps its kind; make a new rule instead")
    params, timing = _check(session, data)
    _apply(rule, data, params, timing, now)
    session.commit()
    return rule


def delete(session: Session, rule_id: str, *, now: dt.datetime) -> None:
    """Remove a rule; its open incidents close without a message (nobody watches for them now)."""
    rule = get(session, rule_id)
    session.execute(
        update(Incident)
        .where(Incident.rule_id == rule.id, Incident.resolved_at.is_(None))
        .values(resolved_at=now)
    )
    session.delete(rule)
    session.commit()


def listing(session: Session) -> list[AlertRule]:
    """Rules as operators read them: the defaults in their order, then the ones they made."""
    order = {kind.value: n for n, kind in enumerate(RuleKind)}
    found = session.scalars(select(AlertRule))
    return sorted(found, key=lambda r: (not r.builtin, r.created_at, order.get(r.kind, 99), r.name))


def spec(rule: AlertRule) -> RuleSpec:
    """The evaluator's view of a rule."""
    return RuleSpec(
        id=rule.id,
        hold_for=dt.timedelta(seconds=rule.hold_for_s),
        clear_for=dt.timedelta(seconds=rule.clear_for_s),
        group_wait=dt.timedelta(seconds=rule.group_wait_s),
        escalate_after=dt.timedelta(seconds=rule.escalate_after_s) if rule.escalate_after_s else None,
        urgent=rule.kind == RuleKind.EMERGENCY.value,
    )
