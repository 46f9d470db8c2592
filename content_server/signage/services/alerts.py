"""Alert feeds: CAP messages become (or end) emergency announcements for the areas operators mapped."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.audit.services import Actor, act_as
from content_server.core.errors import Conflict, NotFound
from content_server.signage import cap
from content_server.signage.cap_policy import AreaMapping, CapPresentation, decide
from content_server.signage.models import AlertFeed, AnnouncementRow, CapAlert

log = logging.getLogger(__name__)


def create_feed(
    session: Session,
    name: str,
    area_groups: dict[str, list[str]],
    *,
    now: dt.datetime,
    area_mapping: AreaMapping | None = None,
) -> AlertFeed:
    if session.scalar(select(AlertFeed.id).where(AlertFeed.name == name)) is not None:
        raise Conflict(f"an alert feed named {name!r} exists")
    feed = AlertFeed(
        name=name,
        area_groups=area_groups,
        area_mapping=area_mapping.model_dump(mode="json") if area_mapping is not None else None,
        created_at=now,
    )
    session.add(feed)
    session.commit()
    return feed


def get_feed(session: Session, feed_id: str) -> AlertFeed:
    feed = session.get(AlertFeed, feed_id)
    if feed is None or feed.disabled:
        raise NotFound("unknown alert feed")
    return feed


def list_feeds(session: Session) -> list[AlertFeed]:
    query = select(AlertFeed).where(AlertFeed.disabled.is_(False)).order_by(AlertFeed.name)
    return list(session.scalars(query))


def mapping_of(feed: AlertFeed) -> AreaMapping:
    """The feed's area mapping; feeds made before mappings existed map area names only."""
    if feed.area_mapping is not None:
        return AreaMapping.model_validate(feed.area_mapping)
    return AreaMapping.from_area_groups(feed.area_groups or {})


def set_mapping(session: Session, feed_id: str, mapping: AreaMapping) -> AlertFeed:
    """Replace the feed's area mapping (the operator's edit); alerts already shown are unchanged."""
    feed = get_feed(session, feed_id)
    feed.area_mapping = mapping.model_dump(mode="json")
    feed.area_groups = {}
    session.commit()
    return feed


def _superseded(session: Session, msg: cap.CapMessage) -> bool:
    """Whether an Update or Cancel naming this alert arrived before it (feeds reorder)."""
    changes = ("Update", "Cancel")
    later = session.scalars(
        select(CapAlert.refs).where(CapAlert.sender == msg.sender, CapAlert.msg_type.in_(changes))
    )
    return any([msg.sender, msg.identifier] in (refs or []) for refs in later)


def _end(session: Session, sender: str, identifier: str, now: dt.datetime) -> int:
    """End every announcement the referenced alert made; how many were still running."""
    ref = session.scalar(select(CapAlert).where(CapAlert.sender == sender, CapAlert.identifier == identifier))
    if ref is None:
        return 0
    ended = 0
    for ann_id in {*(ref.announcement_ids or []), *([ref.announcement_id] if ref.announcement_id else [])}:
        ann = session.get(AnnouncementRow, ann_id)
        if ann is not None and ann.state != "ended":
            ann.state, ann.updated_at = "ended", now
            ended += 1
    return ended


def _announce(presentation: CapPresentation, now: dt.datetime) -> list[AnnouncementRow]:
    """One emergency announcement per phase (ahead of the onset, then from it) for its groups."""
    title = (presentation.headline.get("en") or presentation.headline.get("zh") or "")[:200]
    return [
        AnnouncementRow(
            title=title,
            text=dict(phase.text),
            ticker_text=dict(phase.text),
            media_ids=[],
            duration_s=30.0,
            priority="emergency",
            loudness=phase.loudness.value,
            valid_from=phase.starts_at,
            valid_until=phase.ends_at,
            targeting={"groups": sorted(presentation.groups)},
            state="active",
            source="cap",
            created_at=now,
            updated_at=now,
        )
        for phase in presentation.phases
    ]


@dataclass(frozen=True)
class Receipt:
    """What became of one CAP message: its record, whether it was new, the decision's reason."""

    record: CapAlert
    created: bool
    reason: dict[str, str]  # {"zh", "en"}


DUPLICATE = {"zh": "此警报已收到过，未作更改。", "en": "This alert was received before; nothing changed."}


def receive(session: Session, feed: AlertFeed, msg: cap.CapMessage, *, now: dt.datetime) -> Receipt:
    """Apply one verified CAP message (``cap_policy.decide``); a repeated (sender, identifier)
    changes nothing. Every message the feed may send is accepted: an alert for nobody here, a
    drill or an expired alert is recorded with its outcome and reason, not refused."""
    seen = session.scalar(
        select(CapAlert).where(CapAlert.sender == msg.sender, CapAlert.identifier == msg.identifier)
    )
    if seen is not None:
        return Receipt(seen, False, DUPLICATE)
    decision = decide(msg, mapping_of(feed), now=now, superseded=_superseded(session, msg))
    ended = sum(_end(session, sender, identifier, now) for sender, identifier in decision.ends)
    made: list[AnnouncementRow] = []
    for presentation in decision.presentations:
        made += _announce(presentation, now)
    session.add_all(made)
    session.flush()
    record = CapAlert(
        feed_id=feed.id,
        identifier=msg.identifier,
        sender=msg.sender,
        msg_type=msg.msg_type,
        received_at=now,
        announcement_id=made[0].id if made else None,
        announcement_ids=[a.id for a in made],
        refs=[[s, i] for s, i in msg.references],
        outcome=decision.outcome.value,
    )
    session.add(record)
    level = logging.WARNING if made or ended else logging.INFO
    log.log(
        level, "CAP %s %s from %s: %s (%s); %d announcement(s) made, %d ended", msg.msg_type, msg.identifier,
        msg.sender, decision.outcome.value, decision.reason["en"], len(made), ended,
    )  # fmt: skip
    session.commit()  # an emergency announcement made or ended here wakes the long-polls (core.changes)
    return Receipt(record, True, dict(decision.reason))


def receive_signed(
    sessions: sessionmaker[Session],
    server_secret: str,
    feed_id: str,
    body: bytes,
    signature: str | None,
    *,
    now: dt.datetime,
    address: str = "",
) -> Receipt:
    """Check the feed's signature over the raw body, then parse and apply the CAP message.
    Blocking, with its own short session: run it on a worker thread once the body is read."""
    with sessions() as session:
        feed = get_feed(session, feed_id)
        cap.verify_signature(cap.feed_secret(server_secret, feed.id), body, signature)
        act_as(session, Actor("feed", feed.id, feed.name, "alert feed", address))  # its alerts, in the trail
        return receive(session, feed, cap.parse(body), now=now)
