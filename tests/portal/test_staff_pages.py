"""Clerk and provider pages in-process, over the kiosk back end's services."""

from __future__ import annotations

import datetime as dt
import re

from tests.content_server.kiosk.conftest import InProcess, kiosk_env
from tests.content_server.kiosk.test_merchants import API, approve, pay, provider_account, service_body
from tests.fixtures.server import AppClient, Credentials
from tests.portal.conftest import csrf_of, portal_login

__all__ = ["kiosk_env"]  # the kiosk engineer's in-process fixture: seeded catalogue + paired kiosk

VALID_ID = "11010519491231002X"  # GB 11643 check digit X


def test_clerk_creates_and_moves_a_case(app_client: AppClient) -> None:
    clerk = app_client.create_user("clerk1", "clerk")
    portal_login(app_client, clerk)
    page = app_client.get("/portal/cases")
    assert "高龄津贴申领" in page.text
    form = {"csrf_token": csrf_of(page.text), "case_type": "elderly_subsidy", "applicant_name": "张三",
            "id_number": VALID_ID, "phone": "13812345678"}  # fmt: skip
    bad = app_client.post("/portal/cases", data=dict(form, id_number="110105194912310021"))
    assert bad.status_code == 422 and 'value="张三"' in bad.text  # refused, input kept
    assert "身份证号末位校验码不对" in bad.text and "check digit" not in bad.text  # in the clerk's language
    r = app_client.post("/portal/cases", data=form, follow_redirects=True)
    assert "办件已登记" in r.text and "已提交" in r.text
    number = re.search(r"<h1>(GA-\d{8}-\d{6})</h1>", r.text)
    assert number
    assert f'src="/api/v1/cases/{number.group(1)}/receipt.png"' in r.text
    assert (
        app_client.get(f"/api/v1/cases/{number.group(1)}/receipt.png").headers["content-type"] == "image/png"
    )

    change = {"csrf_token": csrf_of(r.text), "target": "materials_needed", "missing_documents": ""}
    refused = app_client.post(f"/portal/cases/{number.group(1)}", data=change)
    assert refused.status_code == 422 and "请列出需补齐的材料" in refused.text
    deadline = (app_client.clock.now().date() + dt.timedelta(days=10)).isoformat()
    change.update(missing_documents="户口簿\n近期一寸照片", deadline=deadline, note_zh="请补交材料")
    r = app_client.post(f"/portal/cases/{number.group(1)}", data=change, follow_redirects=True)
    assert "办件状态已更新" in r.text and "户口簿、近期一寸照片" in r.text
    assert r.text.index("已提交</strong>") < r.text.index("需补材料</strong>")  # timeline oldest first
    listing = app_client.get("/portal/cases?state=materials_needed")
    assert number.group(1) in listing.text and "110***********002X" in listing.text


def test_provider_accepts_completes_and_cancels_bookings(kiosk_env: InProcess) -> None:
    env = kiosk_env
    user_id, me = provider_account(env, "plumber")
    env.client.put(f"{API}/provider/profile", headers=me, json={"name_zh": "快修管道", "name_en": "QuickFix"})
    approve(env, user_id)
    service_id = env.client.post(f"{API}/provider/services", headers=me, json=service_body()).json()["id"]
    start = env.now() + dt.timedelta(days=1)
    slot = env.client.post(
        f"{API}/provider/services/{service_id}/slots", headers=me,
        json={"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(), "capacity": 3},
    ).json()  # fmt: skip
    first, second = pay(env, slot["id"], service_id), pay(env, slot["id"], service_id)

    portal_login(env.client, Credentials("plumber", "password-123"))
    page = env.client.get("/portal/bookings")
    assert first["reference"] in page.text and "139****1111" in page.text and "¥60.00" in page.text
    token = csrf_of(page.text)
    r = env.client.post(
        f"/portal/bookings/{first['id']}/accept", data={"csrf_token": token}, follow_redirects=True
    )
    assert "预约已更新" in r.text and "已接单" in r.text
    env.client.post(f"/portal/bookings/{first['id']}/done", data={"csrf_token": token})
    no_reason = env.client.post(
        f"/portal/bookings/{second['id']}/cancel", data={"csrf_token": token, "reason": ""}
    )
    assert no_reason.status_code == 422
    r = env.client.post(
        f"/portal/bookings/{second['id']}/cancel", data={"csrf_token": token, "reason": "师傅生病"},
        follow_redirects=True,
    )  # fmt: skip
    assert "已完成" in r.text and "已取消" in r.text and "师傅生病" in r.text
    order = env.client.get(f"{API}/kiosk/orders/{second['id']}", headers=env.kiosk.headers).json()
    assert order["state"] == "refunded"


def test_provider_sets_up_a_service_with_slots_for_the_kiosks(kiosk_env: InProcess) -> None:
    env = kiosk_env
    user_id, _ = provider_account(env, "barber")
    approve(env, user_id)
    portal_login(env.client, Credentials("barber", "password-123"))
    page = env.client.get("/portal/services")
    assert "请先填写服务商资料" in page.text
    token = csrf_of(page.text)
    profile = {"csrf_token": token, "name_zh": "老王理发", "name_en": "Wang's Cuts"}
    r = env.client.post("/portal/services/profile", data=profile, follow_redirects=True)
    assert "资料已保存" in r.text and "新增服务" in r.text
    form = {"csrf_token": token, "category_id": "merchants", "name_zh": "男士理发",
            "name_en": "Men's haircut", "price": "35.50", "duration_minutes": "30"}  # fmt: skip
    bad = env.client.post("/portal/services", data=dict(form, price="-1"))
    assert bad.status_code == 422 and 'value="男士理发"' in bad.text
    r = env.client.post("/portal/services", data=form, follow_redirects=True)
    assert "服务已发布" in r.text and "¥35.50" in r.text
    service_id = re.search(r'action="/portal/services/([0-9a-f]+)/slots"', r.text)
    assert service_id
    tomorrow = (env.now() + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    slot = {
        "csrf_token": token,
        "day": tomorrow.isoformat(),
        "start": "10:00",
        "end": "10:30",
        "capacity": "2",
    }
    r = env.client.post(f"/portal/services/{service_id.group(1)}/slots", data=slot, follow_redirects=True)
    assert "时段已添加" in r.text and "已约 0/2" in r.text
    assert f'data-start="{tomorrow.isoformat()} 10:00"' in r.text and 'value="10:30"' in r.text
    past = env.client.post(f"/portal/services/{service_id.group(1)}/slots", data=dict(slot, day="2020-01-01"))
    assert past.status_code == 422
    recurring = {"csrf_token": token, "first_day": tomorrow.isoformat(), "last_day": tomorrow.isoformat(),
                 "start": "10:00", "end": "10:30", "capacity": "2"}  # fmt: skip
    none_chosen = env.client.post(f"/portal/services/{service_id.group(1)}/slots/recurring", data=recurring)
    assert none_chosen.status_code == 422 and "请至少选择一天" in none_chosen.text
    backwards = env.client.post(
        f"/portal/services/{service_id.group(1)}/slots/recurring",
        data=dict(recurring, start="11:00", weekdays=[str(tomorrow.weekday())]),
    )
    assert backwards.status_code == 422 and "结束时间必须晚于开始时间" in backwards.text
    catalogue = env.client.get(f"{API}/kiosk/catalogue", headers=env.kiosk.headers).json()
    offer = next(s for s in catalogue["services"] if s["id"] == service_id.group(1))
    assert offer["price_minor"] == 3550 and offer["slots"][0]["remaining"] == 2
