"""Payments: providers' signed notifications, and the pay pages a resident's phone opens from the QR."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from content_server.core.audit.services import Actor, act_as
from content_server.core.db import release_connection
from content_server.core.deps import NowDep, SessionDep, SettingsDep, client_address
from content_server.core.errors import ServerError
from content_server.kiosk import receipts, runtime
from content_server.kiosk.deps import API, Runtime
from content_server.kiosk.errors import KioskServerError, NotificationRejected, TokenRejected
from content_server.kiosk.identity import mask_room
from content_server.kiosk.models import OrderRow
from content_server.kiosk.offline_token import verify_offline_token
from content_server.kiosk.reference import normalize_reference
from content_server.kiosk.services import orders
from content_server.portal.i18n import LANGUAGES, TEXTS, Translator
from content_server.portal.page import refusal_text
from content_server.signage.models import Device
from schedules.protocol.kiosk import OrderState, OrderView, ServiceAddress

log = logging.getLogger(__name__)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "pay"),
    autoescape=select_autoescape(["html"]),
)
_templates.globals["both"] = TEXTS.both  # every word from the portal's one table, both languages


def _place(address: ServiceAddress) -> str:
    """Where the service happens, the room masked: the page is opened from a printed receipt."""
    unit = f" {address.unit}" if address.unit else ""
    return f"{address.building}{unit} {mask_room(address.room)}"


_templates.globals["place"] = _place

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
            act_as(
                session,
                Actor("provider", provider.name, provider.name, "payment provider", client_address(request)),
            )
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


@pass_context
def _local(context: Context, value: dt.datetime, fmt: str) -> str:
    """A time on the community's wall clock (what the resident booked in); ``tz`` comes with the page."""
    tz: dt.tzinfo = context["tz"]
    return value.astimezone(tz).strftime(fmt)


_templates.filters["local"] = _local


def _page(template: str, tz: dt.tzinfo, status: int = 200, **context: object) -> HTMLResponse:
    html = _templates.get_template(template).render(tz=tz, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def _pay_page(
    rt: runtime.KioskRuntime, session: Session, token: str, now: dt.datetime, tz: dt.tzinfo
) -> HTMLResponse:
    page = rt.community_pay.page(token, now)
    if page is None:
        return _page("pay_error.html", tz, 404, reason_key="pay.bad_code")
    order = session.get(OrderRow, page.out_trade_no)
    view = orders.view(session, order) if order is not None else None
    release_connection(session)
    return _page(
        "pay.html", tz, page=page, yuan=f"{page.amount_minor / 100:.2f}",
        valid_until=page.expires_at.astimezone(tz).strftime("%H:%M"), order=view,
        status_url=rt.status_url(order.reference) if order is not None else None,
    )  # fmt: skip


@pay_router.get("/pay/offline/{token}", response_class=HTMLResponse)
def pay_offline(token: str, session: SessionDep, now: NowDep, rt: Runtime, settings: SettingsDep) -> Response:
    """A QR a kiosk signed while offline: verify it, create the order once, go to its pay page."""
    tz = settings.community_tz

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
    except TokenRejected as exc:  # what is wrong with a forged or broken code is for the log only
        log.info("offline pay code refused: %s", exc)
        reason = "pay.offline_expired" if exc.reason == "expired" else "pay.offline_refused"
        return _page("pay_error.html", tz, 400, reason_key=reason)
    except (KioskServerError, ServerError) as exc:  # e.g. the slot filled up meanwhile: say so, in both
        detail = {lang: refusal_text(Translator(lang), exc) for lang in LANGUAGES}
        return _page("pay_error.html", tz, 400, reason_key="pay.offline_refused", detail=detail)
    if order.qr_payload is None and order.amount_minor == 0:
        return _page("pay_error.html", tz, 200, reason_key="pay.free", booked=True)
    if order.qr_payload is None:
        return _page("pay_error.html", tz, 409, reason_key="pay.order_over")
    return RedirectResponse(order.qr_payload, status_code=303, headers=PAGE_HEADERS)


@pay_router.get("/pay/{token}", response_class=HTMLResponse)
def pay_page(
    token: str, session: SessionDep, now: NowDep, rt: Runtime, settings: SettingsDep
) -> HTMLResponse:
    return _pay_page(rt, session, token, now, settings.community_tz)


@pay_router.post("/pay/{token}/confirm", response_class=HTMLResponse)
def pay_confirm(
    token: str, session: SessionDep, now: NowDep, rt: Runtime, settings: SettingsDep
) -> HTMLResponse:
    rt.community_pay.confirm(token, now)
    return _pay_page(rt, session, token, now, settings.community_tz)


ORDER_TONES = {OrderState.PAID: "ok", OrderState.FULFILLED: "ok", OrderState.AWAITING_PAYMENT: "waiting",
               OrderState.CREATED: "waiting"}  # fmt: skip


def _state_key(view: OrderView, booking_state: str) -> str:
    if view.state is OrderState.PAID:
        known = booking_state in ("pending", "accepted")
        return f"pay.state.paid_{booking_state}" if known else "pay.state.paid"
    return f"pay.state.{view.state.value}"


@pay_router.get(receipts.STATUS_PREFIX + "/{token}/{reference}", response_class=HTMLResponse)
def order_status(
    token: str, reference: str, session: SessionDep, rt: Runtime, settings: SettingsDep
) -> HTMLResponse:
    """The order's status page a receipt's QR opens: service, time, place, reference, state."""
    tz = settings.community_tz
    ref = normalize_reference(reference)
    order = orders.find_by_reference(session, ref) if ref is not None else None
    if order is None or ref is None or not receipts.status_token_valid(rt.link_secret, ref, token):
        return _page("pay_error.html", tz, 404, reason_key="pay.bad_link", booked=True)
    view = orders.view(session, order)
    booking_state = order.booking_state
    release_connection(session)
    return _page(
        "order.html", tz, order=view, state_key=_state_key(view, booking_state),
        tone=ORDER_TONES.get(view.state, "closed"),
    )  # fmt: skip
