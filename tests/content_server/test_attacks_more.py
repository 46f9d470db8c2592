"""More of issue 21's attacks over real HTTP against ``signage-server serve`` on loopback (the first ones
are in ``test_attacks.py``): each tries the attack and must fail to get through.

Most share one server per module (``shared``: behind a trusted proxy on 127.0.0.1, in demo mode with
a random key, asking for screenshots every 30 s); each test makes its own accounts, devices and
cases. The global log-in budget and the fleet's alert get servers of their own: spending the budget
would slow every other test's log-ins, and the alert gathers every device of the server in one
incident.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from content_server.core.settings import PUBLISHED_SECRETS
from content_server.fleet.channel_config import new_webhook_secret
from content_server.kiosk.services.community_pay import derive_secret
from content_server.kiosk.signing import signed_headers
from content_server.portal.security import LANG_COOKIE
from kiosk_app.flow import CaseField, FlowSettings, KioskFlow, Screen
from kiosk_app.http_api import HttpKioskApi
from kiosk_app.jobs import ImmediateRunner
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.operator import OperatorPin
from kiosk_app.store import CaseMemory, CatalogueStore
from schedules.clock import SystemClock
from signage_demo import secret as demo_secret
from signage_player.outbox import Outbox
from tests.content_server.kiosk.conftest import Live, pick_slot, seeded_live, success_notification
from tests.fixtures.plays import book_campaign, fetch_manifest
from tests.fixtures.receivers import SmtpReceiver, WebhookReceiver
from tests.fixtures.server import Credentials, LiveServer, PairedDevice, free_port, pair_device
from tests.fixtures.waiting import eventually
from tests.kiosk_app.conftest import PIN_HASH
from tests.portal.conftest import RAW_KEY, portal_login

pytestmark = pytest.mark.slow

SCREENSHOT_EVERY_S = 30  # the shared server's screenshot schedule


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, operator_database: Path) -> Iterator[Live]:
    """One server for the attacks that do not disturb each other, seeded, with a paired kiosk."""
    data = tmp_path_factory.mktemp("attacks-more")
    key = demo_secret.load_or_create(data / "demo")  # as the demo launcher does on its first run
    env = {"SIGNAGE_DEMO": "1", "SIGNAGE_SECRET_KEY": key, "SIGNAGE_TRUSTED_PROXIES": "127.0.0.1",
           "SIGNAGE_SCREENSHOT_EVERY_S": str(SCREENSHOT_EVERY_S)}  # fmt: skip
    server = LiveServer(data_dir=data, port=free_port(), extra_env=env)
    shutil.copyfile(operator_database, data / "signage.db")
    server.start()
    try:
        yield from seeded_live(server)
    finally:
        server.stop()


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def _play(item: str, campaign: str | None, started: dt.datetime, seconds: float = 8.0) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "item_id": item, "campaign_id": campaign,
            "started_at": started.isoformat(), "duration_s": seconds, "completed": True}  # fmt: skip


def _plays(server: LiveServer, device: PairedDevice, records: list[dict[str, Any]]) -> dict[str, Any]:
    r = httpx.post(server.api + "/device/plays", json={"records": records}, headers=device.headers)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


# --- proof of play: the refusals the first file did not try over HTTP ------------------------------------


def test_too_old_outside_dates_and_unknown_campaign_plays_are_refused_and_counted(
    shared: Live, media_dir: Path
) -> None:
    server = shared.server
    op = server.auth(server.operator)
    shop = server.auth(server.create_user(_unique("shop"), "advertiser"))
    group = _unique("g")
    screen = pair_device(server, screen_class="indoor_small", groups=[group])
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # the screen's day (Asia/Shanghai)
    tomorrow = today + dt.timedelta(days=1)
    camp = book_campaign(httpx, op, shop, media_dir / "small.jpg", groups=[group], start=tomorrow,
                         end=today + dt.timedelta(days=30), base=server.api)  # fmt: skip
    manifest = fetch_manifest(httpx, screen.headers, base=server.api)  # it runs from tomorrow: sent ahead
    item = next(c.item_ids[0] for c in manifest.catalogue.campaigns if c.id == camp)
    half_minute_ago = _now() - dt.timedelta(seconds=30)
    answer = _plays(server, screen, [
        _play(item, camp, _now() - dt.timedelta(days=8)),  # older than the offline week
        _play(item, camp, half_minute_ago),  # the campaign's flight starts tomorrow
        _play(item, "f" * 32, half_minute_ago + dt.timedelta(seconds=10)),  # the item, claimed for another
    ])  # fmt: skip
    reasons = {"too_old": 1, "outside_dates": 1, "unknown_campaign": 1}
    assert (answer["accepted"], answer["refused"], answer["refused_reasons"]) == (0, 3, reasons)
    refused = httpx.get(server.api + "/reports/refused-plays", headers=op).json()
    assert [r for r in refused if r["screen_id"] == screen.device_id] == [
        {"screen_id": screen.device_id, "refused": 3, "reasons": reasons}
    ]
    assert httpx.get(server.api + "/reports/plays", headers=shop).json() == []  # nothing to bill


# --- case look-ups: the kiosk's idle reset --------------------------------------------------------------


def _kiosk_flow(live: Live, data: Path) -> KioskFlow:
    """The real kiosk view model talking to the live server with the paired kiosk's key."""
    api = HttpKioskApi(live.server.url, device_key=live.kiosk.device_key, timeout=10)
    clock = SystemClock()
    return KioskFlow(
        api, ImmediateRunner(), Outbox(data / "outbox.sqlite3"), CatalogueStore(data / "catalogue"),
        CaseMemory(data / "cases"), DeviceKeySigner(Ed25519PrivateKey.generate(), live.server.url),
        OperatorPin(PIN_HASH), clock.now(), FlowSettings(kiosk_id=live.kiosk.device_id),
    )  # fmt: skip


def _look_up(flow: KioskFlow, number: str, last4: str) -> str:
    """Type a case number and the last four ID characters, submit; the screen or notice shown."""
    flow.home()
    flow.open_cases()
    flow.clear_field()
    for ch in number:
        flow.key(ch)
    flow.select_case_field(CaseField.LAST4)
    flow.clear_field()
    for ch in last4:
        flow.key(ch)
    flow.submit_case(_now())
    if flow.state.screen is Screen.CASE_RESULT:
        return "shown"
    assert flow.state.notice is not None
    return flow.state.notice.key


def test_the_idle_reset_gives_the_next_resident_a_clean_counter_but_the_case_stays_protected(
    shared: Live, tmp_path: Path
) -> None:
    server = shared.server
    clerk = server.auth(server.create_user(_unique("clerk"), "clerk"))

    def new_case(id_number: str) -> str:
        body = {"case_type": "residence_permit", "applicant_name": "张三", "id_number": id_number,
                "phone": "13800138000"}  # fmt: skip
        r = httpx.post(server.api + "/cases", json=body, headers=clerk)
        assert r.status_code == 201, r.text
        number: str = r.json()["case_number"]
        return number

    guessed, other = new_case("11010519491231002X"), new_case("110105198001011238")
    flow = _kiosk_flow(shared, tmp_path)
    flow.start()
    # one resident guesses: three wrong answers for one case, two for another ...
    tries = [_look_up(flow, guessed, f"000{i}") for i in range(3)]
    tries += [_look_up(flow, other, f"111{i}") for i in range(2)]
    assert tries == ["case.not_found"] * 5
    # ... and this session now waits, even with the right answer
    assert _look_up(flow, other, "1238") == "case.locked"
    flow.reset()  # the idle reset: back to the attract loop, a new session
    assert _look_up(flow, other, "1238") == "shown"  # the next resident is not slowed
    # the case guessed at this kiosk still waits, for any session and even for the right answer
    assert _look_up(flow, guessed, "002X") == "case.locked"
    flow.reset()
    assert _look_up(flow, guessed, "002X") == "case.locked"


# --- screenshots on the heartbeat's schedule --------------------------------------------------------------


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), "teal").save(out, format="PNG")
    return out.getvalue()


def test_a_screenshot_is_refused_until_the_heartbeat_s_schedule_asks_for_it(shared: Live) -> None:
    """SIGNAGE_SCREENSHOT_EVERY_S=30 and no operator asking: one upload per 30 s, refused until due."""
    server = shared.server
    screen = pair_device(server)
    url, beat_url = server.api + "/device/screenshot", server.api + "/device/heartbeat"

    def asked() -> bool:
        body = {"sent_at": _now().isoformat(), "player_version": "test-1"}
        r = httpx.post(beat_url, json=body, headers=screen.headers)
        assert r.status_code == 200, r.text
        return bool(r.json()["screenshot_requested"])

    assert asked()  # a screen with no screenshot yet is due one
    assert httpx.post(url, content=_png(), headers=screen.headers).status_code == 204
    accepted_at = time.monotonic()
    unasked = []
    # uploads nobody asked for, until 10 s before the schedule's time: an upload arriving once it
    # is due is taken even if it beat the heartbeat's ask (on a loaded machine a request can take
    # seconds, so one sent later races the schedule: that race failed a loaded run)
    while time.monotonic() - accepted_at < SCREENSHOT_EVERY_S - 10:
        assert not asked()
        unasked.append(httpx.post(url, content=_png(), headers=screen.headers).status_code)
        time.sleep(0.5)  # the next heartbeat (a player beats every 60 s; this one is in a hurry)

    def due_again() -> bool:
        time.sleep(0.5)
        return asked()

    eventually(due_again, timeout_s=60, what="the schedule asking again")
    assert time.monotonic() - accepted_at >= SCREENSHOT_EVERY_S - 1  # not before the schedule says
    assert len(unasked) >= 5 and set(unasked) == {409}  # every upload before it was refused unread
    assert httpx.post(url, content=_png(), headers=screen.headers).status_code == 204
    assert httpx.post(url, content=_png(), headers=screen.headers).status_code == 409  # used up again
    assert not asked()


# --- the demo's published key -------------------------------------------------------------------------


def test_a_payment_notification_signed_with_the_published_demo_key_is_refused(shared: Live) -> None:
    """The demo runs on its own random key: a notification signed with the key the code used to carry
    does not mark the order paid; the same one signed with the installation's key does (so the
    forgery is what failed)."""
    order = shared.order({"idempotency_key": str(uuid.uuid4()), "phone": "13812345678",
                          "local_reference": "K-1", **_slot(shared)})  # fmt: skip
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    body = success_notification(shared.sessions, order_id, _now())
    url = shared.server.api + "/payments/community_pay/notify"
    for published in PUBLISHED_SECRETS:
        forged = httpx.post(url, content=body, headers=signed_headers(derive_secret(published), body, _now()))
        assert forged.status_code in (400, 401, 403), forged.text
    state = httpx.get(f"{shared.server.api}/kiosk/orders/{order_id}", headers=shared.kiosk.headers).json()
    assert state["state"] == "awaiting_payment"
    real_key = (shared.server.data_dir / "demo" / demo_secret.KEY_FILE).read_text().strip()
    genuine = httpx.post(url, content=body, headers=signed_headers(derive_secret(real_key), body, _now()))
    assert genuine.status_code == 200, genuine.text
    state = httpx.get(f"{shared.server.api}/kiosk/orders/{order_id}", headers=shared.kiosk.headers).json()
    assert state["state"] == "paid"


def _slot(live: Live) -> dict[str, str]:
    b = pick_slot(live.sessions, _now(), "Health check visit")
    return {"service_id": b.service_id, "slot_id": b.slot_id}


# --- the audit CSV ----------------------------------------------------------------------------------------


def test_the_audit_csv_neutralises_a_formula_in_an_audited_field(shared: Live) -> None:
    """Behind the trusted proxy an operator's request carries X-Forwarded-For; its text becomes the
    audit record's address. A formula there is exported as text, in the API's CSV and the portal's."""
    server = shared.server
    op = server.auth(server.operator)
    formula = "=cmd|'/c calc'!A1"  # no comma: X-Forwarded-For is a list, the proxy's entry is the last
    name = _unique("formula")
    body = {"username": name, "password": "a fine long password", "role": "advertiser", "approved": True}
    r = httpx.post(server.api + "/users", json=body, headers={**op, "X-Forwarded-For": formula})
    assert r.status_code == 201, r.text
    exported = httpx.get(server.api + "/audit.csv", headers=op)
    assert exported.status_code == 200
    with httpx.Client(base_url=server.url) as browser:
        portal_login(browser, server.operator)
        page = browser.get("/portal/fleet/audit.csv")
        assert page.status_code == 200
    for text in (exported.text, page.text):
        rows = list(csv.reader(io.StringIO(text)))
        cells = [c for row in rows for c in row]
        assert "'" + formula in cells, text[-2000:]  # the address, as text
        assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
        assert not [c for c in cells if c.startswith("-") and not re.fullmatch(r"-?[0-9.]+", c)]


# --- the global log-in budget -------------------------------------------------------------------------


def test_many_addresses_guessing_many_accounts_meet_the_global_budget_and_the_owner_gets_in(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """Behind a trusted proxy every guess claims a new address and a new account, so no per-address
    or per-account counter ever slows it: the global budget (20 an hour here) does. The owner on a
    browser they logged in from before still gets in; on a new browser they wait like everyone
    (the password is not even checked) — what docs/security.md promises."""
    server = live_server_factory(SIGNAGE_TRUSTED_PROXIES="127.0.0.1", SIGNAGE_LOGIN_FAILURES_PER_HOUR="20")
    creds = server.operator

    def login(client: httpx.Client, who: str, password: str, address: str | None = None) -> httpx.Response:
        headers = {"X-Forwarded-For": address} if address else {}
        return client.post(server.api + "/auth/token", json={"username": who, "password": password},
                           headers=headers)  # fmt: skip

    with httpx.Client(timeout=30) as owner, httpx.Client(timeout=30) as attacker:
        assert login(owner, creds.username, creds.password).status_code == 200  # a known device from now on
        codes, waits = [], []
        for i in range(30):
            r = login(attacker, f"resident{i}", f"guess-{i}-guess", f"198.51.{100 + i // 200}.{i % 200 + 1}")
            codes.append(r.status_code)
            waits.append(int(r.headers.get("retry-after", 0)))
        assert codes[:20] == [401] * 20 and codes[20:] == [429] * 10
        assert min(waits[20:]) >= 1
        # a fresh address, a fresh account, even the right password of a real account: it waits
        assert login(attacker, creds.username, creds.password, "203.0.113.77").status_code == 429
        with httpx.Client(timeout=30) as new_browser:
            assert login(new_browser, creds.username, creds.password).status_code == 429
        assert login(owner, creds.username, creds.password).status_code == 200


# --- refused plays reach the duty team ------------------------------------------------------------------


@pytest.fixture
def duty() -> Iterator[tuple[SmtpReceiver, WebhookReceiver]]:
    smtp, hooks = SmtpReceiver(), WebhookReceiver(new_webhook_secret())
    yield smtp, hooks
    smtp.close()
    hooks.close()


def test_a_device_inventing_plays_opens_an_alert_that_reaches_the_duty_team(
    live_server_factory: Callable[..., LiveServer],
    media_dir: Path,
    duty: tuple[SmtpReceiver, WebhookReceiver],
) -> None:
    """The default ``refused_plays`` rule (more than 20 refused in 60 minutes): a device posting forged
    plays opens an incident naming it and the reasons, sent by e-mail and webhook; an honest device
    with a few late plays stays out of it."""
    smtp, hooks = duty
    server = live_server_factory(SIGNAGE_FLEET_EVALUATE_EVERY_S="1")
    op = server.auth(server.operator)
    hook = {"url": hooks.url, "secret": hooks.state.secret}
    for kind, config in (("email", smtp.config()), ("webhook", hook)):
        channel = {"name": f"{kind} duty", "kind": kind, "config": config}
        r = httpx.post(server.api + "/fleet/channels", json=channel, headers=op)
        assert r.status_code == 201, r.text
    shop = server.auth(server.create_user("bakery", "advertiser"))
    honest = pair_device(server, screen_class="indoor_small", groups=["lobby"], name="东门大屏")
    forger = pair_device(server, screen_class="indoor_small", groups=["lobby"], name="大堂小屏")
    today = _now().date()
    camp = book_campaign(httpx, op, shop, media_dir / "small.jpg", groups=["lobby"], start=today,
                         end=today + dt.timedelta(days=30), base=server.api)  # fmt: skip
    item = ""
    for screen in (honest, forger):
        manifest = fetch_manifest(httpx, screen.headers, base=server.api)
        item = next(c.item_ids[0] for c in manifest.catalogue.campaigns if c.id == camp)

    # the honest screen: a real play, and three from before its offline week (back after a long outage)
    eight_days_ago = _now() - dt.timedelta(days=8)
    late = [_play(item, camp, eight_days_ago + dt.timedelta(minutes=i)) for i in range(3)]
    answer = _plays(server, honest, [_play(item, camp, _now() - dt.timedelta(seconds=30)), *late])
    assert (answer["accepted"], answer["refused_reasons"]) == (1, {"too_old": 3})
    # the forger: 30 plays of a creative it was never sent, and one of next year
    minute_ago = _now() - dt.timedelta(minutes=1)
    forged = [_play("m-" + "0" * 32, "f" * 32, minute_ago + dt.timedelta(seconds=i)) for i in range(30)]
    forged.append(_play(item, camp, _now() + dt.timedelta(days=365)))
    answer = _plays(server, forger, forged)
    assert answer["accepted"] == 0 and answer["refused"] == 31

    mail = eventually(lambda: smtp.received(), timeout_s=60, what="the alert's e-mail")[0]
    assert "播放记录被拒" in mail.subject and "Proof of play refused" in mail.subject
    assert "大堂小屏" in mail.text and "东门大屏" not in mail.text
    assert "31 条播放记录被拒" in mail.text and "31 proof-of-play record(s) refused in 60 min" in mail.text
    assert "content never sent to it 30" in mail.text and "in the future 1" in mail.text
    event = eventually(lambda: hooks.accepted(), timeout_s=30, what="the alert's webhook")[0].json()
    assert event["type"] == "fleet.alert.firing" and event["rule"]["kind"] == "refused_plays"
    assert [m["id"] for m in event["members"]] == [forger.device_id]
    _fleet_pages_name_the_kind(server, event["incident"]["id"])


def _fleet_pages_name_the_kind(server: LiveServer, incident: str) -> None:
    """The alert page and the rules page, Chinese and English: the kind's label, no raw key."""
    with httpx.Client(base_url=server.url) as browser:
        portal_login(browser, Credentials(server.operator.username, server.operator.password))
        for lang, kind in (("zh", "播放记录被拒"), ("en", "proof of play refused")):
            browser.cookies.set(LANG_COOKIE, lang)
            for path in (f"/portal/fleet/alerts/{incident}", "/portal/fleet/rules"):
                page = browser.get(path)
                assert page.status_code == 200, page.text
                text = re.sub(r"<[^>]+>", " ", page.text)
                assert kind in text, (lang, path)
                assert RAW_KEY.findall(text) == [], (lang, path, RAW_KEY.findall(text))
            assert "大堂小屏" in browser.get(f"/portal/fleet/alerts/{incident}").text
