"""One transaction rule: services own the commit; routes and pages never commit.

Checked twice: the route and page modules hold no ``.commit(`` at all, and while the JSON API,
the portal and the kiosk back end go through their everyday flows, every commit that wrote
something was made by a service (``tests/fixtures/commits.py``).
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import hmac
import io
import uuid
from pathlib import Path

from PIL import Image

from tests.content_server.kiosk.conftest import InProcess, kiosk_env  # noqa: F401  (fixture)
from tests.content_server.kiosk.test_cases import new_case
from tests.content_server.kiosk.test_merchants import approve, pay, provider_account, service_body
from tests.content_server.test_cap import ALERT
from tests.fixtures.commits import CommitAudit
from tests.fixtures.server import pair_device
from tests.portal.conftest import csrf_of, portal_login

SERVER = Path(__file__).resolve().parents[2] / "content_server"
API = "/api/v1"


def http_modules() -> list[Path]:
    """Every module that answers HTTP: routes and pages of each feature, the portal shell, the API shell."""
    found = [
        *SERVER.glob("*/routes.py"),
        *SERVER.glob("*/routes/*.py"),
        *SERVER.glob("*/pages.py"),
        *SERVER.glob("*/pages/*.py"),
        *SERVER.glob("*/deps.py"),
        *SERVER.glob("portal/*.py"),
        SERVER / "core" / "api.py",
        SERVER / "signage" / "fastpath.py",
        SERVER / "app.py",
    ]
    return sorted(set(found))


def commits_in(source: str) -> list[int]:
    """Lines of ``source`` that call ``<anything>.commit(...)``."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
    ]


def test_no_route_or_page_module_commits() -> None:
    modules = http_modules()
    assert len(modules) > 20, "the module scan found too few route and page modules"
    offenders = {str(p.relative_to(SERVER)): lines for p in modules if (lines := commits_in(p.read_text()))}
    assert offenders == {}


def test_the_scan_sees_a_commit_however_it_is_written() -> None:
    assert commits_in("def f(s):\n    s.flush()\n") == []
    assert commits_in("def f(s):\n    x = s\n    x.commit()\n    (yield s).commit()\n") == [3, 4]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 18), (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def test_every_write_in_everyday_flows_is_committed_by_a_service(
    kiosk_env: InProcess,  # noqa: F811
    media_dir: Path,
) -> None:
    c = kiosk_env.client
    audit = CommitAudit()
    audit.install(c.app.state.sessions)  # type: ignore[attr-defined]
    op = c.auth(c.operator)

    # accounts: sign-up, approval, tokens, the portal's log-in and log-out
    signup = c.post(
        f"{API}/auth/signup",
        json={"username": "bakery", "password": "password-123", "role": "advertiser", "display_name": "B"},
    )
    assert signup.status_code == 201
    approval = c.post(f"{API}/users/{signup.json()['id']}/approval", json={"approved": True}, headers=op)
    assert approval.is_success
    shop = c.auth(type(c.operator)("bakery", "password-123"))

    # signage: pairing, device traffic, media, announcements, campaigns, screens, alerts
    screen = pair_device(c, screen_class="indoor_small", groups=["lobby"])
    heartbeat = {"sent_at": c.clock.now().isoformat(), "player_version": "t"}
    assert c.post(f"{API}/device/heartbeat", json=heartbeat, headers=screen.headers).is_success
    assert c.get(f"{API}/device/manifest", headers=screen.headers).status_code == 200
    plays = {"records": [{"id": str(uuid.uuid4()), "item_id": "x", "started_at": c.clock.now().isoformat(),
                          "duration_s": 5, "completed": True}]}  # fmt: skip
    assert c.post(f"{API}/device/plays", json=plays, headers=screen.headers).is_success
    assert c.post(f"{API}/screens/{screen.device_id}/screenshot-request", headers=op).is_success
    assert c.post(f"{API}/device/screenshot", content=png(), headers=screen.headers).status_code == 204
    img = c.post(f"{API}/media?filename=a.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=shop)
    assert img.status_code == 201
    media_id = img.json()["id"]
    assert c.patch(f"{API}/media/{media_id}", json={"title": "Bread"}, headers=shop).is_success
    ann = c.post(f"{API}/announcements", json={"title": "停水", "text": {"zh": "停水"}}, headers=op).json()
    assert c.post(f"{API}/announcements/{ann['id']}/pause", headers=op).is_success
    campaign = {"name": "Bread", "media_ids": [media_id], "flight_start": c.clock.now().date().isoformat(),
                "flight_end": c.clock.now().date().isoformat(), "share_percent": 5}  # fmt: skip
    assert c.post(f"{API}/campaigns/availability", json=campaign, headers=shop).is_success
    booked = c.post(f"{API}/campaigns", json=campaign, headers=shop)
    assert booked.status_code == 201, booked.text
    assert c.post(f"{API}/campaigns/{booked.json()['id']}/approve", headers=op).is_success
    assert c.patch(f"{API}/screens/{screen.device_id}", json={"name": "Lobby"}, headers=op).is_success
    areas = {"name": "city", "area_groups": {"Lobby": ["lobby"]}}
    feed = c.post(f"{API}/alert-feeds", json=areas, headers=op)
    cap = ALERT.format(ident=uuid.uuid4(), msg_type="Alert", refs="", area="Lobby").encode()
    mac = hmac.new(feed.json()["secret"].encode(), cap, hashlib.sha256).hexdigest()
    posted = c.post(feed.json()["post_url"], content=cap, headers={"X-Signature": f"sha256={mac}"})
    assert posted.status_code == 201, posted.text

    # the portal: forms that write
    portal_login(c, c.operator)
    page = c.get("/portal/announcements")
    form = {"csrf_token": csrf_of(page.text), "title": "Notice", "text_zh": "通知", "priority": "normal"}
    assert c.post("/portal/announcements", data=form, follow_redirects=False).status_code == 303
    page = c.get(f"/portal/screens/{screen.device_id}")
    shot = {"csrf_token": csrf_of(page.text)}
    asked = c.post(f"/portal/screens/{screen.device_id}/screenshot", data=shot, follow_redirects=False)
    assert asked.is_redirect
    assert c.post(f"{API}/screens/{screen.device_id}/revoke", headers=op).is_success

    # the kiosk back end: a provider, an order paid on the phone, a booking accepted, a case
    user_id, me = provider_account(kiosk_env, "plumber")
    profile = {"name_zh": "快修", "name_en": "QuickFix", "phone": "13700002222"}
    assert c.put(f"{API}/provider/profile", headers=me, json=profile).is_success
    approve(kiosk_env, user_id)
    service = c.post(f"{API}/provider/services", headers=me, json=service_body()).json()
    start = kiosk_env.now() + dt.timedelta(days=1)
    window = {"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat(), "capacity": 2}
    slot = c.post(f"{API}/provider/services/{service['id']}/slots", headers=me, json=window).json()
    order = pay(kiosk_env, slot["id"], service["id"])
    accepted = c.post(f"{API}/provider/bookings/{order['id']}/accept", headers=me, json={"reason": ""})
    assert accepted.status_code == 200, accepted.text
    new_case(kiosk_env, c.auth(c.create_user("clerk", "clerk")))

    assert len([x for x in audit.commits if x.wrote]) > 25
    assert audit.misplaced() == []
