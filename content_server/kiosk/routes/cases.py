"""Clerks' JSON API for government-affairs cases (the portal's case pages use the same services)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response

from content_server.core.deps import NowDep, SessionDep, SettingsDep
from content_server.kiosk.case_states import CaseChange, allowed_targets
from content_server.kiosk.case_types import CASE_TYPES
from content_server.kiosk.deps import API, Clerk
from content_server.kiosk.receipts import qr_png
from content_server.kiosk.schemas import CaseChangeBody, CaseCreateBody, CaseEventView, CaseTypeView, CaseView
from content_server.kiosk.services import cases
from schedules.protocol.kiosk import CaseState

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
def create_case(
    body: CaseCreateBody, clerk: Clerk, session: SessionDep, now: NowDep, settings: SettingsDep
) -> CaseView:
    case = cases.create_case(
        session, clerk.id, cases.NewCase(**body.model_dump()), now, settings.community_tz
    )
    return case_view(cases.get_case(session, case.case_number), now)


@clerk_router.get("", response_model=list[CaseView])
def list_cases(clerk: Clerk, session: SessionDep, now: NowDep, state: str | None = None) -> list[CaseView]:
    return [case_view(d, now) for d in cases.recent_cases(session, state)]


@clerk_router.get("/{case_number}", response_model=CaseView)
def get_case(case_number: str, clerk: Clerk, session: SessionDep, now: NowDep) -> CaseView:
    return case_view(cases.get_case(session, case_number), now)


@clerk_router.post("/{case_number}/changes", response_model=CaseView)
def change_case(
    case_number: str,
    body: CaseChangeBody,
    clerk: Clerk,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> CaseView:
    change = CaseChange(
        target=body.target,
        clerk=clerk.id,
        at=now,
        note_zh=body.note_zh,
        note_en=body.note_en,
        missing_documents=tuple(body.missing_documents),
        deadline=body.deadline,
        tz=settings.community_tz,
    )
    return case_view(cases.change_case(session, case_number, change), now)


@clerk_router.get("/{case_number}/receipt.png", response_class=Response)
def case_receipt_qr(case_number: str, clerk: Clerk, session: SessionDep) -> Response:
    detail = cases.get_case(session, case_number)
    return Response(qr_png(detail.case.case_number), media_type="image/png")
