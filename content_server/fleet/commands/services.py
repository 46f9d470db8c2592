"""Commands over a session: send to a selector, hand to a device, acknowledge, list. Each commits.

Who a selector names is decided here once, with the signage feature's own matcher (the one that
decides which screens a campaign reaches) over the live, unrevoked screens at the moment of
sending; a screen paired later is not included.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content_server.core.errors import Invalid, NotFound
from content_server.core.models import User
from content_server.fleet.commands.models import CommandSend, DeviceCommandRow
from content_server.fleet.commands.selector import (
    CommandFacts,
    CommandRequest,
    CommandState,
    Selector,
    state,
)
from content_server.signage import scheduling
from content_server.signage.models import Device
from content_server.signage.services import screens
from schedules.protocol.device import CommandAck, CommandKind, DeviceCommand

log = logging.getLogger(__name__)
MAX_DELIVERY = 100


def matching_devices(session: Session, selector: Selector) -> list[Device]:
    """The live screens a selector names now, by name."""
    rule = selector.targeting()
    scheduling.validate_targeting(rule)
    found = []
    for d in screens.all_devices(session):
        if d.revoked_at is not None or not selector.admits_kind(d.kind):
            continue
        if scheduling.targets(rule, screens.to_screen(d)):
            found.append(d)
    return found


def send(
    session: Session,
    request: CommandRequest,
    *,
    user: User,
    address: str,
    now: dt.datetime,
    notify: Callable[[], None] | None = None,
) -> CommandSend:
    """Record the send (who, role, when, from where) and one command per named screen.

    A screenshot command also sets the screen's screenshot request, so its upload is one that
    was asked for, and a device that only heartbeats still sends one. ``notify`` runs after the
    commit (this process's long-polls look at once).
    """
    devices = matching_devices(session, request.selector)
    if not devices:
        raise Invalid("no screen matches this selector")
    expires = now + dt.timedelta(minutes=request.ttl_minutes)
    row = CommandSend(
        kind=request.kind.value, params=request.params(), selector=request.selector.model_dump(mode="json"),
        device_count=len(devices), sent_by=user.id, sent_by_name=user.username, sent_by_role=user.role,
        address=address[:64], sent_at=now, expires_at=expires,
    )
    session.add(row)
    session.flush()
    for d in devices:
        session.add(DeviceCommandRow(send_id=row.id, device_id=d.id, kind=row.kind, params=row.params,
                                     issued_at=now, expires_at=expires))
        if request.kind is CommandKind.SCREENSHOT:
            d.screenshot_requested = True
    session.commit()
    log.info("%s %s sent %s to %d screen(s) from %s", user.role, user.username, row.kind, len(devices),
             address or "?")
    if notify is not None:
        notify()
    return row


def _facts(row: DeviceCommandRow) -> CommandFacts:
    return CommandFacts(row.expires_at, row.delivered_at, row.outcome)


def to_wire(row: DeviceCommandRow, device: Device) -> DeviceCommand:
    params = dict(row.params or {})
    return DeviceCommand(
        id=row.id, seq=row.seq, device_id=row.device_id, kind=CommandKind(row.kind),
        screen_on=params.get("screen_on"), volume=params.get("volume"),
        screen_name=device.name if row.kind == CommandKind.IDENTIFY.value else None,
        issued_at=row.issued_at, expires_at=row.expires_at,
    )


def pending_for(session: Session, device: Device, after: int, now: dt.datetime) -> list[DeviceCommand]:
    """The device's unacknowledged, unexpired commands numbered above ``after``, oldest first.

    Marks first deliveries (the portal shows when the device got it).
    """
    rows = list(session.scalars(
        select(DeviceCommandRow)
        .where(DeviceCommandRow.device_id == device.id, DeviceCommandRow.acked_at.is_(None),
               DeviceCommandRow.seq > after, DeviceCommandRow.expires_at > now)
        .order_by(DeviceCommandRow.seq).limit(MAX_DELIVERY)
    ))
    fresh = [r for r in rows if r.delivered_at is None]
    for r in fresh:
        r.delivered_at = now
    if fresh:
        session.commit()
    return [to_wire(r, device) for r in rows]


def acknowledge(session: Session, device: Device, command_id: str, ack: CommandAck,
                *, now: dt.datetime) -> DeviceCommandRow:
    """Record what became of a command; a repeat is harmless (the first answer stands).

    A command that is not this device's is unknown to it (404): a device cannot learn of, or
    answer for, another's commands.
    """
    row = session.scalar(select(DeviceCommandRow).where(DeviceCommandRow.id == command_id))
    if row is None or row.device_id != device.id:
        raise NotFound("no such command for this device")
    if row.acked_at is None:
        row.acked_at = now
        row.outcome = ack.outcome.value
        row.detail = ack.detail
        row.finished_at = ack.finished_at
        row.delivered_at = row.delivered_at or now
        session.commit()
        log.info("device %s: command %s %s (%s)", device.id, row.kind, row.outcome, ack.detail[:100])
    return row


def latest_seq(session: Session) -> int:
    return int(session.scalar(select(func.max(DeviceCommandRow.seq))) or 0)


def devices_with_commands(session: Session, after: int, upto: int) -> set[str]:
    """Devices given a command numbered in (after, upto]: the long-polls to wake."""
    return set(session.scalars(
        select(DeviceCommandRow.device_id).where(DeviceCommandRow.seq > after, DeviceCommandRow.seq <= upto)
        .distinct()
    ))


# -- what the portal and the API list -----------------------------------------------------------


@dataclass(frozen=True)
class DeviceCommandView:
    command_id: str
    device_id: str
    device_name: str
    state: CommandState
    delivered_at: dt.datetime | None
    acked_at: dt.datetime | None
    finished_at: dt.datetime | None
    detail: str


@dataclass(frozen=True)
class SendView:
    send: CommandSend
    counts: dict[CommandState, int]

    @property
    def id(self) -> str:
        return self.send.id


def _counts(rows: list[DeviceCommandRow], now: dt.datetime) -> dict[CommandState, int]:
    c = Counter(state(_facts(r), now) for r in rows)
    return {s: c.get(s, 0) for s in CommandState}


def list_sends(session: Session, now: dt.datetime, limit: int = 100) -> list[SendView]:
    """The latest sends, newest first, with how many of their commands are in each state."""
    sends = list(session.scalars(select(CommandSend).order_by(CommandSend.sent_at.desc(), CommandSend.id)
                                 .limit(limit)))
    by_send: dict[str, list[DeviceCommandRow]] = {s.id: [] for s in sends}
    if sends:
        for r in session.scalars(select(DeviceCommandRow).where(DeviceCommandRow.send_id.in_(by_send))):
            by_send[r.send_id].append(r)
    return [SendView(s, _counts(by_send[s.id], now)) for s in sends]


def send_detail(session: Session, send_id: str, now: dt.datetime) -> tuple[SendView, list[DeviceCommandView]]:
    """One send and each of its screens' commands, by screen name."""
    s = session.get(CommandSend, send_id)
    if s is None:
        raise NotFound("no such command")
    rows = session.execute(
        select(DeviceCommandRow, Device.name).join(Device, Device.id == DeviceCommandRow.device_id)
        .where(DeviceCommandRow.send_id == send_id).order_by(Device.name, Device.id)
    ).all()
    views = [DeviceCommandView(r.id, r.device_id, name, state(_facts(r), now), r.delivered_at, r.acked_at,
                               r.finished_at, r.detail) for r, name in rows]
    return SendView(s, _counts([r for r, _ in rows], now)), views
