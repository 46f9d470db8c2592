"""Portal pages of the kiosk back end: clerks' government-affairs cases, providers' services and
bookings, over the kiosk's own services."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.kiosk.case_states import CaseChange, allowed_targets
from content_server.kiosk.case_types import CASE_TYPES
from content_server.kiosk.identity import mask_id_number, mask_phone
from content_server.kiosk.models import OrderRow, SlotRow
from content_server.kiosk.runtime import get_runtime
from content_server.kiosk.schemas import ServiceBody
from content_server.kiosk.services import cases, merchants
from content_server.kiosk.services.community_pay import NAME as COMMUNITY_PAY
from content_server.portal import forms
from content_server.portal.page import ClerkPage, Csrf, Page, ProviderPage, problem_text
from content_server.portal.shell import NavLink
from schedules.protocol.kiosk import CaseState

log = logging.getLogger(__name__)
router = APIRouter()

TEMPLATES = Path(__file__).resolve().parent / "templates"
NAV = (
    NavLink("clerk", "cases", "nav.cases", "/portal/cases"),
    NavLink("provider", "services", "nav.services", "/portal/services"),
    NavLink("provider", "bookings", "nav.bookings", "/portal/bookings"),
)


def case_type_names(lang: str) -> dict[str, str]:
    return {code: (t.name.zh if lang == "zh" else t.name.en) for code, t in CASE_TYPES.items()}


def _cases_page(page: Page, session: Any, form: dict[str, str], errors: list[str], state: str) -> Response:
    rows = cases.recent_cases(session, state or None)
    context = {
        "section": "cases",
        "cases": rows,
        "types": case_type_names(page.lang),
        "states": [s.value for s in CaseState],
        "state_filter": state,
        "form": form,
        "form_errors": errors,
        "mask_id": mask_id_number,
    }
    return page.render("cases.html", context, title_key="cases.title", status_code=422 if errors else 200)


EMPTY_CASE = {"case_type": "", "applicant_name": "", "id_number": "", "phone": ""}


@router.get("/cases")
def cases_page(page: ClerkPage, session: SessionDep, state: str = "") -> Response:
    if state not in {s.value for s in CaseState}:
        state = ""
    return _cases_page(page, session, dict(EMPTY_CASE), [], state)


@router.post("/cases")
def create_case(
    page: ClerkPage,
    session: SessionDep,
    now: NowDep,
    case_type: Annotated[str, Form(max_length=32)] = "",
    applicant_name: Annotated[str, Form(max_length=50)] = "",
    id_number: Annotated[str, Form(max_length=18)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = {"case_type": case_type, "applicant_name": applicant_name, "id_number": id_number, "phone": phone}
    try:
        case = cases.create_case(session, page.user.id, cases.NewCase(**form), now)
    except ServerError as exc:
        session.rollback()
        return _cases_page(page, session, form, [str(exc)], "")
    return page.redirect(f"/portal/cases/{case.case_number}", notice="case_created")


def _case_page(page: Page, session: Any, number: str, form: dict[str, str], errors: list[str]) -> Response:
    detail = cases.get_case(session, number)
    context = {
        "section": "cases",
        "detail": detail,
        "type_name": case_type_names(page.lang).get(detail.case.case_type, detail.case.case_type),
        "targets": sorted(s.value for s in allowed_targets(CaseState(detail.case.state))),
        "form": form,
        "form_errors": errors,
    }
    return page.render(
        "case_detail.html", context, title_key="cases.title", status_code=422 if errors else 200
    )


EMPTY_CHANGE = {"target": "", "note_zh": "", "note_en": "", "missing_documents": "", "deadline": ""}


@router.get("/cases/{case_number}")
def case_page(page: ClerkPage, session: SessionDep, case_number: str) -> Response:
    return _case_page(page, session, case_number, dict(EMPTY_CHANGE), [])


@router.post("/cases/{case_number}")
def change_case(
    page: ClerkPage,
    session: SessionDep,
    now: NowDep,
    case_number: str,
    target: Annotated[str, Form(max_length=24)] = "",
    note_zh: Annotated[str, Form(max_length=1000)] = "",
    note_en: Annotated[str, Form(max_length=1000)] = "",
    missing_documents: Annotated[str, Form(max_length=2000)] = "",
    deadline: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """Move a case one step; the kiosk back end's state machine decides what is allowed."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = {"target": target, "note_zh": note_zh, "note_en": note_en, "missing_documents": missing_documents,
            "deadline": deadline}  # fmt: skip
    try:
        change = CaseChange(
            target=CaseState(target),
            clerk=page.user.id,
            at=now,
            note_zh=note_zh,
            note_en=note_en,
            missing_documents=tuple(d.strip() for d in missing_documents.splitlines() if d.strip()),
            deadline=forms.parse_date(deadline) if deadline.strip() else None,
        )
        cases.change_case(session, case_number, change)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _case_page(page, session, case_number, form, [problem_text(page, exc)])
    return page.redirect(f"/portal/cases/{case_number}", notice="case_updated")


# ---- providers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    order: OrderRow
    slot_start: str
    phone: str


def _bookings(page: Page, session: Any) -> list[Booking]:
    assert page.user is not None
    provider = merchants.profile_of(session, page.user.id)
    out = []
    for order in merchants.bookings(session, provider):
        slot = session.get(SlotRow, order.slot_id)
        start = slot.start.astimezone(forms.COMMUNITY_TZ).strftime("%Y-%m-%d %H:%M") if slot else "—"
        out.append(Booking(order, start, mask_phone(order.phone)))
    return out


@router.get("/bookings")
def bookings_page(page: ProviderPage, session: SessionDep) -> Response:
    try:
        rows = _bookings(page, session)
        missing_profile = False
    except ServerError:  # the provider has not set up a profile (no services) yet
        rows, missing_profile = [], True
    context = {"section": "bookings", "bookings": rows, "missing_profile": missing_profile}
    return page.render("bookings.html", context, title_key="bookings.title")


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
    """Accept, mark done, or cancel with a reason (which refunds a paid order)."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    provider = merchants.profile_of(session, page.user.id)
    order = session.get(OrderRow, order_id)
    payments = get_runtime(page.request).provider(order.payment_provider if order else COMMUNITY_PAY)
    merchants.act_on_booking(session, payments, provider, order_id, action, reason, now)
    return page.redirect("/portal/bookings", notice="booking_updated")


# ---- provider services -------------------------------------------------------------------------


def _services_page(page: Page, session: Any, errors: list[str], form: dict[str, str]) -> Response:
    assert page.user is not None
    try:
        provider = merchants.profile_of(session, page.user.id)
    except ServerError:
        provider = None
    context = {
        "section": "services",
        "provider": provider,
        "services": merchants.services_with_slots(session, provider) if provider else [],
        "categories": merchants.categories(session),
        "form": form,
        "form_errors": errors,
    }
    return page.render(
        "services.html", context, title_key="services.title", status_code=422 if errors else 200
    )


EMPTY_SERVICE = {"category_id": "", "name_zh": "", "name_en": "", "description_zh": "", "description_en": "",
                 "price": "", "duration_minutes": "60"}  # fmt: skip


@router.get("/services")
def services_page(page: ProviderPage, session: SessionDep) -> Response:
    return _services_page(page, session, [], dict(EMPTY_SERVICE))


@router.post("/services/profile")
def save_profile(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    name_zh: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    phone: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Csrf = "",
) -> Response:
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        merchants.upsert_profile(session, page.user.id, name_zh, name_en, phone, now)
    except ServerError as exc:
        session.rollback()
        return _services_page(page, session, [str(exc)], dict(EMPTY_SERVICE))
    return page.redirect("/portal/services", notice="profile_saved")


@router.post("/services")
def create_service(
    page: ProviderPage,
    session: SessionDep,
    now: NowDep,
    category_id: Annotated[str, Form(max_length=32)] = "",
    name_zh: Annotated[str, Form(max_length=200)] = "",
    name_en: Annotated[str, Form(max_length=200)] = "",
    description_zh: Annotated[str, Form(max_length=4000)] = "",
    description_en: Annotated[str, Form(max_length=4000)] = "",
    price: Annotated[str, Form(max_length=12)] = "",
    duration_minutes: Annotated[str, Form(max_length=5)] = "",
    csrf_token: Csrf = "",
) -> Response:
    """A new service for the kiosks' catalogue; price typed in yuan, stored in fen."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    form = {"category_id": category_id, "name_zh": name_zh, "name_en": name_en,
            "description_zh": description_zh, "description_en": description_en, "price": price,
            "duration_minutes": duration_minutes}  # fmt: skip
    try:
        provider = merchants.profile_of(session, page.user.id)
        yuan = forms.parse_number(price, "price", low=0, high=100_000)
        minutes = forms.parse_number(duration_minutes, "duration_minutes", low=5, high=1440)
        body = ServiceBody(
            category_id=category_id, name_zh=name_zh.strip(), name_en=name_en.strip(),
            description_zh=description_zh.strip(), description_en=description_en.strip(),
            price_minor=round((yuan or 0) * 100), duration_minutes=int(minutes or 0),
        )  # fmt: skip
        merchants.save_service(session, provider, body, now)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _services_page(page, session, [problem_text(page, exc)], form)
    return page.redirect("/portal/services", notice="service_saved")


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
    """A bookable time slot, typed as a local date and two local times."""
    page.require_csrf(csrf_token)
    assert page.user is not None
    try:
        provider = merchants.profile_of(session, page.user.id)
        date, t_start, t_end = forms.parse_date(day), forms.parse_time(start), forms.parse_time(end)
        if t_start is None or t_end is None:
            raise forms.FormError("campaign.need_times")
        begins = dt.datetime.combine(date, t_start, forms.COMMUNITY_TZ)
        ends = dt.datetime.combine(date, t_end, forms.COMMUNITY_TZ)
        merchants.add_slot(session, provider, service_id, begins, ends, capacity, now)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _services_page(page, session, [problem_text(page, exc)], dict(EMPTY_SERVICE))
    return page.redirect("/portal/services", notice="slot_added")
