"""The fleet feature's JSON API (operators only) and the Prometheus endpoint (its own token)."""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from content_server.core.audit import services as audit
from content_server.core.delivery import services as deliveries
from content_server.core.delivery.models import Delivery, DeliveryAttempt
from content_server.core.deps import NowDep, Operator, SessionDep, SettingsDep, bearer_token
from content_server.core.errors import Invalid, NotFound, Unauthorized
from content_server.fleet import channel_config
from content_server.fleet.models import AlertRule, Channel, Incident
from content_server.fleet.services import channels, incidents, metrics, rules
from content_server.fleet.services.channels import ChannelIn
from content_server.fleet.services.rules import RuleIn

router = APIRouter(tags=["fleet"])
metrics_router = APIRouter(tags=["metrics"])


class RuleOut(BaseModel):
    id: str
    name: str
    kind: str
    enabled: bool
    selector: dict[str, list[str]]
    params: dict[str, float]
    hold_for_s: int
    clear_for_s: int
    group_wait_s: int
    group_by: str
    escalate_after_s: int
    channel_ids: list[str]
    escalate_channel_ids: list[str]
    builtin: bool

    @classmethod
    def of(cls, r: AlertRule) -> RuleOut:
        return cls.model_validate(r, from_attributes=True)


class ChannelOut(BaseModel):
    id: str
    name: str
    kind: str
    config: dict[str, Any]  # secrets masked
    language: str
    quiet_start: str
    quiet_end: str
    timezone: str
    escalation: bool
    enabled: bool
    webhook_secret: str | None = None  # shown once, when a webhook channel is made

    @classmethod
    def of(cls, c: Channel, *, show_secret: bool = False) -> ChannelOut:
        secret = c.config.get("secret") if show_secret and c.kind == "webhook" else None
        return cls(
            id=c.id,
            name=c.name,
            kind=c.kind,
            config=channel_config.public(c.config),
            language=c.language,
            quiet_start=c.quiet_start,
            quiet_end=c.quiet_end,
            timezone=c.timezone,
            escalation=c.escalation,
            enabled=c.enabled,
            webhook_secret=secret,
        )


class IncidentOut(BaseModel):
    id: str
    rule_id: str | None
    rule_name: str
    kind: str
    group: str
    opened_at: dt.datetime
    resolved_at: dt.datetime | None
    members: list[dict[str, Any]]
    notified_at: dt.datetime | None
    escalated_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    ack_note: str
    flapping: bool
    urgent: bool

    @classmethod
    def of(cls, i: Incident) -> IncidentOut:
        return cls.model_validate(i, from_attributes=True)


class AckIn(BaseModel):
    note: str = Field(min_length=1, max_length=incidents.MAX_NOTE)


class AttemptOut(BaseModel):
    number: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    worker: str
    ok: bool | None
    detail: str


class DeliveryOut(BaseModel):
    id: str
    key: str
    sender: str
    topic: str
    source: str
    state: str
    urgent: bool
    attempts: int
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    last_error: str
    history: list[AttemptOut] = Field(default_factory=list)

    @classmethod
    def of(cls, d: Delivery, history: list[DeliveryAttempt] | None = None) -> DeliveryOut:
        out = cls.model_validate(d, from_attributes=True)
        out.history = [AttemptOut.model_validate(a, from_attributes=True) for a in history or ()]
        return out


class AuditOut(BaseModel):
    seq: int
    at: dt.datetime
    actor_kind: str
    actor_id: str
    actor_name: str
    role: str
    address: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    first_seq: int | None
    last_seq: int | None
    broken_seq: int | None
    reason: str


# ---- rules ----------------------------------------------------------------------------------


@router.get("/fleet/rules", response_model=list[RuleOut])
def list_rules(session: SessionDep, _op: Operator) -> list[RuleOut]:
    return [RuleOut.of(r) for r in rules.listing(session)]


@router.post("/fleet/rules", response_model=RuleOut, status_code=201)
def create_rule(body: RuleIn, session: SessionDep, now: NowDep, _op: Operator) -> RuleOut:
    return RuleOut.of(rules.create(session, body, now=now))


@router.put("/fleet/rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: str, body: RuleIn, session: SessionDep, now: NowDep, _op: Operator) -> RuleOut:
    return RuleOut.of(rules.update_rule(session, rule_id, body, now=now))


@router.delete("/fleet/rules/{rule_id}", status_code=204, response_class=Response)
def delete_rule(rule_id: str, session: SessionDep, now: NowDep, _op: Operator) -> Response:
    rules.delete(session, rule_id, now=now)
    return Response(status_code=204)


# ---- channels -------------------------------------------------------------------------------


@router.get("/fleet/channels", response_model=list[ChannelOut])
def list_channels(session: SessionDep, _op: Operator) -> list[ChannelOut]:
    return [ChannelOut.of(c) for c in channels.listing(session)]


@router.post("/fleet/channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelIn, session: SessionDep, now: NowDep, _op: Operator) -> ChannelOut:
    """A webhook channel's signing secret is in the answer this once (keep it for the receiver)."""
    return ChannelOut.of(channels.create(session, body, now=now), show_secret=True)


@router.put("/fleet/channels/{channel_id}", response_model=ChannelOut)
def update_channel(
    channel_id: str, body: ChannelIn, session: SessionDep, now: NowDep, _op: Operator
) -> ChannelOut:
    """Masked secrets (``***``, the masked URL) sent back unchanged keep the stored ones."""
    return ChannelOut.of(channels.update(session, channel_id, body, now=now))


@router.delete("/fleet/channels/{channel_id}", status_code=204, response_class=Response)
def delete_channel(channel_id: str, session: SessionDep, _op: Operator) -> Response:
    channels.delete(session, channel_id)
    return Response(status_code=204)


@router.post("/fleet/channels/{channel_id}/test", response_model=DeliveryOut, status_code=202)
def test_channel(
    channel_id: str, session: SessionDep, now: NowDep, settings: SettingsDep, _op: Operator
) -> DeliveryOut:
    """Queue a test message; follow it at ``/deliveries/{id}``."""
    return DeliveryOut.of(channels.send_test(session, channel_id, now=now, tz=settings.community_tz))


# ---- alerts ---------------------------------------------------------------------------------


@router.get("/fleet/alerts", response_model=list[IncidentOut])
def list_alerts(
    session: SessionDep, now: NowDep, _op: Operator, days: Annotated[float, Query(gt=0, le=90)] = 7
) -> list[IncidentOut]:
    """Open alerts and those resolved in the last ``days``, newest first."""
    return [IncidentOut.of(i) for i in incidents.recent(session, since=now - dt.timedelta(days=days))]


@router.post("/fleet/alerts/{incident_id}/acknowledge", response_model=IncidentOut)
def acknowledge(incident_id: str, body: AckIn, session: SessionDep, now: NowDep, op: Operator) -> IncidentOut:
    return IncidentOut.of(incidents.acknowledge(session, incident_id, user=op, note=body.note, now=now))


# ---- deliveries -----------------------------------------------------------------------------


@router.get("/deliveries", response_model=list[DeliveryOut])
def list_deliveries(
    session: SessionDep,
    _op: Operator,
    state: Annotated[str | None, Query(max_length=16)] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> list[DeliveryOut]:
    """Outbound messages, newest first (``state=dead``: the dead letters)."""
    found = deliveries.listing(session, state=state, source=source, limit=limit, offset=offset)
    return [DeliveryOut.of(d) for d in found]


@router.get("/deliveries/{delivery_id}", response_model=DeliveryOut)
def get_delivery(delivery_id: str, session: SessionDep, _op: Operator) -> DeliveryOut:
    return DeliveryOut.of(deliveries.get(session, delivery_id), deliveries.attempts(session, delivery_id))


@router.post("/deliveries/{delivery_id}/send-again", response_model=DeliveryOut)
def send_again(delivery_id: str, session: SessionDep, now: NowDep, _op: Operator) -> DeliveryOut:
    return DeliveryOut.of(deliveries.send_again(session, delivery_id, now=now))


# ---- audit trail ----------------------------------------------------------------------------


def audit_filter(
    person: Annotated[str, Query(max_length=100)] = "",
    screen: Annotated[str, Query(max_length=64)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> audit.AuditFilter:
    """The trail's filters: person (name or id), screen (id), action (or its start), time range."""
    for value in (since, until):
        if value is not None and value.tzinfo is None:
            raise Invalid("since/until: give a time zone, e.g. 2026-12-01T00:00:00+08:00")
    return audit.AuditFilter(
        person=person.strip(), screen=screen.strip(), action=action.strip(), since=since, until=until
    )


AuditQuery = Annotated[audit.AuditFilter, Depends(audit_filter)]


@router.get("/audit", response_model=list[AuditOut])
def audit_trail(
    session: SessionDep,
    _op: Operator,
    f: AuditQuery,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=10**7)] = 0,
) -> list[AuditOut]:
    """The audit trail, newest first."""
    found = audit.search(session, f, limit=limit, offset=offset)
    return [AuditOut.model_validate(r, from_attributes=True) for r in found]


@router.get("/audit.csv", response_class=Response)
def audit_csv(session: SessionDep, _op: Operator, f: AuditQuery) -> Response:
    """The filtered trail as CSV (oldest first), through the server's one CSV writer."""
    return Response(
        audit.export_csv(session, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


@router.get("/audit/verify", response_model=VerifyOut)
def audit_verify(session: SessionDep, _op: Operator) -> VerifyOut:
    """Walk the hash chain (what ``signage-server audit verify`` does)."""
    v = audit.verify(session)
    return VerifyOut(
        ok=v.ok,
        checked=v.checked,
        first_seq=v.first_seq,
        last_seq=v.last_seq,
        broken_seq=v.broken_seq,
        reason=v.reason,
    )


# ---- Prometheus -----------------------------------------------------------------------------


@metrics_router.get("/metrics", response_class=Response, include_in_schema=False)
def prometheus(request: Request, session: SessionDep, now: NowDep, settings: SettingsDep) -> Response:
    """For Prometheus, with ``Authorization: Bearer <SIGNAGE_METRICS_TOKEN>``; 404 when no token is set."""
    if not settings.metrics_token:
        raise NotFound("metrics are off (set SIGNAGE_METRICS_TOKEN)")
    token = bearer_token(request) or ""
    if not hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
        raise Unauthorized("metrics need the metrics token")
    return Response(metrics.exposition(session, now=now, settings=settings), media_type=metrics.CONTENT_TYPE)
