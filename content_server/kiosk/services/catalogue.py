"""The service catalogue as kiosks see it, with a content-derived version used as the ETag.

Built once per change and kept in memory (:class:`CatalogueCache`): it is current while its own
change scopes are unchanged and the clock has not reached a slot's start or brought a slot into
the horizon. ``kiosk-catalogue`` covers categories, services, providers and their accounts'
approval, and slots; ``kiosk-catalogue-booked`` only the slots' booked counts, which every order
moves (``BOOKING``). After a booking alone the catalogue is not built again: the places left are
read (one query) and put into the catalogue in memory (``with_remaining``), which costs a tenth
of a build; with kiosks booking all day, builds were a sixth of a server's CPU. Bookings never
touch the screens' manifests, and signage changes never touch the catalogue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from content_server.core.changes import CachedGenerations, ChangeTracker, How, touching
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
        select(*columns).where(*_listed(now)).order_by(SlotRow.start, SlotRow.id)
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
    return _versioned(ServiceCatalogue(version="", generated_at=now, categories=categories, services=offers))


def _listed(now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The slots a kiosk is shown at ``now``: not started, within the horizon."""
    return (SlotRow.start > now, SlotRow.start <= now + HORIZON)


def _versioned(content: ServiceCatalogue) -> ServiceCatalogue:
    """``content`` with its version: a hash of everything but the version and when it was made,
    so every process gives the same content the same ETag however it was made."""
    digest = hashlib.sha256(content.model_dump_json(exclude={"generated_at", "version"}).encode()).hexdigest()
    return content.model_copy(update={"version": digest[:32]})


def read_remaining(session: Session, now: dt.datetime) -> dict[str, int]:
    """The places left in each listed slot (one query of two numbers per slot)."""
    rows = session.execute(select(SlotRow.id, SlotRow.capacity, SlotRow.booked).where(*_listed(now)))
    return {slot_id: max(0, capacity - booked) for slot_id, capacity, booked in rows}


def with_remaining(
    catalogue: ServiceCatalogue, remaining: dict[str, int], now: dt.datetime
) -> ServiceCatalogue | None:
    """``catalogue`` with each slot's places left from ``remaining`` (what :func:`build_catalogue`
    would give when only booked counts changed), or None when a slot it lists is not there."""
    services: list[ServiceOffer] = []
    for offer in catalogue.services:
        slots = []
        for slot in offer.slots:
            left = remaining.get(slot.id)
            if left is None:
                return None
            slots.append(slot if slot.remaining == left else slot.model_copy(update={"remaining": left}))
        changed = any(a is not b for a, b in zip(slots, offer.slots, strict=True))
        services.append(offer.model_copy(update={"slots": tuple(slots)}) if changed else offer)
    return _versioned(catalogue.model_copy(update={"services": tuple(services), "generated_at": now}))


SCOPE = "kiosk-catalogue"
BOOKED = "kiosk-catalogue-booked"
BOOKING = touching(BOOKED)  # a booking's count: .execution_options(**BOOKING)
BUILDS = "catalogue_builds"  # counters /metrics reports
COUNTS = "catalogue_count_updates"
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
    listed: frozenset[str]  # every slot in the horizon then, shown or not (``read_remaining``)


class CatalogueCache:
    """The last built catalogue, answered from memory while it is current (see the module)."""

    def __init__(self, view: CachedGenerations, count: Callable[[str], None] | None = None) -> None:
        self._view = view
        self._count = count or (lambda _name: None)
        self._built: _Built | None = None
        self._lock = threading.Lock()

    def _current(self, built: _Built, now: dt.datetime, *, fresh: bool, scopes: tuple[str, ...]) -> bool:
        return (built.expires_at is None or now < built.expires_at) and self._view.unchanged_since(
            built.generation, scopes, fresh=fresh
        )

    def get(self, session: Session, now: dt.datetime) -> tuple[ServiceCatalogue, bytes]:
        """The catalogue and its JSON: from memory when current, else built (after reading the
        counters, so the build is at least as new as the generation it is stamped with)."""
        built = self._built
        if built is not None and self._current(built, now, fresh=False, scopes=(SCOPE, BOOKED)):
            return built.catalogue, built.body
        generation = self._view.read(session)[0]
        if built is not None and self._current(built, now, fresh=True, scopes=(SCOPE, BOOKED)):
            return built.catalogue, built.body
        catalogue = None
        remaining = read_remaining(session, now)
        # the same slots as at the build (none added or removed behind the change tracker's back,
        # by a seeding script or hand-written SQL): only their counts can have moved
        same_slots = built is not None and remaining.keys() == built.listed
        if built is not None and same_slots and self._current(built, now, fresh=True, scopes=(SCOPE,)):
            catalogue = with_remaining(built.catalogue, remaining, now)
        if catalogue is not None and built is not None:
            body = catalogue.model_dump_json().encode()
            built = _Built(catalogue, body, generation, built.expires_at, built.listed)
            self._count(COUNTS)
        else:
            catalogue = build_catalogue(session, now)
            body = catalogue.model_dump_json().encode()
            built = _Built(catalogue, body, generation, expires_at(session, now), frozenset(remaining))
            self._count(BUILDS)
        with self._lock:
            self._built = built
        return built.catalogue, built.body

    def answered_from_memory(self) -> None:
        """An unchanged poll was answered (a 304) with the catalogue in memory."""
        self._count(MEMORY_304)
