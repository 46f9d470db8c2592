"""Government-affairs cases: clerks move them; kiosks look them up masked, with a lockout.

In-process app with a clock the test moves (lockouts expire without sleeping).
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from pyzbar.pyzbar import decode

from tests.content_server.kiosk.conftest import InProcess
from tests.fixtures.server import pair_device

ID = "11010519491231002X"
PHONE = "13812345678"


@pytest.fixture
def clerk(kiosk_env: InProcess) -> dict[str, str]:
    return kiosk_env.client.auth(kiosk_env.client.create_user("clerk-li", "clerk"))


def new_case(env: InProcess, clerk: dict[str, str], name: str = "张小三") -> dict[str, object]:
    r = env.client.post(
        "/api/v1/cases",
        headers=clerk,
        json={
            "case_type": "elderly_subsidy",
            "applicant_name": name,
            "id_number": ID.lower(),
            "phone": PHONE,
        },
    )
    assert r.status_code == 201, r.text
    case: dict[str, object] = r.json()
    return case


def change(env: InProcess, clerk: dict[str, str], number: object, **body: object) -> dict[str, object]:
    r = env.client.post(f"/api/v1/cases/{number}/changes", headers=clerk, json=body)
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


def lookup(env: InProcess, number: object, headers: dict[str, str] | None = None, **answer: str):  # type: ignore[no-untyped-def]
    return env.client.post(
        "/api/v1/kiosk/cases/lookup",
        headers=headers or env.kiosk.headers,
        json={"case_number": number, **answer},
    )


def test_clerk_workflow_with_timeline_and_validation(kiosk_env_any_db: InProcess) -> None:
    kiosk_env = kiosk_env_any_db
    clerk = kiosk_env.client.auth(kiosk_env.client.create_user("clerk-li", "clerk"))
    bad = kiosk_env.client.post(
        "/api/v1/cases",
        headers=clerk,
        json={
            "case_type": "elderly_subsidy",
            "applicant_name": "王五",
            "id_number": "110105194912310021",
            "phone": PHONE,
        },
    )
    assert bad.status_code == 422 and "check digit" in bad.json()["detail"]
    case = new_case(kiosk_env, clerk)
    number = case["case_number"]
    assert case["id_number"] == ID and case["state"] == "submitted"
    assert case["due_by"] == "2026-12-15"  # 20 days, the subsidy's legal time limit
    kiosk_env.advance(hours=1)
    change(kiosk_env, clerk, number, target="accepted")
    skip = kiosk_env.client.post(
        f"/api/v1/cases/{number}/changes", headers=clerk, json={"target": "approved"}
    )
    assert skip.status_code == 409
    no_docs = kiosk_env.client.post(
        f"/api/v1/cases/{number}/changes",
        headers=clerk,
        json={"target": "materials_needed", "deadline": "2026-12-01"},
    )
    assert no_docs.status_code == 422
    kiosk_env.advance(hours=1)
    change(
        kiosk_env,
        clerk,
        number,
        target="materials_needed",
        missing_documents=["户口本原件"],
        deadline="2026-12-01",
    )
    kiosk_env.advance(days=2)
    change(kiosk_env, clerk, number, target="under_review")
    no_reason = kiosk_env.client.post(
        f"/api/v1/cases/{number}/changes", headers=clerk, json={"target": "denied"}
    )
    assert no_reason.status_code == 422
    kiosk_env.advance(days=1)
    final = change(
        kiosk_env, clerk, number, target="denied", note_zh="年龄未满80周岁", note_en="Under 80 years old"
    )
    timeline = final["timeline"]
    assert isinstance(timeline, list)
    assert [e["state"] for e in timeline] == [
        "submitted",
        "accepted",
        "materials_needed",
        "under_review",
        "denied",
    ]
    times = [e["at"] for e in timeline]
    assert times == sorted(times) and all(e["clerk_id"] for e in timeline)
    assert final["allowed_targets"] == ["closed"]
    listed = kiosk_env.client.get("/api/v1/cases", params={"state": "denied"}, headers=clerk).json()
    assert [c["case_number"] for c in listed] == [number] and len(listed[0]["timeline"]) == 5
    assert kiosk_env.client.get("/api/v1/cases", params={"state": "bogus"}, headers=clerk).status_code == 422
    operator = kiosk_env.client.auth(kiosk_env.client.operator)
    trail = kiosk_env.client.get("/api/v1/kiosk-admin/audit", headers=operator).json()
    case_trail = [a for a in reversed(trail) if a["entity"] == "case" and a["actor"] != "user:seed-clerk"]
    assert [a["action"] for a in case_trail] == [
        "case.created",
        "case.accepted",
        "case.materials_needed",
        "case.under_review",
        "case.denied",
    ]
    assert (
        case_trail[-1]["before"] == {"state": "under_review"} and case_trail[-1]["after"]["state"] == "denied"
    )
    assert all(a["actor"] == case_trail[0]["actor"] and a["actor"].startswith("user:") for a in case_trail)

    # the kiosk sees the same timeline, oldest first, with public notes and masked data only
    r = lookup(kiosk_env, str(number).lower(), id_last4="002X")
    assert r.status_code == 200, r.text
    status = r.json()
    assert [e["state"] for e in status["timeline"]] == [
        "submitted",
        "accepted",
        "materials_needed",
        "under_review",
        "denied",
    ]
    assert status["timeline"][2]["missing_documents"] == ["户口本原件"]
    assert status["timeline"][-1]["note"] == {"zh": "年龄未满80周岁", "en": "Under 80 years old"}
    assert (status["applicant_masked"], status["id_masked"], status["phone_masked"]) == (
        "张*三",
        "110***********002X",
        "138****5678",
    )
    assert "张小三" not in r.text and ID not in r.text and PHONE not in r.text
    by_phone = lookup(kiosk_env, number, phone=PHONE)
    assert by_phone.status_code == 200
    assert (
        dt.datetime.fromisoformat(by_phone.json()["as_of"]) == kiosk_env.now()
    )  # "as of" for offline display


def test_wrong_answer_and_unknown_case_are_indistinguishable_and_lock_out(
    kiosk_env_any_db: InProcess,
) -> None:
    kiosk_env = kiosk_env_any_db
    clerk = kiosk_env.client.auth(kiosk_env.client.create_user("clerk-li", "clerk"))
    number = new_case(kiosk_env, clerk)["case_number"]
    wrong = lookup(kiosk_env, number, id_last4="1234")
    unknown = lookup(kiosk_env, "GA-20261125-999999", id_last4="002X")
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    neither = lookup(kiosk_env, number)
    assert neither.status_code == 422

    # brute force from several kiosks against one case number: locked after 5 failures in total
    other = pair_device(kiosk_env.client, kind="kiosk")
    for i in range(3):
        assert lookup(kiosk_env, number, headers=other.headers, id_last4=f"{i:04d}").status_code == 404
    assert lookup(kiosk_env, number, id_last4="0009").status_code == 404  # 5th failure for this case
    locked = lookup(kiosk_env, number, headers=other.headers, id_last4="002X")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    kiosk_env.advance(minutes=16)
    assert lookup(kiosk_env, number, headers=other.headers, id_last4="002X").status_code == 200


def test_one_device_guessing_many_case_numbers_is_locked_out(
    kiosk_env: InProcess, clerk: dict[str, str]
) -> None:
    number = new_case(kiosk_env, clerk)["case_number"]
    for i in range(5):
        assert lookup(kiosk_env, f"GA-20261125-00000{i}", id_last4="002X").status_code == 404
    assert lookup(kiosk_env, number, id_last4="002X").status_code == 429  # this kiosk is locked
    fresh = pair_device(kiosk_env.client, kind="kiosk")
    assert lookup(kiosk_env, number, headers=fresh.headers, id_last4="002X").status_code == 200


def test_receipt_qr_decodes_to_the_case_number(kiosk_env: InProcess, clerk: dict[str, str]) -> None:
    number = new_case(kiosk_env, clerk)["case_number"]
    r = kiosk_env.client.get(f"/api/v1/cases/{number}/receipt.png", headers=clerk)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    decoded = decode(Image.open(io.BytesIO(r.content)))
    assert [d.data.decode() for d in decoded] == [number]


def test_only_clerks_and_kiosks(kiosk_env: InProcess) -> None:
    shop = kiosk_env.client.auth(kiosk_env.client.create_user("shop", "advertiser"))
    assert kiosk_env.client.get("/api/v1/cases", headers=shop).status_code == 403
    player = pair_device(kiosk_env.client, kind="player")
    assert lookup(kiosk_env, "GA-1", headers=player.headers, id_last4="1234").status_code == 403
    assert kiosk_env.client.get("/api/v1/kiosk/catalogue", headers=player.headers).status_code == 403
    assert (
        kiosk_env.client.post("/api/v1/kiosk/cases/lookup", json={"case_number": "GA-1"}).status_code == 401
    )


def test_a_case_handed_in_after_the_communitys_midnight_is_numbered_and_timed_on_its_day(
    kiosk_env: InProcess, clerk: dict[str, str]
) -> None:
    """00:30 in Shanghai is 16:30 UTC the day before: the case number, the legal time limit and the
    deadline's check all go by the community's calendar (by the UTC date, a case handed in then
    lost a day of its time limit and carried yesterday's date in its number)."""
    kiosk_env.advance(hours=14, minutes=30)  # START 02:00 UTC: now 2026-11-25 16:30 UTC, 11-26 00:30 local
    case = new_case(kiosk_env, clerk)
    assert str(case["case_number"]).startswith("GA-20261126-")
    assert case["due_by"] == "2026-12-16"  # 20 days from the day it was handed in
    late = kiosk_env.client.post(
        f"/api/v1/cases/{case['case_number']}/changes",
        headers=clerk,
        json={"target": "materials_needed", "missing_documents": ["户口本"], "deadline": "2026-11-25"},
    )
    assert late.status_code == 422 and "deadline" in late.text  # yesterday, in the community
    change(
        kiosk_env,
        clerk,
        case["case_number"],
        target="materials_needed",
        missing_documents=["户口本"],
        deadline="2026-11-26",
    )
