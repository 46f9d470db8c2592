"""From a notice to messages on the delivery queue: which channels, in which language, when.

Firing, update and recovery notices go to the rule's channels (all duty channels when it names
none); escalations to its escalation channels (all escalation channels when it names none), and
the recovery of an escalated incident to both. Each message has the key
``fleet:<incident>:<kind>:<n>:<channel>``, so an evaluator that runs a pass twice (a restart, a
lease changing hands) queues it once. Quiet hours hold a message until they end, except for
emergencies; a problem that healed during quiet hours is never sent at all (its held messages
are withdrawn and no recovery follows).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session

from content_server.core.delivery import services as deliveries
from content_server.core.delivery.models import Delivery
from content_server.core.delivery.policy import DeliveryState
from content_server.fleet import messages
from content_server.fleet.evaluation import Notice, NoticeKind
from content_server.fleet.models import AlertRule, Channel, Incident
from content_server.fleet.quiet import quiet_until
from content_server.fleet.services.channels import SENDER, quiet_hours

log = logging.getLogger(__name__)


def key(incident: str, kind: NoticeKind, number: int, channel: str) -> str:
    return f"fleet:{incident}:{kind.value}:{number}:{channel}"


def targets(
    rule: AlertRule, notice: Notice, incident: Incident, channels: Sequence[Channel]
) -> list[Channel]:
    """The channels a notice goes to."""
    live = [c for c in channels if c.enabled]
    duty = (
        [c for c in live if c.id in rule.channel_ids]
        if rule.channel_ids
        else [c for c in live if not c.escalation]
    )
    escalation = (
        [c for c in live if c.id in rule.escalate_channel_ids]
        if rule.escalate_channel_ids
        else [c for c in live if c.escalation]
    )
    if notice.kind is NoticeKind.ESCALATION:
        return escalation
    if notice.kind is NoticeKind.RECOVERY and incident.escalated_at is not None:
        return duty + [c for c in escalation if c not in duty]
    return duty


def _held(session: Session, notice: Notice, channel: Channel, incident: Incident) -> list[Delivery]:
    """This incident's messages to ``channel`` still waiting, never tried (held by quiet hours)."""
    found: list[Delivery] = []
    kinds = (
        (NoticeKind.FIRING, 0),
        (NoticeKind.ESCALATION, 0),
        *((NoticeKind.UPDATE, n) for n in range(1, incident.updates + 1)),
    )
    for kind, number in kinds:
        row = deliveries.by_key(session, key(notice.incident, kind, number, channel.id))
        if row is not None:
            found.append(row)
    return found


def dispatch(
    session: Session,
    rule: AlertRule,
    incident: Incident,
    notice: Notice,
    channels: Sequence[Channel],
    *,
    now: dt.datetime,
    portal_url: str,
    tz: dt.tzinfo,
) -> int:
    """Queue ``notice`` for its channels, in the caller's transaction; how many messages were queued."""
    facts = messages.RuleFacts(rule.id, rule.name, rule.kind)
    queued = 0
    for channel in targets(rule, notice, incident, channels):
        hold = None if notice.urgent else quiet_until(quiet_hours(channel), now)
        if notice.kind is NoticeKind.RECOVERY:
            earlier = _held(session, notice, channel, incident)
            waiting = [d for d in earlier if d.state == DeliveryState.PENDING.value and d.attempts == 0]
            if earlier and len(waiting) == len(earlier):  # nothing was said: take it back, say nothing
                for d in waiting:
                    deliveries.cancel(session, d.key, now=now)
                continue
        text = messages.render(
            notice, facts, language=channel.language, portal_url=portal_url, now=now, tz=tz
        )
        deliveries.enqueue(
            session,
            key=key(notice.incident, notice.kind, notice.number, channel.id),
            sender=SENDER,
            target=channel.id,
            payload={
                "subject": text.subject,
                "text": text.text,
                "event": messages.event(notice, facts, portal_url=portal_url, now=now, tz=tz),
            },
            source="fleet",
            now=now,
            topic=f"{notice.kind.value}: {rule.name} ({notice.group or '-'}) -> {channel.name}",
            not_before=hold,
            urgent=notice.urgent,
        )
        queued += 1
    if not queued:
        log.info("alert %s %s: no channel to send it to", notice.incident, notice.kind.value)
    return queued
