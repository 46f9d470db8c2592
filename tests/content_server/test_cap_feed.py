"""A regional CAP feed through the real server: geocodes and names, languages, times, updates,
cancels, loudness on the screens' emergency answer, long-polls woken at a scheduled start."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import threading
from typing import Any

from schedules.protocol.device import Manifest
from tests.content_server.test_cap_policy import MAPPING
from tests.fixtures.cap_feed import CST, RAIN_ZH, SENDER, T0, alert, feed
from tests.fixtures.server import AppClient, PairedDevice, pair_device
from tests.fixtures.waiting import eventually


def _post(c: AppClient, f: dict[str, Any], body: bytes) -> tuple[int, dict[str, Any]]:
    sig = hmac.new(f["secret"].encode(), body, hashlib.sha256).hexdigest()
    r = c.post(f["post_url"], content=body, headers={"X-Signature": f"sha256={sig}"})
    return r.status_code, r.json()


def _em(c: AppClient, screen: PairedDevice) -> dict[str, Any]:
    r = c.get("/api/v1/device/emergency", headers=screen.headers)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_morning_of_a_regional_feed(app_client: AppClient) -> None:
    c = app_client
    c.clock.set(T0)
    op = c.auth(c.operator)
    outdoor = pair_device(c, screen_class="outdoor_large", groups=["nanshan-outdoor"])
    lobby = pair_device(c, screen_class="indoor_small", groups=["nanshan-lobbies"])
    shekou = pair_device(c, screen_class="indoor_small", groups=["shekou-lobbies"])
    futian = pair_device(c, screen_class="indoor_small", groups=["futian"])
    r = c.post(
        "/api/v1/alert-feeds",
        json={"name": "Guangdong warnings", "area_mapping": MAPPING.model_dump(mode="json")},
        headers=op,
    )
    assert r.status_code == 201, r.text
    f = r.json()
    assert f["area_mapping"]["rules"][0]["wider_areas"] is True
    msgs = feed()

    # a typhoon for the whole city (440300 contains our district 440305): full screen, with what to do
    status, body = _post(c, f, msgs["typhoon"])
    assert (status, body["outcome"]) == (201, "show") and "nanshan-lobbies" in body["reason"]["en"]
    for screen in (outdoor, lobby):
        em = _em(c, screen)
        assert em["active"] and "loudness" not in em  # full screen: what older players expect
        assert "请留在室内" in em["item"]["text"]["zh"] and "Stay indoors" in em["item"]["text"]["en"]
    assert not _em(c, shekou)["active"] and not _em(c, futian)["active"]
    assert _post(c, f, msgs["typhoon"])[0] == 200  # a repeat changes nothing

    # regional noise: accepted (2xx) and logged as not for us
    status, body = _post(c, f, msgs["fog-guangzhou"])
    assert (status, body["outcome"], body["announcement_ids"]) == (201, "not_for_us", [])
    assert "广州市" in body["reason"]["zh"]
    ignored = [("thunder-expired", "expired"), ("drill", "not_actual"), ("restricted", "not_public")]
    for name, outcome in ignored:
        status, body = _post(c, f, msgs[name])
        assert (status, body["outcome"]) == (201, outcome), name

    # rain with a later onset: two phases; the typhoon stays the loudest meanwhile
    status, body = _post(c, f, msgs["rain"])
    assert body["outcome"] == "show" and len(body["announcement_ids"]) == 2
    heat = _post(c, f, msgs["heat"])[1]  # province-wide, Chinese only, effective at 10:00
    assert heat["outcome"] == "show"
    pier = _post(c, f, msgs["pier"])[1]  # Shekou by name, English only
    em = _em(c, shekou)
    assert pier["outcome"] == "show" and em["active"] and em["loudness"] == "banner_warning"
    assert em["item"]["text"]["zh"] == em["item"]["text"]["en"]  # no Chinese info: the English one, in both
    assert _em(c, lobby)["item"]["text"]["en"].startswith("Red typhoon warning")

    # a banner plays over the programme: it is not a slide in the loop, a full-screen alert is
    catalogue = Manifest.model_validate_json(
        c.get("/api/v1/device/manifest", headers=shekou.headers).content
    ).catalogue
    assert catalogue.announcements == ()
    lobby_catalogue = Manifest.model_validate_json(
        c.get("/api/v1/device/manifest", headers=lobby.headers).content
    ).catalogue
    assert [a.priority for a in lobby_catalogue.announcements] == ["emergency"]

    # 07:30 the rain is upgraded: the update replaces the yellow warning with a full-screen orange one
    c.clock.set(T0 + dt.timedelta(minutes=90))
    status, body = _post(c, f, msgs["rain-upgrade"])
    assert body["outcome"] == "update" and len(body["announcement_ids"]) == 1
    # 11:00 the typhoon is cancelled: the orange rain is now what Nanshan screens show
    c.clock.set(T0 + dt.timedelta(hours=5))
    assert _post(c, f, msgs["typhoon-cancel"])[1]["outcome"] == "cancel"
    em = _em(c, lobby)
    assert em["item"]["text"]["en"].startswith("Orange rainstorm warning") and "loudness" not in em
    # 14:01 the orange warning has expired: the heat notice (a quiet banner) remains, in Chinese for both
    c.clock.set(T0 + dt.timedelta(hours=8, minutes=1))
    em = _em(c, lobby)
    assert em["loudness"] == "banner_notice" and em["item"]["text"]["en"].startswith("高温黄色预警")
    # 20:01 it has expired too
    c.clock.set(T0 + dt.timedelta(hours=14, minutes=1))
    assert not _em(c, lobby)["active"] and not _em(c, outdoor)["active"]


def test_an_alert_effective_later_starts_later_and_wakes_waiting_screens(app_client: AppClient) -> None:
    c = app_client
    c.clock.set(T0)
    op = c.auth(c.operator)
    lobby = pair_device(c, screen_class="indoor_small", groups=["nanshan-lobbies"])
    f = c.post(
        "/api/v1/alert-feeds", json={"name": "w", "area_mapping": MAPPING.model_dump(mode="json")}, headers=op
    ).json()
    later = dataclasses.replace(RAIN_ZH, effective=T0 + dt.timedelta(minutes=10), onset=None)
    status, body = _post(c, f, alert("GD-LATER", (later,)))
    assert (status, body["outcome"]) == (201, "show")
    quiet = _em(c, lobby)
    assert not quiet["active"]  # takes effect at 06:10, not on receipt

    answer: list[dict[str, Any]] = []
    poll = threading.Thread(
        target=lambda: answer.append(
            c.get(
                "/api/v1/device/emergency",
                params={"known": quiet["version"], "wait": 30},
                headers=lobby.headers,
            ).json()
        )
    )
    poll.start()
    notifier = c.app.state.emergency  # type: ignore[attr-defined]
    eventually(lambda: notifier.waiting == 1, what="the long-poll waiting")
    c.clock.advance(10 * 60)
    poll.join(timeout=10)
    assert answer and answer[0]["active"] and answer[0]["loudness"] == "banner_warning"
    assert answer[0]["item"]["text"]["zh"].startswith("暴雨黄色预警")


def test_a_cancel_that_arrives_before_its_alert_keeps_the_alert_off(app_client: AppClient) -> None:
    c = app_client
    c.clock.set(T0)
    op = c.auth(c.operator)
    lobby = pair_device(c, screen_class="indoor_small", groups=["nanshan-lobbies"])
    f = c.post(
        "/api/v1/alert-feeds", json={"name": "w", "area_mapping": MAPPING.model_dump(mode="json")}, headers=op
    ).json()
    msgs = feed()
    cancel = _post(c, f, msgs["typhoon-cancel"])[1]
    assert cancel["outcome"] == "cancel"
    late = _post(c, f, msgs["typhoon"])[1]
    assert late["outcome"] == "superseded" and late["announcement_ids"] == []
    assert not _em(c, lobby)["active"]
    assert SENDER and CST  # the feed's sender and zone are the fixture's


def test_a_feed_whose_older_area_map_has_a_blank_name_is_refused_and_the_feeds_still_list(
    app_client: AppClient,
) -> None:
    """The fuzz run found it: a blank area or group name was stored, then every read of the feeds
    failed with 500 (the map is read back as an AreaMapping, which refuses blank names)."""
    c = app_client
    op = c.auth(c.operator)
    for area_groups in ({"": ["north"]}, {"North gate": [" "]}):
        r = c.post("/api/v1/alert-feeds", json={"name": "blank", "area_groups": area_groups}, headers=op)
        assert r.status_code == 422 and "blank" in r.text, r.text
    good = {"name": "ok", "area_groups": {"North gate": ["north"]}}
    ok = c.post("/api/v1/alert-feeds", json=good, headers=op)
    assert ok.status_code == 201, ok.text
    listed = c.get("/api/v1/alert-feeds", headers=op)
    assert listed.status_code == 200 and [f["name"] for f in listed.json()] == ["ok"]
