"""Alert channels: create, change, remove, "send a test message", and the sender the delivery queue uses."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.delivery import services as deliveries
from content_server.core.delivery.models import Delivery
from content_server.core.delivery.policy import Outcome
from content_server.core.delivery.services import Message
from content_server.core.errors import Conflict, NotFound
from content_server.fleet import channel_config, messages, quiet, transports
from content_server.fleet.channel_config import MASK, ROBOTS, ChannelConfigError, ChannelKind
from content_server.fleet.errors import FieldInvalid
from content_server.fleet.models import Channel

log = logging.getLogger(__name__)

SENDER = "fleet.channel"  # fleet messages on the delivery queue


class ChannelIn(BaseModel):
    """A channel as an operator sets it (``config`` depends on ``kind``: channel_config)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    kind: ChannelKind
    config: dict[str, Any] = Field(default_factory=dict)
    language: str = Field("both", pattern="^(zh|en|both)$")
    quiet_start: str = Field("", max_length=5)
    quiet_end: str = Field("", max_length=5)
    timezone: str = Field("Asia/Shanghai", max_length=64)
    escalation: bool = False
    enabled: bool = True


def quiet_hours(channel: Channel) -> quiet.QuietHours | None:
    """A stored channel's quiet hours (checked when saved)."""
    try:
        return quiet.make(channel.quiet_start, channel.quiet_end, channel.timezone)
    except quiet.QuietHoursError:
        log.warning("channel %s: unreadable quiet hours ignored", channel.id)
        return None


def _keep_secrets(kind: str, given: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """An edit that shows masked secrets (``***``, a masked URL) keeps the stored ones."""
    merged = dict(given)
    for key in ("password", "secret"):
        if merged.get(key) == MASK and key in stored:
            merged[key] = stored[key]
    if "url" in merged and "url" in stored and merged["url"] == channel_config.mask_url(str(stored["url"])):
        merged["url"] = stored["url"]
    return merged


def _checked(data: ChannelIn, stored: Mapping[str, Any] | None = None) -> dict[str, Any]:
    given = _keep_secrets(data.kind.value, data.config, stored) if stored else dict(data.config)
    try:
        config = channel_config.validate(data.kind.value, given)
        quiet.make(data.quiet_start, data.quiet_end, data.timezone)
    except ChannelConfigError as exc:
        raise FieldInvalid(f"config.{exc.field}", str(exc).split(": ", 1)[-1]) from None
    except quiet.QuietHoursError as exc:
        raise FieldInvalid("quiet_hours", str(exc)) from None
    return config


def create(session: Session, data: ChannelIn, *, now: dt.datetime) -> Channel:
    if session.scalar(select(Channel.id).where(Channel.name == data.name)) is not None:
        raise Conflict(f"a channel named {data.name!r} exists")
    channel = Channel(
        name=data.name,
        kind=data.kind.value,
        config=_checked(data),
        language=data.language,
        quiet_start=data.quiet_start,
        quiet_end=data.quiet_end,
        timezone=data.timezone,
        escalation=data.escalation,
        enabled=data.enabled,
        created_at=now,
        updated_at=now,
    )
    session.add(channel)
    session.commit()
    log.info("alert channel %s (%s) created", channel.name, channel.kind)
    return channel


def get(session: Session, channel_id: str) -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFound("unknown channel")
    return channel


def update(session: Session, channel_id: str, data: ChannelIn, *, now: dt.datetime) -> Channel:
    channel = get(session, channel_id)
    if data.kind.value != channel.kind:
        raise FieldInvalid("kind", "a channel keeps its kind; make a new channel instead")
    clash = session.scalar(select(Channel.id).where(Channel.name == data.name, Channel.id != channel.id))
    if clash is not None:
        raise Conflict(f"a channel named {data.name!r} exists")
    channel.config = _checked(data, channel.config)
    channel.name, channel.language = data.name, data.language
    channel.quiet_start, channel.quiet_end, channel.timezone = data.quiet_start, data.quiet_end, data.timezone
    channel.escalation, channel.enabled, channel.updated_at = data.escalation, data.enabled, now
    session.commit()
    return channel


def delete(session: Session, channel_id: str) -> None:
    session.delete(get(session, channel_id))
    session.commit()


def listing(session: Session) -> list[Channel]:
    return list(session.scalars(select(Channel).order_by(Channel.escalation, Channel.name)))


def send_test(session: Session, channel_id: str, *, now: dt.datetime, tz: dt.tzinfo) -> Delivery:
    """Queue a test message to the channel (urgent: quiet hours do not hold it); commits."""
    channel = get(session, channel_id)
    text = messages.test_message(channel.name, language=channel.language, now=now, tz=tz)
    delivery = deliveries.enqueue(
        session,
        key=f"fleet:test:{channel.id}:{uuid.uuid4().hex}",
        sender=SENDER,
        target=channel.id,
        payload={
            "subject": text.subject,
            "text": text.text,
            "event": {
                "type": "fleet.test",
                "sent_at": now.isoformat(),
                "channel": channel.name,
                "subject": text.subject,
                "text": text.text,
            },
        },
        source="fleet",
        now=now,
        topic=f"test message to {channel.name}",
        urgent=True,
    )
    session.commit()
    return delivery


class ChannelSender:
    """Sends fleet messages from the delivery queue: reads the channel in a short session of its
    own (an operator's fix to a password reaches the next retry), then sends with none open."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def send(self, message: Message, now: dt.datetime) -> Outcome:
        with self._sessions() as session:
            channel = session.get(Channel, message.target)
            if channel is None:
                return Outcome(False, "the channel was removed", permanent=True)
            kind, config, enabled = channel.kind, dict(channel.config), channel.enabled
        if not enabled:
            return Outcome(False, "the channel is switched off", permanent=True)
        subject, text = str(message.payload.get("subject", "")), str(message.payload.get("text", ""))
        if kind == ChannelKind.EMAIL.value:
            return transports.send_email(config, subject=subject, text=text, key=message.key, now=now)
        if kind in {k.value for k in ROBOTS}:
            return transports.send_robot(kind, config, subject=subject, text=text)
        if kind == ChannelKind.WEBHOOK.value:
            body = dict(message.payload.get("event") or {"subject": subject, "text": text})
            return transports.send_webhook(
                config, body=body, msg_id=f"msg_{message.id}", now=now, retry=message.attempt - 1
            )
        return Outcome(False, f"unknown channel kind {kind!r}", permanent=True)
