"""Clerks' pages: government-affairs cases (create, move, the resident's printable receipt slip)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import Response

from content_server.core.deps import NowDep, SessionDep
from content_server.core.errors import ServerError
from content_server.kiosk.case_states import CaseChange, allowed_targets
from content_server.kiosk.case_types import CASE_TYPES
from content_server.kiosk.identity import mask_id_number, mask_name
from content_server.kiosk.services import cases
from content_server.portal import forms
from content_server.portal.page import ClerkPage, Csrf, Page, problem_text
from schedules.protocol.kiosk import CaseState, LocalizedText

router = APIRouter()


def _pick(text: LocalizedText, lang: str) -> str:
    return text.en if lang == "en" else text.zh


def case_type_names(lang: str) -> dict[str, str]:
    return {code: _pick(t.name, lang) for code, t in CASE_TYPES.items()}


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
        case = cases.create_case(session, page.user.id, cases.NewCase(**form), now, page.tz)
    except ServerError as exc:
        session.rollback()
        return _cases_page(page, session, form, [problem_text(page, exc)], "")
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


@router.get("/cases/{case_number}/slip")
def case_slip(page: ClerkPage, session: SessionDep, case_number: str) -> Response:
    """The receipt slip a clerk prints for the resident: QR, case number, dates, what to bring.

    Personal data is masked as on a kiosk: the slip leaves the counter in a resident's pocket."""
    detail = cases.get_case(session, case_number)
    kind = CASE_TYPES.get(detail.case.case_type)
    latest = detail.events[-1] if detail.events else None
    context = {
        "section": "cases",
        "detail": detail,
        "type_name": _pick(kind.name, page.lang) if kind else detail.case.case_type,
        "bring": [_pick(d, page.lang) for d in kind.bring] if kind else [],
        "missing": latest.missing_documents if latest and latest.state == CaseState.MATERIALS_NEEDED else [],
        "deadline": latest.deadline if latest else None,
        "applicant": mask_name(detail.case.applicant_name),
        "id_masked": mask_id_number(detail.case.id_number),
    }
    return page.render("case_slip.html", context, title_key="slip.title")


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
            tz=page.tz,
        )
        cases.change_case(session, case_number, change)
    except (ServerError, ValueError) as exc:
        session.rollback()
        return _case_page(page, session, case_number, form, [problem_text(page, exc)])
    return page.redirect(f"/portal/cases/{case_number}", notice="case_updated")
