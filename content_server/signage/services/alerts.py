"""Alert feeds: CAP messages become (or end) emergency announcements for the areas they name."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.audit.services import Actor, act_as
from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.signage import cap
from content_server.signage.models import AlertFeed, AnnouncementRow, CapAlert

log = logging.getLogger(__name__)


def create_feed(
    session: Session, name: str, area_groups: dict[str, list[str]], *, now: dt.datetime
) -> AlertFeed:
    if session.scalar(select(AlertFeed.id).where(AlertFeed.name == name)) is not None:
        raise Conflict(f"an alert feed named {name!r} exists")
    feed = AlertFeed(name=name, area_groups=area_groups, created_at=now)
    session.add(feed)
    session.commit()
    return feed


def get_feed(session: Session, feed_id: str) -> AlertFeed:
    feed = session.get(AlertFeed, feed_id)
    if feed is None or feed.disabled:
        raise NotFound("unknown alert feed")
    return feed


def receive(
    session: Session, feed: AlertFeed, msg: cap.CapMessage, *, now: dt.datetime
) -> tuple[CapAlert, bool]:
    """Apply one verified CAP message; a repeated (sender, identifier) changes nothing."""
    seen = session.scalar(
        select(CapAlert).where(CapAlert.sender == msg.sender, CapAlert.identifier == msg.identifier)
    )
    if seen is not None:
        return seen, False
    record = CapAlert(
        feed_id=feed.id, identifier=msg.identifier, sender=msg.sender, msg_type=msg.msg_type, received_at=now
    )
    if msg.msg_type in {"Update", "Cancel"}:
        for sender, identifier in msg.references:
            ref = session.scalar(
                select(CapAlert).where(CapAlert.sender == sender, CapAlert.identifier == identifier)
            )
            if ref is not None and ref.announcement_id:
                ann = session.get(AnnouncementRow, ref.announcement_id)
                if ann is not None and ann.state != "ended":
                    ann.state, ann.updated_at = "ended", now
    if msg.msg_type in {"Alert", "Update"} and msg.status == "Actual":
        groups = sorted(
            {g for info in msg.infos for area in info.areas for g in feed.area_groups.get(area, [])}
        )
        if not groups:
            names = sorted({a for i in msg.infos for a in i.areas})
            raise Invalid(f"CAP: none of the areas {names} is mapped to screen groups for this feed")
        text = {
            i.language: (i.headline or i.event) + ("\n" + i.description if i.description else "")
            for i in msg.infos
        }
        expires = [i.expires for i in msg.infos if i.expires is not None]
        if expires and max(expires) <= now:
            raise Invalid("CAP: the alert has already expired")
        ann = AnnouncementRow(
            title=(msg.infos[0].headline or msg.infos[0].event)[:200],
            text=text,
            ticker_text=text,
            media_ids=[],
            duration_s=30.0,
            priority="emergency",
            valid_from=now,
            valid_until=max(expires) if expires else None,
            targeting={"groups": groups},
            state="active",
            source="cap",
            created_at=now,
            updated_at=now,
        )
        session.add(ann)
        session.flush()
        record.announcement_id = ann.id
        log.warning("CAP alert %s from %s -> emergency on groups %s", msg.identifier, msg.sender, groups)
    session.add(record)
    session.commit()  # an emergency announcement made or ended here wakes the long-polls (core.changes)
    return record, True


def receive_signed(
    sessions: sessionmaker[Session],
    server_secret: str,
    feed_id: str,
    body: bytes,
    signature: str | None,
    *,
    now: dt.datetime,
    address: str = "",
) -> tuple[CapAlert, bool]:
    """Check the feed's signature over the raw body, then parse and apply the CAP message.
    Blocking, with its own short session: run it on a worker thread once the body is read."""
    with sessions() as session:
        feed = get_feed(session, feed_id)
        cap.verify_signature(cap.feed_secret(server_secret, feed.id), body, signature)
        act_as(session, Actor("feed", feed.id, feed.name, "alert feed", address))  # its alerts, in the trail
        return receive(session, feed, cap.parse(body), now=now)
