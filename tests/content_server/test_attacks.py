"""Issue 21's findings tried again as an attacker would: over real HTTP against ``signage-server serve``
on loopback. Each attack must fail to get through; docs/security.md describes the rules behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from content_server.core.settings import PUBLISHED_SECRETS
from content_server.signage import cap
from signage_demo import secret as demo_secret
from tests.fixtures.plays import book_campaign, fetch_manifest
from tests.fixtures.server import LiveServer, pair_device

pytestmark = pytest.mark.slow


def _client(source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from ``source`` (any 127.x address is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=10)


@pytest.fixture
def server(live_server: LiveServer) -> LiveServer:
    return live_server


# --- proof of play -------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_forged_plays_are_refused_counted_and_never_reach_reports_or_csv(
    server: LiveServer, media_dir: Path
) -> None:
    op = server.auth(server.operator)
    shop = server.auth(server.create_user("bakery", "advertiser"))
    screen = pair_device(server, screen_class="indoor_small", groups=["lobby"])
    today = _now().date()
    camp = book_campaign(httpx, op, shop, media_dir / "small.jpg", groups=["lobby"], start=today,
                         end=today + dt.timedelta(days=30), base=server.api)  # fmt: skip
    manifest = fetch_manifest(httpx, screen.headers, base=server.api)
    item = next(c.item_ids[0] for c in manifest.catalogue.campaigns if c.id == camp)

    def play(**kw: object) -> dict[str, object]:
        rec = {"id": str(uuid.uuid4()), "item_id": item, "campaign_id": camp,
               "started_at": (_now() - dt.timedelta(seconds=30)).isoformat(), "duration_s": 8.0,
               "completed": True}  # fmt: skip
        rec.update(kw)
        return rec

    day_ago = _now() - dt.timedelta(days=1)
    forged = (
        # 50 day-long plays of a campaign that was never in this screen's manifest
        [play(item_id="m-" + "0" * 32, campaign_id="f" * 32, duration_s=86_400,
              started_at=(day_ago + dt.timedelta(seconds=i)).isoformat()) for i in range(50)]
        + [play(duration_s=86_400)]  # the real item for a day: it would end tomorrow
        + [play(duration_s=25)]  # the real item, three times its slot
        + [play(started_at=(_now() + dt.timedelta(days=365)).isoformat())]  # next year
        + [play(item_id="=cmd|'/c calc'!A1"), play(campaign_id='=HYPERLINK("http://x.invalid","x")')]
    )
    one = play()
    three_s_later = dt.datetime.fromisoformat(str(one["started_at"])) + dt.timedelta(seconds=3)
    overlapping = play(started_at=three_s_later.isoformat())
    batch = {"records": [*forged, one, overlapping]}
    r = httpx.post(server.api + "/device/plays", json=batch, headers=screen.headers)
    assert r.status_code == 200, r.text
    got = r.json()
    reasons = {"not_served": 50, "future": 2, "too_long": 1, "bad_id": 2, "overlaps": 1}
    assert got["accepted"] == 1 and got["refused"] == len(forged) + 1 == 56
    assert got["refused_reasons"] == reasons
    # the counts per screen the fleet's alerts read
    refused = httpx.get(server.api + "/reports/refused-plays", headers=op).json()
    assert refused == [{"screen_id": screen.device_id, "refused": 56, "reasons": reasons}]
    # the merchant's report shows the one real play, 8 s
    rows = httpx.get(server.api + "/reports/plays", headers=shop).json()
    assert [(r["plays"], r["seconds"]) for r in rows] == [(1, 8.0)]


def test_csv_exports_neutralise_formulas_even_in_data_stored_before_the_fix(server: LiveServer) -> None:
    """Rows with formula ids from before ids were checked are still in the database: exported as text."""
    op = server.auth(server.operator)
    screen = pair_device(server)
    payload = "=cmd|'/c calc'!A1"
    with sqlite3.connect(server.data_dir / "signage.db") as db:
        db.execute(
            "INSERT INTO plays (id, device_id, item_id, campaign_id, announcement_id, started_at, duration_s,"
            " completed, received_at) VALUES (?, ?, ?, ?, NULL, ?, 8, 1, ?)",
            (str(uuid.uuid4()), screen.device_id, "x", payload, "2026-11-25 02:00:00", "2026-11-25 02:00:00"),
        )
    csv = httpx.get(server.api + "/reports/plays?format=csv", headers=op)
    assert csv.status_code == 200
    line = csv.text.splitlines()[1]
    assert line.startswith("'=cmd|") or line.startswith("\"'=cmd|"), line
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line.split(","))


# --- log-ins ---------------------------------------------------------------------------------------


def _login(
    client: httpx.Client, server: LiveServer, username: str, password: str, **headers: str
) -> httpx.Response:
    return client.post(server.api + "/auth/token", json={"username": username, "password": password},
                       headers=headers)  # fmt: skip


def test_rotating_x_forwarded_for_buys_nothing_without_a_configured_proxy(server: LiveServer) -> None:
    """30 guesses, each claiming another address: the server sees 127.0.0.1 and makes them wait."""
    codes = []
    with _client() as c:
        for i in range(30):
            r = _login(c, server, f"user{i}", "guess-guess-1", **{"X-Forwarded-For": f"203.0.113.{i + 1}"})
            codes.append(r.status_code)
    assert codes[:20] == [401] * 20  # 20 free failures for one address over many accounts ...
    assert 429 in codes[20:]  # ... then it waits, whatever address it claims


def test_rotating_x_forwarded_for_against_one_account_meets_a_delay(server: LiveServer) -> None:
    codes, waits = [], []
    with _client() as c:
        for i in range(30):
            forwarded = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
            r = _login(c, server, "operator", f"guess-{i}-guess", **forwarded)
            codes.append(r.status_code)
            waits.append(int(r.headers.get("retry-after", 0)))
    # five free, then the address waits (2 s, 4 s, 8 s ...): a guess that comes within the wait is
    # refused, whatever address it claims; which one does depends on how fast this machine answers
    assert codes[:5] == [401] * 5 and 429 in codes[5:]
    assert all(wait >= 1 for code, wait in zip(codes, waits, strict=True) if code == 429)


def test_a_configured_proxy_is_believed_and_the_account_s_delay_still_holds(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    """Behind deploy/'s nginx (127.0.0.1 trusted): addresses come from X-Forwarded-For, and 30 guesses at
    one account from 30 addresses still meet the account's own delay after 10."""
    server = live_server_factory(SIGNAGE_TRUSTED_PROXIES="127.0.0.1")
    codes = []
    with _client() as c:
        for i in range(30):
            forwarded = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
            r = _login(c, server, "operator", f"guess-{i}-guess", **forwarded)
            codes.append(r.status_code)
    assert codes[:10] == [401] * 10 and 429 in codes[10:]  # from one address each: the account's delay


def _until_the_account_waits(server: LiveServer, *, at_least_s: int) -> None:
    """Wrong guesses at the operator from ever new addresses, each as soon as the account lets it
    in (its delay doubles from 2 s after 10 free), until the account's wait is ``at_least_s``: the
    next request then meets it however slowly this machine answers (a 2 s wait did not, loaded)."""
    for i in range(40):
        with _client(f"127.0.1.{i + 1}") as other:
            r = _login(other, server, "operator", f"wrong-{i}-again")
        if r.status_code == 429:
            wait = int(r.headers["retry-after"])
            if wait >= at_least_s:
                return
            time.sleep(wait)  # the time the server named: what a patient attacker does
        else:
            assert r.status_code == 401, r.text
    raise AssertionError(f"the account's wait never reached {at_least_s} s")


def test_the_owner_gets_in_while_someone_else_guesses(server: LiveServer) -> None:
    """Five wrong passwords from another address, then the right one from the owner's: it works. With
    their known-device cookie the owner gets in even while the account's own delay runs."""
    with _client("127.0.0.1") as owner:
        assert _login(owner, server, "operator", "operator-password-1").status_code == 200  # known device now
        with _client("127.0.0.2") as attacker:
            for i in range(5):
                assert _login(attacker, server, "operator", f"wrong-{i}-password").status_code == 401
            assert _login(attacker, server, "operator", "operator-password-1").status_code == 429
            with _client("127.0.0.3") as elsewhere:  # the owner on a new device, another address
                assert _login(elsewhere, server, "operator", "operator-password-1").status_code == 200
            _until_the_account_waits(server, at_least_s=15)  # many addresses: the account's own delay
            with _client("127.0.0.4") as unknown:
                assert _login(unknown, server, "operator", "operator-password-1").status_code == 429
        assert _login(owner, server, "operator", "operator-password-1").status_code == 200


def test_guesses_per_minute_from_one_address_match_the_policy(server: LiveServer) -> None:
    """Measured: an attacker trying the moment they may gets what LoginPolicy says (5 free, then
    2, 4, 8, 16 s ...): 9 tries in 31 s, where the old limit allowed 5 per 5 minutes but locked the owner."""
    from content_server.core.login_guard import LoginPolicy

    expected = LoginPolicy().pair.attempts_within(dt.timedelta(seconds=31))
    tries = 0
    start = time.monotonic()
    with _client("127.0.0.5") as c:
        while time.monotonic() - start < 31:
            r = _login(c, server, "operator", f"guess-{tries}-x")
            if r.status_code == 429:
                time.sleep(float(r.headers["retry-after"]))
                continue
            assert r.status_code == 401
            tries += 1
    assert expected == 9 and tries in (expected - 1, expected)  # the last wait may end just past 31 s


# --- case look-ups ---------------------------------------------------------------------------------


def test_wrong_case_answers_slow_that_case_at_that_kiosk_not_others(server: LiveServer) -> None:
    op = server.auth(server.operator)
    clerk = server.auth(server.create_user("clerk1", "clerk"))
    kiosk_a = pair_device(server, kind="kiosk")
    kiosk_b = pair_device(server, kind="kiosk")
    case = httpx.post(server.api + "/cases", json={"case_type": "residence_permit", "applicant_name": "张三",
                      "id_number": "11010519491231002X", "phone": "13800138000"}, headers=clerk)  # fmt: skip
    assert case.status_code == 201, case.text
    number = case.json()["case_number"]
    url = server.api + "/kiosk/cases/lookup"

    def look(kiosk: object, last4: str, session: str) -> int:
        body = {"case_number": number, "id_last4": last4, "session": session}
        return httpx.post(url, json=body, headers=kiosk.headers).status_code  # type: ignore[attr-defined]

    assert [look(kiosk_a, "0000", "session-one") for _ in range(4)] == [404, 404, 404, 429]
    assert look(kiosk_b, "002X", "session-two") == 200  # the owner at another kiosk: no lockout
    assert look(kiosk_a, "002X", "session-three") == 429  # at that kiosk this case waits 30 s
    del op


# --- screenshots ---------------------------------------------------------------------------------


def _png(size: tuple[int, int] = (64, 36)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "teal").save(out, format="PNG")
    return out.getvalue()


def _request_shot(server: LiveServer, op: dict[str, str], device_id: str) -> None:
    r = httpx.post(server.api + f"/screens/{device_id}/screenshot-request", headers=op)
    assert r.status_code == 200


def test_screenshots_only_when_asked_decoded_latest_kept_and_rate_limited(server: LiveServer) -> None:
    op = server.auth(server.operator)
    screen = pair_device(server)
    url = server.api + "/device/screenshot"
    junk = b"\x89PNG\r\n\x1a\n" + os.urandom(1024 * 1024)
    # unasked: refused before reading a byte, twenty times
    assert {httpx.post(url, content=junk, headers=screen.headers).status_code for _ in range(20)} == {409}
    _request_shot(server, op, screen.device_id)
    r = httpx.post(url, content=junk, headers=screen.headers)
    assert r.status_code == 422  # random bytes behind a PNG signature do not decode
    assert httpx.post(url, content=_png(), headers=screen.headers).status_code == 204
    first = httpx.get(server.api + f"/screens/{screen.device_id}/screenshot", headers=op)
    assert first.status_code == 200 and first.content.startswith(b"\x89PNG")
    assert httpx.post(url, content=_png((80, 45)), headers=screen.headers).status_code == 409  # used up
    _request_shot(server, op, screen.device_id)
    assert httpx.post(url, content=_png((80, 45)), headers=screen.headers).status_code == 429  # < 30 s
    media = server.data_dir / "media"
    stored = [p for p in media.rglob("*") if p.is_file() and p.relative_to(media).parts[0] != "tmp"]
    assert len(stored) == 1  # only the latest screenshot is kept; nothing of the refused uploads
    assert hashlib.sha256(stored[0].read_bytes()).hexdigest() == hashlib.sha256(first.content).hexdigest()


# --- sign-up ----------------------------------------------------------------------------------------


GOOD = "a fine long password"
BAD_NAMES = ["Operator", "оperator", "<img src=x onerror=alert(1)>", "0perator", "ｏｐｅｒａｔｏｒ"]


def _csrf(page: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_sign_up_refuses_look_alikes_and_markup_in_portal_and_api_alike(
    server: LiveServer, name: str
) -> None:
    api = httpx.post(server.api + "/auth/signup",
                     json={"username": name, "password": GOOD, "role": "advertiser"})  # fmt: skip
    assert api.status_code in (409, 422), api.text
    with _client() as browser:
        form = browser.get(server.url + "/portal/signup")
        r = browser.post(server.url + "/portal/signup", data={
            "csrf_token": _csrf(form.text), "role": "advertiser", "display_name": "Shop",
            "username": name, "password": GOOD})  # fmt: skip
        assert r.status_code == 422 and "<img src=x" not in r.text
    op = server.auth(server.operator)
    names = [u["username"] for u in httpx.get(server.api + "/users", headers=op).json()]
    assert names == ["operator"]


@pytest.mark.parametrize("password", ["short-pw1", "password123", "qwertyuiop", "woaini1314"])
def test_the_same_password_rule_in_portal_and_api(server: LiveServer, password: str) -> None:
    api = httpx.post(server.api + "/auth/signup",
                     json={"username": "bakery", "password": password, "role": "advertiser"})  # fmt: skip
    with _client() as browser:
        form = browser.get(server.url + "/portal/signup")
        portal = browser.post(server.url + "/portal/signup", data={
            "csrf_token": _csrf(form.text), "role": "advertiser", "display_name": "Shop",
            "username": "bakery", "password": password})  # fmt: skip
    assert api.status_code == 422 and portal.status_code == 422
    ok = httpx.post(server.api + "/auth/signup",
                    json={"username": "bakery", "password": GOOD, "role": "advertiser"})  # fmt: skip
    assert ok.status_code == 201


# --- the demo's secret key ---------------------------------------------------------------------------


def test_the_demo_s_feed_secrets_cannot_be_computed_from_the_code(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    key = demo_secret.load_or_create(tmp_path / "demo")
    server = live_server_factory(SIGNAGE_DEMO="1", SIGNAGE_SECRET_KEY=key)
    op = server.auth(server.operator)
    feed = httpx.post(server.api + "/alert-feeds", json={"name": "typhoon", "area_groups": {}}, headers=op)
    feed = feed.json()
    body = b"<alert/>"
    for guess in (*PUBLISHED_SECRETS, ""):  # the key the code used to carry, and none
        sig = hmac.new(cap.feed_secret(guess, feed["id"]).encode(), body, hashlib.sha256).hexdigest()
        r = httpx.post(server.url + feed["post_url"], content=body, headers={"X-Signature": f"sha256={sig}"})
        assert r.status_code == 401


# --- headers, docs, bodies ---------------------------------------------------------------------------


def test_personal_data_is_not_cached_and_nothing_is_sniffed(server: LiveServer, media_dir: Path) -> None:
    op = server.auth(server.operator)
    clerk = server.auth(server.create_user("clerk1", "clerk"))
    screen = pair_device(server)
    for url, headers in ((server.api + "/cases", clerk), (server.api + "/auth/me", op),
                         (server.api + "/users", op), (server.url + "/portal/login", {})):  # fmt: skip
        r = httpx.get(url, headers=headers)
        assert r.status_code == 200, url
        assert r.headers["cache-control"] == "no-store", url
        assert r.headers["x-content-type-options"] == "nosniff", url
    m = httpx.get(server.api + "/device/manifest", headers=screen.headers)
    assert m.headers["cache-control"] == "private, no-cache"
    assert m.headers["x-content-type-options"] == "nosniff"
    revalidate = {**screen.headers, "If-None-Match": m.headers["etag"]}
    again = httpx.get(server.api + "/device/manifest", headers=revalidate)  # the fast path's 304
    assert again.status_code == 304 and again.headers["cache-control"] == "private, no-cache"
    assert again.headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_need_no_internet_and_carry_a_csp(server: LiveServer) -> None:
    page = httpx.get(server.api + "/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "http" not in page.text.replace(server.url, "")  # no CDN, no absolute URL at all
    import re

    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        asset = httpx.get(server.url + src)
        assert asset.status_code == 200 and len(asset.content) > 100, src
    assert "<script>" not in page.text  # no inline script the CSP would have to allow


def _raw_chunked(port: int, path: str, chunks: Iterator[bytes], headers: str = "") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
                  "Transfer-Encoding: chunked\r\n\r\n".encode())  # fmt: skip
        try:
            for chunk in chunks:
                s.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer and close before the body ends
        return s.recv(65536)


def test_a_chunked_body_over_the_limit_gets_413(server: LiveServer) -> None:
    answer = _raw_chunked(server.port, "/api/v1/auth/login", (b" " * 65536 for _ in range(40)))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# --- other attacks of the same kinds ------------------------------------------------------------------


def test_plays_of_another_screens_campaign_and_repeated_ids_are_not_counted(
    server: LiveServer, media_dir: Path
) -> None:
    op = server.auth(server.operator)
    shop = server.auth(server.create_user("bakery", "advertiser"))
    lobby = pair_device(server, screen_class="indoor_small", groups=["lobby"])
    gate = pair_device(server, screen_class="indoor_small", groups=["gate"])
    today = _now().date()
    camp = book_campaign(httpx, op, shop, media_dir / "small.jpg", groups=["lobby"], start=today,
                         end=today + dt.timedelta(days=30), base=server.api)  # fmt: skip
    lobby_manifest = fetch_manifest(httpx, lobby.headers, base=server.api)
    item = next(c.item_ids[0] for c in lobby_manifest.catalogue.campaigns)
    fetch_manifest(httpx, gate.headers, base=server.api)  # the gate screen's manifest has no campaign
    rec = {"id": str(uuid.uuid4()), "item_id": item, "campaign_id": camp, "completed": True,
           "started_at": (_now() - dt.timedelta(seconds=30)).isoformat(), "duration_s": 8.0}  # fmt: skip
    r = httpx.post(server.api + "/device/plays", json={"records": [rec]}, headers=gate.headers).json()
    assert r["refused_reasons"] == {"unknown_item": 1}  # the gate was never sent that creative
    r = httpx.post(server.api + "/device/plays", json={"records": [rec, rec]}, headers=lobby.headers).json()
    assert (r["accepted"], r["duplicates"]) == (1, 1)
    r = httpx.post(server.api + "/device/plays", json={"records": [rec]}, headers=gate.headers).json()
    assert (r["accepted"], r["duplicates"]) == (0, 1)  # another screen's record id changes nothing
    rows = httpx.get(server.api + "/reports/plays", headers=shop).json()
    assert [(r["screen_id"], r["plays"]) for r in rows] == [(lobby.device_id, 1)]


def test_spelling_the_username_differently_shares_its_counters(server: LiveServer) -> None:
    with _client("127.0.0.6") as c:
        for name in ("Operator", "OPERATOR", "0perator", "ｏｐｅｒａｔｏｒ", "operator"):
            assert _login(c, server, name, "wrong-password-1").status_code == 401
        assert _login(c, server, "operator", "operator-password-1").status_code == 429


def test_a_requested_screenshot_too_big_is_refused_while_streaming(server: LiveServer) -> None:
    op = server.auth(server.operator)
    screen = pair_device(server)
    _request_shot(server, op, screen.device_id)

    def body() -> Iterator[bytes]:
        for _ in range(40):  # 10 MiB, chunked: no Content-Length to refuse it by
            yield b"\0" * (256 * 1024)

    r = httpx.post(server.api + "/device/screenshot", content=body(), headers=screen.headers)
    assert r.status_code == 413
    assert not [p for p in (server.data_dir / "media" / "tmp").iterdir()]  # nothing left behind
