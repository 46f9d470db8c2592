"""Merchants and operators with campaigns and media in Chromium (issue 14): no dead ends (change or
withdraw a pending campaign, pause with a confirmation and resume, rename, replace and delete
media, the operator's own list and report), nothing hidden (the approval card and the campaign
page show dayparts, cap and category; each screen shape's preview shows what it really plays; no
red error before the form is filled in), proof of play in the community's time with names."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.fixtures.media import make_image
from tests.fixtures.server import Credentials, LiveServer, pair_device
from tests.portal.conftest import browser_login, set_language, shoot, shoot_all

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _upload(server: LiveServer, creds: Credentials, path: Path) -> str:
    r = httpx.post(
        f"{server.api}/media?filename={path.name}", content=path.read_bytes(), headers=server.auth(creds)
    )
    assert r.status_code in (200, 201), r.text
    media_id: str = r.json()["id"]
    return media_id


def _default_slide(server: LiveServer, media_dir: Path) -> None:
    """The operator's default slide (unbooked time on every screen)."""
    media_id = _upload(server, server.operator, media_dir / "small.jpg")
    r = httpx.patch(
        f"{server.api}/media/{media_id}", json={"filler": True}, headers=server.auth(server.operator)
    )
    assert r.status_code == 200, r.text


def _book(server: LiveServer, creds: Credentials, media_ids: list[str], name: str, **over: Any) -> str:
    today = dt.datetime.now(SHANGHAI).date()
    body = {
        "name": name,
        "media_ids": media_ids,
        "flight_start": today.isoformat(),
        "flight_end": (today + dt.timedelta(days=6)).isoformat(),
        "share_percent": 10,
        **over,
    }
    r = httpx.post(server.api + "/campaigns", json=body, headers=server.auth(creds))
    assert r.status_code == 201, r.text
    campaign_id: str = r.json()["id"]
    return campaign_id


def _approve(server: LiveServer, campaign_id: str) -> None:
    r = httpx.post(
        f"{server.api}/campaigns/{campaign_id}/approve", json={}, headers=server.auth(server.operator)
    )
    assert r.status_code == 200, r.text


def test_merchant_books_with_every_fact_in_view_changes_and_withdraws(
    portal_server: LiveServer, open_tab: Callable[[], Page], media_dir: Path
) -> None:
    server = portal_server
    pair_device(server, screen_class="outdoor_large", name="东门大屏", tags=["building:3"])
    pair_device(
        server, screen_class="indoor_small", orientation="portrait", name="3号楼大堂", tags=["building:3"]
    )
    _default_slide(server, media_dir)
    shop = server.create_user("bakery", "advertiser", password="bakery-password-1")
    wide = _upload(server, shop, media_dir / "landscape.png")
    tall = _upload(server, shop, media_dir / "portrait.png")

    tab = open_tab()
    browser_login(tab, server.url, shop)
    # the media library: rename an entry on its own page
    tab.goto(server.url + "/portal/media")
    tab.get_by_role("link", name="landscape.png").click()
    tab.get_by_label("标题", exact=True).fill("冬季横幅")
    tab.get_by_role("button", name="保存").click()
    expect(tab.locator(".notice")).to_contain_text("素材已重命名")
    expect(tab.get_by_role("heading", level=1)).to_have_text("冬季横幅")
    shoot_all(tab, "media-detail")

    # the campaign form opens calm: a hint, not a red "enter a name"
    tab.goto(server.url + "/portal/campaigns/new")
    box = tab.locator("#availability")
    expect(box).to_have_text("填写表单后，这里会立即显示档期是否充足。")
    expect(box).not_to_have_class(re.compile("nofit"))
    shoot_all(tab, "campaign-form-empty")
    tab.get_by_label("名称", exact=True).fill("冬季面包节")
    tab.get_by_label("行业类别").fill("面包烘焙")
    tab.locator(".media-pick label").filter(has_text="冬季横幅").locator("input").check()
    tab.locator(".media-pick label").filter(has_text="portrait.png").locator("input").check()
    # each shape plays its own picture: the previews say so before anything is booked
    expect(tab.locator(".frame.outdoor img")).to_have_attribute("src", re.compile(wide))
    expect(tab.locator(".frame.lobby img")).to_have_attribute("src", re.compile(tall))
    for day in ("周一", "周二", "周三", "周四", "周五"):
        tab.locator("label.check").filter(has_text=day).locator("input").check()
    tab.get_by_label("从", exact=True).fill("07:00")
    tab.get_by_label("到", exact=True).first.fill("09:00")
    tab.get_by_label("每屏每小时最多播放次数（可选）").fill("6")
    tab.locator("input[name=buildings][value='3']").check()  # both screens are in building 3
    expect(box).to_contain_text("档期充足", timeout=15_000)
    tab.get_by_role("button", name="提交审核").click()
    expect(tab.locator(".notice")).to_contain_text("投放申请已提交")
    facts = tab.locator("dl.campaign-facts")
    expect(facts.locator(".campaign-dayparts")).to_have_text("周一 周二 周三 周四 周五 07:00–09:00")
    expect(facts.locator(".campaign-cap")).to_have_text("最多 6 次")
    expect(facts.locator(".campaign-category")).to_have_text("面包烘焙")
    expect(facts.locator(".campaign-where")).to_have_text("楼栋：3")  # in words, never "building:3"
    expect(tab.locator(".frame.outdoor img")).to_have_attribute("src", re.compile(wide))
    expect(tab.locator(".frame.lobby img")).to_have_attribute("src", re.compile(tall))
    shoot_all(tab, "campaign-pending")

    # while it waits, the merchant changes it (the cap, the name) and it keeps waiting
    tab.get_by_role("link", name="修改", exact=True).click()
    expect(tab.get_by_label("名称", exact=True)).to_have_value("冬季面包节")
    expect(box).to_contain_text("档期充足", timeout=15_000)  # a filled-in form is checked at once
    shoot_all(tab, "campaign-edit")
    tab.get_by_label("名称", exact=True).fill("冬季面包节（周末加场）")
    tab.get_by_label("每屏每小时最多播放次数（可选）").fill("4")
    tab.get_by_role("button", name="保存并提交审核").click()
    expect(tab.locator(".notice")).to_contain_text("投放已修改，等待审核")
    expect(tab.get_by_role("heading", level=1)).to_have_text("冬季面包节（周末加场）")
    expect(tab.locator(".campaign-cap")).to_have_text("最多 4 次")
    expect(tab.locator(".campaign-state")).to_contain_text("待审核")

    # a second booking is withdrawn: asked first, then gone from the queue
    other = _book(server, shop, [wide], "试投放")
    asked = {"zh": ("撤回申请", "撤回后该申请不再等待审核"), "en": ("Withdraw", "stops waiting for approval")}
    for lang in ("en", "zh"):  # the question is a form's answer: ask it in each language
        set_language(tab, lang, f"{server.url}/portal/campaigns/{other}")
        tab.get_by_role("button", name=asked[lang][0], exact=True).click()
        expect(tab.get_by_role("heading", name=re.compile(asked[lang][1]))).to_be_visible()
        shoot(tab, f"campaign-withdraw-confirm-{lang}-desktop")
        shoot(tab, f"campaign-withdraw-confirm-{lang}-phone", phone=True)
    tab.locator(".confirm-box").get_by_role("button", name="撤回申请").click()
    expect(tab.locator(".notice")).to_contain_text("投放申请已撤回")
    expect(tab.locator(".campaign-state")).to_contain_text("已结束")

    # media a campaign shows cannot be deleted: the refusal names the campaign
    refused = {
        "zh": ("确认删除该素材", "删除素材", "以下投放仍在使用该素材，不能删除：冬季面包节（周末加场）"),
        "en": ("Yes, delete it", "Delete", "冬季面包节（周末加场）"),
    }
    for lang in ("en", "zh"):
        set_language(tab, lang, f"{server.url}/portal/media/{wide}")
        expect(tab.locator(".used-by")).to_contain_text("冬季面包节（周末加场）")
        tab.get_by_label(refused[lang][0]).check()
        tab.get_by_role("button", name=refused[lang][1], exact=True).click()
        expect(tab.get_by_role("alert")).to_contain_text(refused[lang][2])
        shoot(tab, f"media-delete-refused-{lang}-desktop")
        shoot(tab, f"media-delete-refused-{lang}-phone", phone=True)
    spare = _upload(server, shop, media_dir / "small.jpg")
    tab.goto(f"{server.url}/portal/media/{spare}")
    tab.get_by_label("确认删除该素材").check()
    tab.get_by_role("button", name="删除素材").click()
    expect(tab.locator(".notice")).to_contain_text("素材已删除")
    expect(tab.locator(f'tr[data-media-id="{spare}"]')).to_have_count(0)


def test_operator_sees_everything_approves_and_lists_campaigns_merchant_pauses_and_resumes(
    portal_server: LiveServer, open_tab: Callable[[], Page], media_dir: Path, tmp_path: Path
) -> None:
    server = portal_server
    shop = server.create_user("florist", "advertiser", password="florist-password-1")
    wide, tall = (_upload(server, shop, media_dir / n) for n in ("landscape.png", "portrait.png"))
    daypart = [{"weekdays": [5, 6], "start": "10:00:00", "end": "12:00:00"}]
    campaign = _book(
        server, shop, [wide, tall], "鲜花周末", category="花店", dayparts=daypart, frequency_cap_per_hour=3
    )

    op = open_tab()
    browser_login(op, server.url, server.operator)
    card = op.locator("article.pending-campaign").filter(has_text="鲜花周末")
    expect(card.locator(".campaign-dayparts")).to_have_text("周六 周日 10:00–12:00")
    expect(card.locator(".campaign-cap")).to_have_text("最多 3 次")
    expect(card.locator(".campaign-category")).to_have_text("花店")
    expect(card.locator(".frame.outdoor img")).to_have_attribute("src", re.compile(wide))
    expect(card.locator(".frame.lobby img")).to_have_attribute("src", re.compile(tall))
    assert card.locator(".frame.lobby img").evaluate("img => img.naturalHeight > img.naturalWidth")
    shoot_all(op, "approvals-card")
    card.get_by_role("button", name="批准").click()
    expect(op.locator(".notice")).to_contain_text("已批准该投放")

    # the operator's own list of what runs (it answered 403 before)
    op.get_by_role("link", name="广告投放").click()
    row = op.locator("tr[data-campaign]").filter(has_text="鲜花周末")
    expect(row).to_contain_text("florist")
    expect(row).to_contain_text("投放中")
    op.get_by_role("link", name="投放中").click()
    expect(op.locator("tr[data-campaign]").filter(has_text="鲜花周末")).to_have_count(1)
    shoot_all(op, "campaigns-operator")

    # the merchant pauses: asked first; then it can be resumed
    shop_tab = open_tab()
    browser_login(shop_tab, server.url, shop)
    pausing = (("en", "Pause", "off every screen"), ("zh", "暂停投放", "暂停后该广告将从所有屏幕下线"))
    for lang, button, question in pausing:
        set_language(shop_tab, lang, f"{server.url}/portal/campaigns/{campaign}")
        shop_tab.get_by_role("button", name=button, exact=True).click()
        expect(shop_tab.get_by_role("heading", name=re.compile(question))).to_be_visible()
        shoot(shop_tab, f"campaign-pause-confirm-{lang}-desktop")
        shoot(shop_tab, f"campaign-pause-confirm-{lang}-phone", phone=True)
    expect(shop_tab.locator(".campaign-state")).to_contain_text("投放中")  # nothing happened yet
    shop_tab.locator(".confirm-box").get_by_role("button", name="暂停投放").click()
    expect(shop_tab.locator(".notice")).to_contain_text("投放已暂停")
    shoot_all(shop_tab, "campaign-paused")
    op.goto(server.url + "/portal/campaigns?show=paused")
    expect(op.locator("tr[data-campaign]").filter(has_text="鲜花周末")).to_contain_text("已暂停")
    shop_tab.get_by_role("button", name="恢复投放").click()
    expect(shop_tab.locator(".notice")).to_contain_text("投放已恢复")
    expect(shop_tab.locator(".campaign-state")).to_contain_text("投放中")

    # a new portrait picture replaces the old one: it plays from now on, after approval again
    fresh = make_image(tmp_path / "portrait-v2.png", (1080, 1920), label="v2")
    shop_tab.goto(f"{server.url}/portal/media/{tall}")
    shop_tab.set_input_files("#file", [str(fresh)])
    shop_tab.get_by_role("button", name="替换文件").click()
    expect(shop_tab.locator(".notice")).to_contain_text("使用它的已批准投放已重新提交审核")
    shoot_all(shop_tab, "media-replaced")
    shop_tab.goto(f"{server.url}/portal/campaigns/{campaign}")
    expect(shop_tab.locator(".campaign-state")).to_contain_text("待审核")
    listing = httpx.get(server.api + "/media", headers=server.auth(shop)).json()
    assert [m["filename"] for m in listing if m["id"] == tall] == ["portrait-v2.png"]
    assert sum(m["filename"] == "portrait-v2.png" for m in listing) == 1  # no second entry left behind


def test_proof_of_play_in_the_communitys_time_with_names_for_both(
    portal_server: LiveServer, open_tab: Callable[[], Page], media_dir: Path
) -> None:
    server = portal_server
    screen = pair_device(server, screen_class="outdoor_large", name="北门大屏", groups=["north"])
    shop = server.create_user("teashop", "advertiser", password="teashop-password-1")
    wide = _upload(server, shop, media_dir / "landscape.png")
    campaign = _book(server, shop, [wide], '=HYPERLINK("x") 茶饮', targeting={"groups": ["north"]})
    _approve(server, campaign)
    manifest = httpx.get(server.api + "/device/manifest", headers=screen.headers).json()
    served_at = dt.datetime.now(dt.UTC)  # plays count only from when the screen had this manifest
    item_id = next(c["item_ids"][0] for c in manifest["catalogue"]["campaigns"] if c["id"] == campaign)
    # the report has a row per day: all five on served_at's day, ended by its midnight (moved to the
    # next day they would lie ahead of the report's default range, which ends today; the server
    # believes plays from two minutes before the manifest was served)
    midnight = dt.datetime.combine(
        served_at.astimezone(SHANGHAI).date() + dt.timedelta(days=1), dt.time(), SHANGHAI
    )
    start = min(served_at, midnight - dt.timedelta(seconds=45))
    records = [
        {
            "id": str(uuid.uuid4()),
            "item_id": item_id,
            "campaign_id": campaign,
            "duration_s": 8.0,
            "completed": True,
            "started_at": (start + dt.timedelta(seconds=9 * i)).isoformat(),
        }
        for i in range(5)
    ]
    r = httpx.post(server.api + "/device/plays", json={"records": records}, headers=screen.headers)
    assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
    today = start.astimezone(SHANGHAI).date().isoformat()

    op = open_tab()
    browser_login(op, server.url, server.operator)
    op.get_by_role("link", name="播放报表").click()
    row = op.locator("table.report tbody tr").filter(has_text="茶饮")
    expect(row).to_contain_text(today)  # the community's day, not the UTC one
    expect(row).to_contain_text("teashop")
    expect(row.locator("td.num").first).to_have_text("5")
    ticks = op.locator("svg.chart text.axis").evaluate_all("els => els.map(e => e.textContent)")
    numbers = [t for t in ticks if re.fullmatch(r"[0-9.]+", t)]
    assert numbers and all(re.fullmatch(r"\d+", t) for t in numbers), numbers  # no "1.25 plays"
    shoot_all(op, "report-operator")
    with op.expect_download() as download:
        op.get_by_role("link", name="下载 CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "日期,小时,投放,商户,屏幕,屏幕类型,播放次数,完整播放次数,播放时长（秒）"
    body = [line for line in lines[1:] if "茶饮" in line]
    assert body and all(line.startswith(today + ",") for line in body)
    assert all("北门大屏" in line and "户外大屏" in line and screen.device_id not in line for line in body)
    assert all(',"\'=HYPERLINK(""x"") 茶饮",' in line for line in body)  # a merchant's formula never runs
    hours = {line.split(",")[1] for line in body}
    assert all(re.fullmatch(r"\d\d:00", h) for h in hours)
    set_language(op, "en", server.url + "/portal/report")
    with op.expect_download() as download:
        op.get_by_role("link", name="Download CSV").click()
    header = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("Day,Hour,Campaign,Advertiser,Screen,Screen class,Plays")
    set_language(op, "zh", server.url + "/portal/report")

    # the merchant: the same numbers on the campaign's page, and only their own in the report
    tab = open_tab()
    browser_login(tab, server.url, Credentials("teashop", "teashop-password-1"))
    tab.goto(f"{server.url}/portal/campaigns/{campaign}")
    expect(tab.locator("table.report td.num").first).to_have_text("5")
    expect(tab.locator("table.report")).to_contain_text(today)
    tab.goto(server.url + "/portal/report")
    expect(tab.locator("table.report tbody tr")).to_have_count(1)
    shoot_all(tab, "report-merchant")
