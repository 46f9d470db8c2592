"""Service providers' JSON API: profile, pictures, services, time slots and bookings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import select

from content_server.core.body_limit import max_body, raw_body
from content_server.core.deps import ClockDep, NowDep, SessionDep, SettingsDep, StoreDep, client_address
from content_server.kiosk.deps import API, Provider, ProviderAny, Runtime
from content_server.kiosk.models import OrderRow, ServiceRow, SlotRow
from content_server.kiosk.schemas import (
    BookingActionBody,
    BookingView,
    ProfileBody,
    ProfileView,
    ProviderImageView,
    ServiceBody,
    ServiceView,
    SlotBody,
    SlotView,
)
from content_server.kiosk.services import merchants
from content_server.kiosk.services.community_pay import NAME as COMMUNITY_PAY
from content_server.signage.services import library

provider_router = APIRouter(prefix=f"{API}/provider", tags=["providers"])


def _service_view(session: SessionDep, s: ServiceRow) -> ServiceView:
    slots = session.scalars(select(SlotRow).where(SlotRow.service_id == s.id).order_by(SlotRow.start))
    return ServiceView(
        id=s.id,
        category_id=s.category_id,
        name_zh=s.name_zh,
        name_en=s.name_en,
        description_zh=s.description_zh,
        description_en=s.description_en,
        price_minor=s.price_minor,
        currency=s.currency,
        duration_minutes=s.duration_minutes,
        image_sha256=s.image_sha256,
        active=s.active,
        slots=[
            SlotView(id=x.id, start=x.start, end=x.end, capacity=x.capacity, booked=x.booked) for x in slots
        ],
    )


@provider_router.put("/profile", response_model=ProfileView)
def put_profile(body: ProfileBody, user: ProviderAny, session: SessionDep, now: NowDep) -> ProfileView:
    row = merchants.upsert_profile(session, user.id, body.name_zh, body.name_en, body.phone, now)
    return ProfileView(
        id=row.id, name_zh=row.name_zh, name_en=row.name_en, phone=row.phone, approved=user.approved
    )


@provider_router.get("/profile", response_model=ProfileView)
def get_profile(user: ProviderAny, session: SessionDep) -> ProfileView:
    row = merchants.profile_of(session, user.id)
    return ProfileView(
        id=row.id, name_zh=row.name_zh, name_en=row.name_en, phone=row.phone, approved=user.approved
    )


@provider_router.post(
    "/images",
    response_model=ProviderImageView,
    status_code=201,
    dependencies=[max_body(lambda settings: settings.max_upload_bytes)],
    openapi_extra=raw_body("image/jpeg"),
)
async def upload_image(
    request: Request, store: StoreDep, settings: SettingsDep, clock: ClockDep, user: Provider
) -> ProviderImageView:
    """A service picture, as the raw request body; stored like every other medium (SHA-256 store):
    streamed to disk, then checked and recorded on a worker thread with its own short session."""
    row, _created = await library.upload(
        request.stream(),
        request.app.state.sessions,
        store,
        settings,
        user,
        filename="service",
        title="",
        now=clock.now(),
        images_only=True,
        address=client_address(request),
    )
    return ProviderImageView(media_id=row.id, sha256=row.sha256, width=row.width, height=row.height)


@provider_router.get("/services", response_model=list[ServiceView])
def list_services(user: Provider, session: SessionDep) -> list[ServiceView]:
    me = merchants.profile_of(session, user.id)
    rows = session.scalars(
        select(ServiceRow).where(ServiceRow.provider_id == me.id).order_by(ServiceRow.name_en)
    )
    return [_service_view(session, s) for s in rows]


@provider_router.post("/services", response_model=ServiceView, status_code=201)
def create_service(body: ServiceBody, user: Provider, session: SessionDep, now: NowDep) -> ServiceView:
    me = merchants.profile_of(session, user.id)
    return _service_view(session, merchants.save_service(session, me, body, now))


@provider_router.put("/services/{service_id}", response_model=ServiceView)
def update_service(
    service_id: str, body: ServiceBody, user: Provider, session: SessionDep, now: NowDep
) -> ServiceView:
    me = merchants.profile_of(session, user.id)
    return _service_view(session, merchants.save_service(session, me, body, now, service_id))


@provider_router.post("/services/{service_id}/slots", response_model=SlotView, status_code=201)
def add_slot(service_id: str, body: SlotBody, user: Provider, session: SessionDep, now: NowDep) -> SlotView:
    me = merchants.profile_of(session, user.id)
    x = merchants.add_slot(session, me, service_id, body.start, body.end, body.capacity, now)
    return SlotView(id=x.id, start=x.start, end=x.end, capacity=x.capacity, booked=x.booked)


def _booking_view(session: SessionDep, o: OrderRow) -> BookingView:
    slot = session.get(SlotRow, o.slot_id)
    return BookingView(
        order_id=o.id,
        reference=o.reference,
        state=o.state,
        booking_state=o.booking_state,
        service_id=o.service_id,
        slot_id=o.slot_id,
        slot_start=slot.start if slot else None,
        phone=o.phone,
        amount_minor=o.amount_minor,
        paid_at=o.paid_at,
        cancel_reason=o.cancel_reason,
    )


@provider_router.get("/bookings", response_model=list[BookingView])
def list_bookings(user: Provider, session: SessionDep) -> list[BookingView]:
    me = merchants.profile_of(session, user.id)
    return [_booking_view(session, o) for o in merchants.bookings(session, me)]


@provider_router.post("/bookings/{order_id}/{action}", response_model=BookingView)
def act_on_booking(
    order_id: str,
    action: merchants.BookingAction,
    body: BookingActionBody,
    user: Provider,
    session: SessionDep,
    now: NowDep,
    rt: Runtime,
) -> BookingView:
    me = merchants.profile_of(session, user.id)
    order = session.get(OrderRow, order_id)
    provider = rt.provider(order.payment_provider if order is not None else COMMUNITY_PAY)
    return _booking_view(
        session, merchants.act_on_booking(session, provider, me, order_id, action, body.reason, now)
    )
