"""Payments: providers' signed notifications, and the pay pages a resident's phone opens from the QR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from content_server.core.audit.services import Actor, act_as
from content_server.core.deps import NowDep, SessionDep, client_address
from content_server.core.errors import ServerError
from content_server.kiosk import runtime
from content_server.kiosk.deps import API, Runtime
from content_server.kiosk.errors import KioskServerError, NotificationRejected
from content_server.kiosk.offline_token import verify_offline_token
from content_server.kiosk.services import orders
from content_server.signage.models import Device

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates" / "pay"),
    autoescape=select_autoescape(["html"]),
)

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
