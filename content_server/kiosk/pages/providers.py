"""Providers' pages: their bookings (contact details on an audited page), services and time slots."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.kiosk import slot_plan
from content_server.kiosk.identity import mask_phone
from content_server.kiosk.models import OrderRow, ProviderRow, SlotRow
from content_server.kiosk.runtime import get_runtime
from content_server.kiosk.schemas import ServiceBody
from content_server.kiosk.services import merchants, orders
from content_server.kiosk.services.community_pay import NAME as COMMUNITY_PAY
from content_server.portal import forms
from content_server.portal.page import Csrf, Page, PortalError, ProviderPage, problem_text

log = logging.getLogger(__name__)
router = APIRouter()

Text = Annotated[str, Form(max_length=200)]
Short = Annotated[str, Form(max_length=12)]


# ---- bookings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    order: OrderRow
    slot_start: str
    phone: str  # masked: the full number is on the booking's own (audited) page
    has_address: bool

    @property
    def can_accept(self) -> bool:
        return self.order.state == "paid" and self.order.booking_state == "pending"

    @property
    def can_finish(self) -> bool:  # 已完成服务 only once the provider said it will come
        return self.order.state == "paid" and self.order.booking_state == "accepted"

    @property
    def can_cancel(self) -> bool:
        return self.order.state == "paid"

    @property
    def can_contact(self) -> bool:
        return self.order.state in ("paid", "fulfilled")


def _slot_text(page: Page, slot: SlotRow | None) -> str:
    if slot is None:
        return "—"
    return f"{slot.start.astimezone(page.tz):%Y-%m-%d %H:%M}–{slot.end.astimezone(page.tz):%H:%M}"


def _bookings(page: Page, session: Any) -> list[Booking]:
    assert page.user is not None
    provider = merchants.profile_of(session, page.user.id)
    return [
        Booking(o, _slot_text(page, session.get(SlotRow, o.slot_id)), mask_phone(o.phone),
                orders.address_of(o) is not None)
        for o in merchants.bookings(session, provider)
    ]  # fmt: skip


@router.get("/bookings")
def bookings_page(page: ProviderPage, session: SessionDep) -> Response:
    try:
        rows = _bookings(page, session)
        missing_profile = False
    except ServerError:  # the provider has not set up a profile (no services) yet
        rows, missing_profile = [], True
    context = {"section": "bookings", "bookings": rows, "missing_profile": missing_profile}
    return page.render("bookings.html", context, title_key="bookings.title")


@router.get("/bookings/{order_id}")
def booking_page(page: ProviderPage, session: SessionDep, now: NowDep, order_id: str) -> Response:
    """One booking with the resident's phone and address, to carry the service out (audited)."""
    assert page.user is not None
    provider = merchants.profile_of(session, page.user.id)
    order = merchants.contact_details(session, provider, order_id, now)
    context = {
        "section": "bookings",
        "b": Booking(order, _slot_text(page, session.get(SlotRow, order.slot_id)), order.phone, True),
        "address": orders.address_of(order),
    }
    return page.render("booking_detail.html", context, title_key="bookings.detail")


@router.post("/bookings/{order_id}/{action}")
def act_on_booking(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    order_id: str,
    action: merchants.BookingAction,
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Accept, mark done (once accepted), or cancel with a reason (which refunds a paid order)."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    provider = merchants.profile_of(session, page.user.id)
    order = session.get(OrderRow, order_id)
    payments = get_runtime(page.request).provider(order.payment_provider if order else COMMUNITY_PAY)
    merchants.act_on_booking(session, payments, provider, order_id, action, reason, now)
    return page.redirect("/portal/bookings", notice="booking_updated")


# ---- services and time slots -------------------------------------------------------------------


def _services_page(page: Page, session: Any, errors: list[str], form: dict[str, Any]) -> Response:
    assert page.user is not None
    try:
        provider: ProviderRow | None = merchants.profile_of(session, page.user.id)
    except ServerError:
        provider = None
    listed = merchants.services_with_slots(session, provider) if provider else []
    context = {
        "section": "services",
        "provider": provider,
        "services": [(s, slots) for s, slots in listed if s.active],
        "categories": merchants.categories(session),
        "form": form,
        "form_errors": errors,
    }
    return page.render(
        "services.html", context, title_key="services.title", status_code=422 if errors else 200
    )


EMPTY_SERVICE = {"category_id": "", "name_zh": "", "name_en": "", "description_zh": "", "description_en": "",
                 "price": "", "duration_minutes": "60"}  # fmt: skip


def _refused(page: Page, session: Any, exc: Exception, form: dict[str, Any] | None = None) -> Response:
    session.rollback()
    return _services_page(page, session, [problem_text(page, exc)], form or dict(EMPTY_SERVICE))


def _provider_post(
    page: Page,
    session: Any,
    csrf_token: str,
    change: Callable[[ProviderRow], object],
    to: str,
    notice: str,
    form: dict[str, Any] | None = None,
) -> Response:
    """Every change a provider posts: CSRF, their own profile, one service call, back to ``to``.

    A refusal (a rule of the service layer or a field to fix) shows the services page again with
    the reason, and the typed ``form`` where there is one, so nothing typed is lost.
    """
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        change(merchants.profile_of(session, page.user.id))
    except (ServerError, ValueError) as exc:
        return _refused(page, session, exc, form)
    return page.redirect(to, notice=notice)


@router.get("/services")
def services_page(page: ProviderPage, session: SessionDep) -> Response:
    return _services_page(page, session, [], dict(EMPTY_SERVICE))


@router.post("/services/profile")
def save_profile(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    name_zh: Text = "",
    name_en: Text = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        merchants.upsert_profile(session, page.user.id, name_zh, name_en, phone, now)
    except ServerError as exc:
        return _refused(page, session, exc)
    return page.redirect("/portal/services", notice="profile_saved")


def _service_body(form: dict[str, Any], active: bool = True) -> ServiceBody:
    """The kiosk catalogue's service from the form; price typed in yuan, stored in fen."""
    yuan = forms.parse_number(form["price"], "price", low=0, high=100_000)
    minutes = forms.parse_number(form["duration_minutes"], "duration_minutes", low=5, high=1440)
    return ServiceBody(
        category_id=form["category_id"], name_zh=form["name_zh"].strip(), name_en=form["name_en"].strip(),
        description_zh=form["description_zh"].strip(), description_en=form["description_en"].strip(),
        price_minor=round((yuan or 0) * 100), duration_minutes=int(minutes or 0), active=active,
    )  # fmt: skip


def service_fields(
    category_id: Annotated[str, Form(max_length=32)] = "",
    name_zh: Text = "",
    name_en: Text = "",
    description_zh: Annotated[str, Form(max_length=4000)] = "",
    description_en: Annotated[str, Form(max_length=4000)] = "",
    price: Short = "",
    duration_minutes: Annotated[str, Form(max_length=5)] = "",
) -> dict[str, Any]:
    return {"category_id": category_id, "name_zh": name_zh, "name_en": name_en,
            "description_zh": description_zh, "description_en": description_en, "price": price,
            "duration_minutes": duration_minutes}  # fmt: skip


@router.post("/services")
def create_service(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    form: Annotated[dict[str, Any], Depends(service_fields)],
    csrf_token: Csrf = "",
) -> Response:
    """A new service for the kiosks' catalogue."""
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.save_service(session, provider, _service_body(form), now),
        "/portal/services", "service_saved", form,
    )  # fmt: skip


@router.post("/services/{service_id}")
def edit_service(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    service_id: str,
    form: Annotated[dict[str, Any], Depends(service_fields)],
    csrf_token: Csrf = "",
) -> Response:
    """Change a service's name, description, price or length (kiosks see it at their next poll)."""
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.save_service(session, provider, _service_body(form), now, service_id),
        f"/portal/services#s-{service_id}", "service_updated",
    )  # fmt: skip


@router.post("/services/{service_id}/delete")
def delete_service(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    service_id: str,
    confirm: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)  # before saying anything about the form
    if confirm != "yes":
        raise PortalError("services.delete_need_confirm", 422)
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.delete_service(session, provider, service_id, now),
        "/portal/services", "service_deleted",
    )  # fmt: skip


def _slot_times(page: Page, day: str, start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    """A local date and two local times as aware datetimes in the community's zone."""
    date, t_start, t_end = forms.parse_date(day), forms.parse_time(start), forms.parse_time(end)
    if t_start is None or t_end is None:
        raise forms.FormError("campaign.need_times")
    return dt.datetime.combine(date, t_start, page.tz), dt.datetime.combine(date, t_end, page.tz)


@router.post("/services/{service_id}/slots")
def add_slot(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    service_id: str,
    day: Annotated[str, Form(max_length=10)] = "",
    start: Annotated[str, Form(max_length=8)] = "",
    end: Annotated[str, Form(max_length=8)] = "",
    capacity: Annotated[int, Form(ge=1, le=1000)] = 1,
    csrf_token: Csrf = "",
) -> Response:
    """One bookable time slot, typed as a local date and two local times."""
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.add_slot(
            session, provider, service_id, *_slot_times(page, day, start, end), capacity, now
        ),
        f"/portal/services#s-{service_id}", "slot_added",
    )  # fmt: skip


@router.post("/services/{service_id}/slots/recurring")
def add_recurring_slots(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    service_id: str,
    first_day: Annotated[str, Form(max_length=10)] = "",
    last_day: Annotated[str, Form(max_length=10)] = "",
    weekdays: Annotated[list[str] | None, Form()] = None,
    start: Annotated[str, Form(max_length=8)] = "",
    end: Annotated[str, Form(max_length=8)] = "",
    capacity: Annotated[int, Form(ge=1, le=1000)] = 1,
    csrf_token: Csrf = "",
) -> Response:
    """Slots every chosen weekday between two dates, e.g. Mon–Fri 09:00–10:00 for a month."""

    def add(provider: ProviderRow) -> None:
        t_start, t_end = forms.parse_time(start), forms.parse_time(end)
        if t_start is None or t_end is None:
            raise forms.FormError("campaign.need_times")
        days = frozenset(int(d) for d in weekdays or [] if d.isdigit())
        try:
            plan = slot_plan.plan(
                forms.parse_date(first_day), forms.parse_date(last_day), days, t_start, t_end, page.tz
            )
        except slot_plan.PlanError as exc:
            raise forms.FormError(exc.key, **exc.params) from exc
        added = merchants.add_recurring_slots(session, provider, service_id, plan, capacity, now)
        log.info("%d recurring slots added to %s", added, service_id)

    return _provider_post(page, session, csrf_token, add, f"/portal/services#s-{service_id}", "slots_added")


@router.post("/slots/{slot_id}")
def edit_slot(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    slot_id: str,
    day: Annotated[str, Form(max_length=10)] = "",
    start: Annotated[str, Form(max_length=8)] = "",
    end: Annotated[str, Form(max_length=8)] = "",
    capacity: Annotated[int, Form(ge=1, le=1000)] = 1,
    csrf_token: Csrf = "",
) -> Response:
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.update_slot(
            session, provider, slot_id, *_slot_times(page, day, start, end), capacity, now
        ),
        "/portal/services", "slot_saved",
    )  # fmt: skip


@router.post("/slots/{slot_id}/delete")
def delete_slot(
    page: ProviderPage, session: SessionDep, now: NowDep, slot_id: str, csrf_token: Csrf = ""
) -> Response:
    return _provider_post(
        page, session, csrf_token,
        lambda provider: merchants.delete_slot(session, provider, slot_id, now),
        "/portal/services", "slot_deleted",
    )  # fmt: skip
