"""The service catalogue as kiosks see it, with a content-derived version used as the ETag."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.errors import NotFound
from content_server.core.models import User
from content_server.kiosk.models import ProviderRow, ServiceCategoryRow, ServiceRow, SlotRow
from content_server.signage.models import Media
from schedules.protocol.kiosk import LocalizedText, ServiceCatalogue, ServiceCategory, ServiceOffer, TimeSlot

HORIZON = dt.timedelta(days=14)  # slots further ahead are not shown on kiosks


def _visible_providers(session: Session) -> dict[str, ProviderRow]:
    """Providers whose account an operator approved (seeded ones without an account count as approved)."""
    rows = session.execute(select(ProviderRow, User).outerjoin(User, User.id == ProviderRow.user_id)).all()
    return {
        p.id: p
        for p, user in rows
        if p.user_id is None or (user is not None and user.approved and not user.disabled)
    }


IMAGE_URL = "/api/v1/kiosk/images/"


def service_image_type(session: Session, sha256: str) -> str:
    """The media type of a picture an active service shows (what a kiosk may download); else 404.

    Kiosks fetch the pictures of their catalogue here, not from the screens' asset route, which
    only serves a screen its own manifests' files."""
    shown = session.scalar(
        select(ServiceRow.id).where(ServiceRow.image_sha256 == sha256, ServiceRow.active.is_(True)).limit(1)
    )
    media_type = (
        session.scalar(select(Media.media_type).where(Media.sha256 == sha256, Media.kind == "image").limit(1))
        if shown is not None
        else None
    )
    if media_type is None:
        raise NotFound("unknown picture")
    return media_type


def build_catalogue(session: Session, now: dt.datetime, image_url: str = IMAGE_URL) -> ServiceCatalogue:
    """Everything a kiosk shows; ``version`` hashes the content, so it only changes with it."""
    category_rows = list(
        session.scalars(
            select(ServiceCategoryRow).order_by(ServiceCategoryRow.position, ServiceCategoryRow.id)
        )
    )
    categories = tuple(
        ServiceCategory(id=c.id, name=LocalizedText(zh=c.name_zh, en=c.name_en), icon=c.icon)
        for c in category_rows
    )
    at_home = {c.id: c.at_home for c in category_rows}  # the category decides for its services, for now
    providers = _visible_providers(session)
    services = [
        s
        for s in session.scalars(
            select(ServiceRow)
            .where(ServiceRow.active.is_(True))
            .order_by(ServiceRow.category_id, ServiceRow.name_en, ServiceRow.id)
        )
        if s.provider_id in providers
    ]
    slots: dict[str, list[TimeSlot]] = {}
    columns = (SlotRow.id, SlotRow.service_id, SlotRow.start, SlotRow.end, SlotRow.capacity, SlotRow.booked)
    for slot in session.execute(  # plain rows, not ORM objects: hundreds of slots per poll
        select(*columns)
        .where(SlotRow.start > now, SlotRow.start <= now + HORIZON)
        .order_by(SlotRow.start, SlotRow.id)
    ):
        slots.setdefault(slot.service_id, []).append(
            TimeSlot(
                id=slot.id,
                start=slot.start,
                end=slot.end,
                capacity=slot.capacity,
                remaining=max(0, slot.capacity - slot.booked),
            )
        )
    offers = tuple(
        ServiceOffer(
            id=s.id,
            category_id=s.category_id,
            provider_name=LocalizedText(
                zh=providers[s.provider_id].name_zh, en=providers[s.provider_id].name_en
            ),
            name=LocalizedText(zh=s.name_zh, en=s.name_en),
            description=LocalizedText(zh=s.description_zh, en=s.description_en),
            price_minor=s.price_minor,
            currency=s.currency,
            duration_minutes=s.duration_minutes,
            image_sha256=s.image_sha256,
            image_url=f"{image_url}{s.image_sha256}" if s.image_sha256 else None,
            slots=tuple(slots.get(s.id, ())),
            at_home=at_home.get(s.category_id, True),
        )
        for s in services
    )
    content = ServiceCatalogue(version="", generated_at=now, categories=categories, services=offers)
    digest = hashlib.sha256(content.model_dump_json(exclude={"generated_at", "version"}).encode()).hexdigest()
    return content.model_copy(update={"version": digest[:32]})
