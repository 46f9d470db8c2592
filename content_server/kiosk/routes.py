"""HTTP routes of the kiosk back end: kiosks, the phone's pay pages, notifications, clerks, providers.

Routes stay thin: dependencies, one service call, a response. ``register(app)`` adds them all and
the start-up hook that builds the payment providers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from content_server.core.db import release_connection
from content_server.core.deps import CurrentDevice, NowDep, SessionDep, SettingsDep, StoreDep, require_role
from content_server.core.errors import Forbidden, NotFound, ServerError, TooLarge, UnsupportedMedia
from content_server.core.models import User
from content_server.signage.models import Device
from content_server.signage.services import library
from schedules.protocol.kiosk import (
    CaseLookup,
    CaseState,
    CaseStatus,
    OrderCreate,
    OrderView,
    ServiceCatalogue,
)

from . import cases, merchants, orders, runtime
from .case_states import CaseChange, allowed_targets
from .case_types import CASE_TYPES
from .catalogue import build_catalogue
from .community_pay import NAME as COMMUNITY_PAY
from .errors import KioskServerError, NotificationRejected
from .models import AuditRow, OrderRow, ServiceRow, SlotRow
from .offline_token import verify_offline_token
from .receipts import qr_png
from .reference import normalize_reference
from .schemas import (
    AuditView,
    BookingActionBody,
    BookingView,
    CaseChangeBody,
    CaseCreateBody,
    CaseEventView,
    CaseTypeView,
    CaseView,
    ProfileBody,
    ProfileView,
    ProviderImageView,
    ReconcileView,
    ServiceBody,
    ServiceView,
    SlotBody,
    SlotView,
)

API = "/api/v1"
Runtime = Annotated[runtime.KioskRuntime, Depends(runtime.get_runtime)]
Clerk = Annotated[User, Depends(require_role("clerk", "operator"))]
Provider = Annotated[User, Depends(require_role("provider"))]
ProviderAny = Annotated[User, Depends(require_role("provider", approved=False))]
Operator = Annotated[User, Depends(require_role("operator"))]

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates" / "pay"),
    autoescape=select_autoescape(["html"]),
)


def kiosk_device(device: CurrentDevice) -> Device:
    if device.kind != "kiosk":
        raise Forbidden("this route is for kiosks")
    return device


Kiosk = Annotated[Device, Depends(kiosk_device)]

kiosk_router = APIRouter(prefix=f"{API}/kiosk", tags=["kiosk"])


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in (t.strip().removeprefix("W/") for t in header.split(","))


@kiosk_router.get("/catalogue", response_model=ServiceCatalogue)
def get_catalogue(request: Request, kiosk: Kiosk, session: SessionDep, now: NowDep) -> Response:
    catalogue = build_catalogue(session, now)
    etag = f'"{catalogue.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(catalogue.model_dump_json(), media_type="application/json", headers=headers)


@kiosk_router.post("/orders", response_model=OrderView, status_code=201)
def create_order(
    body: OrderCreate, response: Response, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime
) -> OrderView:
    order, created = orders.place_order(
        session, rt.default_provider, orders.OrderRequest.online(kiosk.id, body), now
    )
    if not created:
        response.status_code = 200
    release_connection(session)  # a retry only read: no connection held while serialising
    return orders.view(order)


@kiosk_router.get("/orders/by-reference/{reference}", response_model=OrderView)
def order_by_reference(reference: str, kiosk: Kiosk, session: SessionDep) -> OrderView:
    ref = normalize_reference(reference)
    if ref is None:
        raise NotFound("no such order")
    return orders.view(orders.get_for_kiosk(session, kiosk.id, reference=ref))


@kiosk_router.get("/orders/{order_id}", response_model=OrderView)
def get_order(order_id: str, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> OrderView:
    order = orders.get_for_kiosk(session, kiosk.id, order_id=order_id)
    if (
        order.state in orders.order_states.UNPAID and order.expires_at <= now
    ):  # settle it now, not at the next job
        orders.reconcile_order(session, rt.provider(order.payment_provider), order, now)
    release_connection(session)  # commits a settlement, ends the read: none held while serialising
    return orders.view(order)


@kiosk_router.post("/orders/{order_id}/cancel", response_model=OrderView)
def cancel_order(order_id: str, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> OrderView:
    order = orders.get_for_kiosk(session, kiosk.id, order_id=order_id)
    provider = rt.provider(order.payment_provider)
    return orders.view(orders.cancel_unpaid(session, provider, order, actor=f"kiosk:{kiosk.id}", now=now))


@kiosk_router.post("/cases/lookup", response_model=CaseStatus)
def lookup_case(body: CaseLookup, kiosk: Kiosk, session: SessionDep, now: NowDep, rt: Runtime) -> CaseStatus:
    return cases.lookup(session, kiosk.id, body, rt.lockout, now)


payments_router = APIRouter(prefix=f"{API}/payments", tags=["payments"])


@payments_router.post("/{provider_name}/notify")
async def payment_notification(provider_name: str, request: Request, rt: Runtime) -> Response:
    """A provider's asynchronous notification. 200 acknowledges; anything else makes it retry."""
    provider = rt.provider(provider_name)
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise NotificationRejected("body too large")
    now = request.app.state.clock.now()
    sessions = request.app.state.sessions

    def settle() -> None:
        with sessions() as session:
            orders.handle_notification(session, provider, dict(request.headers), body, now)

    await run_in_threadpool(settle)
    return Response("success", media_type="text/plain")


pay_router = APIRouter(tags=["pay"])


PAGE_HEADERS = {
    "Cache-Control": "no-store",  # the page shows a live payment state
    "Referrer-Policy": "no-referrer",  # the URL is the payment capability: never leak it
    "X-Frame-Options": "DENY",  # nobody may frame the confirm button (clickjacking)
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
}
MAX_NOTIFICATION_BYTES = 64 * 1024
PAYER_TZ = ZoneInfo("Asia/Shanghai")  # the pay page speaks the residents' wall-clock time


def _page(template: str, status: int = 200, **context: object) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _pay_page(rt: runtime.KioskRuntime, token: str, now: dt.datetime) -> HTMLResponse:
    page = rt.community_pay.page(token, now)
    if page is None:
        return _page(
            "pay_error.html", 404, reason_zh="付款码无效", reason_en="This payment code is not valid."
        )
    valid_until = page.expires_at.astimezone(PAYER_TZ).strftime("%H:%M")
    return _page("pay.html", page=page, yuan=f"{page.amount_minor / 100:.2f}", valid_until=valid_until)


@pay_router.get("/pay/offline/{token}", response_class=HTMLResponse)
def pay_offline(token: str, session: SessionDep, now: NowDep, rt: Runtime) -> Response:
    """A QR a kiosk signed while offline: verify it, create the order once, go to its pay page."""

    def public_key(kiosk_id: str) -> str | None:
        device = session.scalar(
            select(Device).where(Device.id == kiosk_id, Device.kind == "kiosk", Device.revoked_at.is_(None))
        )
        return device.public_key if device is not None and device.public_key else None

    try:
        claims = verify_offline_token(token, public_key, now)
        order, _created = orders.place_order(
            session, rt.default_provider, orders.OrderRequest.offline(claims), now
        )
    except (KioskServerError, ServerError) as exc:
        return _page("pay_error.html", 400, reason_zh="无法使用此付款码", reason_en=str(exc))
    if order.qr_payload is None and order.amount_minor == 0:
        return _page(
            "pay_error.html",
            200,
            reason_zh="已预约，无需付款",
            reason_en="Booked. Nothing to pay.",
            booked=True,
        )
    if order.qr_payload is None:
        return _page("pay_error.html", 409, reason_zh="订单已失效", reason_en=f"This order is {order.state}.")
    return RedirectResponse(order.qr_payload, status_code=303, headers=PAGE_HEADERS)


@pay_router.get("/pay/{token}", response_class=HTMLResponse)
def pay_page(token: str, now: NowDep, rt: Runtime) -> HTMLResponse:
    return _pay_page(rt, token, now)


@pay_router.post("/pay/{token}/confirm", response_class=HTMLResponse)
def pay_confirm(token: str, now: NowDep, rt: Runtime) -> HTMLResponse:
    rt.community_pay.confirm(token, now)
    return _pay_page(rt, token, now)


clerk_router = APIRouter(prefix=f"{API}/cases", tags=["cases"])


def case_view(detail: cases.CaseDetail, now: dt.datetime) -> CaseView:
    c = detail.case
    return CaseView(
        case_number=c.case_number,
        case_type=c.case_type,
        case_type_name=CASE_TYPES[c.case_type].name,
        applicant_name=c.applicant_name,
        id_number=c.id_number,
        phone=c.phone,
        state=c.state,
        created_at=c.created_at,
        due_by=c.due_by,
        allowed_targets=sorted(allowed_targets(CaseState(c.state))),
        timeline=[
            CaseEventView(
                state=e.state,
                at=e.at,
                clerk_id=e.clerk_id,
                note_zh=e.note_zh,
                note_en=e.note_en,
                missing_documents=e.missing_documents,
                deadline=e.deadline,
            )
            for e in detail.events
        ],
        public=cases.public_status(detail, now),
    )


@clerk_router.get("/types", response_model=list[CaseTypeView])
def case_types(clerk: Clerk) -> list[CaseTypeView]:
    return [
        CaseTypeView(code=t.code, name=t.name, time_limit_days=t.time_limit_days) for t in CASE_TYPES.values()
    ]


@clerk_router.post("", response_model=CaseView, status_code=201)
def create_case(body: CaseCreateBody, clerk: Clerk, session: SessionDep, now: NowDep) -> CaseView:
    case = cases.create_case(session, clerk.id, cases.NewCase(**body.model_dump()), now)
    return case_view(cases.get_case(session, case.case_number), now)


@clerk_router.get("", response_model=list[CaseView])
def list_cases(clerk: Clerk, session: SessionDep, now: NowDep, state: str | None = None) -> list[CaseView]:
    return [case_view(d, now) for d in cases.recent_cases(session, state)]


@clerk_router.get("/{case_number}", response_model=CaseView)
def get_case(case_number: str, clerk: Clerk, session: SessionDep, now: NowDep) -> CaseView:
    return case_view(cases.get_case(session, case_number), now)


@clerk_router.post("/{case_number}/changes", response_model=CaseView)
def change_case(
    case_number: str, body: CaseChangeBody, clerk: Clerk, session: SessionDep, now: NowDep
) -> CaseView:
    change = CaseChange(
        target=body.target,
        clerk=clerk.id,
        at=now,
        note_zh=body.note_zh,
        note_en=body.note_en,
        missing_documents=tuple(body.missing_documents),
        deadline=body.deadline,
    )
    return case_view(cases.change_case(session, case_number, change), now)


@clerk_router.get("/{case_number}/receipt.png", response_class=Response)
def case_receipt_qr(case_number: str, clerk: Clerk, session: SessionDep) -> Response:
    detail = cases.get_case(session, case_number)
    return Response(qr_png(detail.case.case_number), media_type="image/png")


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


@provider_router.post("/images", response_model=ProviderImageView, status_code=201)
async def upload_image(
    request: Request, session: SessionDep, store: StoreDep, settings: SettingsDep, now: NowDep, user: Provider
) -> ProviderImageView:
    """A service picture, as the raw request body; stored like every other medium (SHA-256 store)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_upload_bytes:
        raise TooLarge(f"file is larger than the limit of {settings.max_upload_bytes} bytes")
    staged = await store.stage_stream(request.stream(), settings.max_upload_bytes)
    row, _created = await library.ingest(
        session, store, settings, user, staged, filename="service", title="", now=now
    )
    if row.kind != "image":
        session.rollback()
        raise UnsupportedMedia("a service picture must be an image")
    session.commit()
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


admin_router = APIRouter(prefix=f"{API}/kiosk-admin", tags=["kiosk admin"])


@admin_router.get("/audit", response_model=list[AuditView])
def audit_trail(
    operator: Operator, session: SessionDep, entity_id: str | None = None, limit: int = 200
) -> list[AuditView]:
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(min(max(limit, 1), 1000))
    if entity_id:
        query = query.where(AuditRow.entity_id == entity_id)
    return [AuditView.model_validate(r, from_attributes=True) for r in session.scalars(query)]


@admin_router.post("/reconcile", response_model=ReconcileView)
def reconcile_now(request: Request, operator: Operator, now: NowDep, rt: Runtime) -> ReconcileView:
    """Run a reconciliation pass now (without the grace period the scheduled job leaves)."""
    counts = runtime.reconcile_all(rt, request.app.state.sessions, now, grace=dt.timedelta(0))
    return ReconcileView(**counts)


router = APIRouter()
for _router in (kiosk_router, payments_router, pay_router, clerk_router, provider_router, admin_router):
    router.include_router(_router)
