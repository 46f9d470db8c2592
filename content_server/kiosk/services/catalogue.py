"""The service catalogue as kiosks see it, with a content-derived version used as the ETag.

Built once per change and kept in memory (:class:`CatalogueCache`): it is current while its own
change scope (``kiosk-catalogue``: categories, services, providers and their accounts' approval,
slots with their booked counts) is unchanged and the clock has not reached a slot's start or
brought a slot into the horizon. Bookings never touch the screens' manifests, and signage
changes never touch the catalogue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from content_server.core.changes import CachedGenerations, ChangeTracker, How
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


SCOPE = "kiosk-catalogue"
BUILDS = "catalogue_builds"  # counters /metrics reports
MEMORY_304 = "catalogue_304_memory"


def _catalogue_scope(_row: Any, _before: Any, _how: How) -> Iterable[str]:
    return (SCOPE,)


def watch_inputs(tracker: ChangeTracker) -> None:
    """Declare what the catalogue is built from; every change to it stamps its own scope only."""
    for model in (ServiceCategoryRow, ServiceRow, ProviderRow, SlotRow):
        tracker.watch(model, scopes=_catalogue_scope, bulk=(SCOPE,))
    # a provider's account approved, or disabled, shows or hides its services
    account = {"approved", "disabled"}
    tracker.watch(User, inserts=False, columns=account, scopes=_catalogue_scope, bulk=(SCOPE,))


def expires_at(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the clock alone changes the catalogue: the next slot start (a listed slot leaves),
    or a slot beyond the horizon coming into it, whichever is first (None: no slot ahead)."""
    first = session.scalar(select(func.min(SlotRow.start)).where(SlotRow.start > now))
    beyond = session.scalar(select(func.min(SlotRow.start)).where(SlotRow.start > now + HORIZON))
    moments = [t for t in (first, beyond - HORIZON if beyond is not None else None) if t is not None]
    return min(moments, default=None)


@dataclass(frozen=True)
class _Built:
    catalogue: ServiceCatalogue
    body: bytes
    generation: int  # the change generation it was built at
    expires_at: dt.datetime | None


class CatalogueCache:
    """The last built catalogue, answered from memory while it is current (see the module)."""

    def __init__(self, view: CachedGenerations, count: Callable[[str], None] | None = None) -> None:
        self._view = view
        self._count = count or (lambda _name: None)
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def _current(self, built: _Built | None, now: dt.datetime, *, fresh: bool) -> bool:
        return (
            built is not None
            and (built.expires_at is None or now < built.expires_at)
            and self._view.unchanged_since(built.generation, (SCOPE,), fresh=fresh)
        )

    def get(self, session: Session, now: dt.datetime) -> tuple[ServiceCatalogue, bytes]:
        """The catalogue and its JSON: from memory when current, else built (after reading the
        counters, so the build is at least as new as the generation it is stamped with)."""
        built = self._built
        if built is not None and self._current(built, now, fresh=False):
            return built.catalogue, built.body
        generation = self._view.read(session)[0]
        if built is not None and self._current(built, now, fresh=True):
            return built.catalogue, built.body
        catalogue = build_catalogue(session, now)
        built = _Built(catalogue, catalogue.model_dump_json().encode(), generation, expires_at(session, now))
        with self._lock:
            self._built = built
        self._count(BUILDS)
        return built.catalogue, built.body

    def answered_from_memory(self) -> None:
        """An unchanged poll was answered (a 304) with the catalogue in memory."""
        self._count(MEMORY_304)
