"""CAP 1.2 alert feed: signed alerts become emergencies for the named areas; bad ones are refused."""

from __future__ import annotations

import hashlib
import hmac

from tests.fixtures.server import AppClient, pair_device

ALERT = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>{ident}</identifier>
  <sender>weather@district.example</sender>
  <sent>2026-11-25T10:05:00+08:00</sent>
  <status>Actual</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>zh-CN</language>
    <event>暴雨</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <headline>暴雨红色预警</headline>
    <description>请勿前往地下车库</description>
    <area><areaDesc>{area}</areaDesc></area>
  </info>
  <info>
    <language>en-US</language>
    <event>Rainstorm</event>
    <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>
    <headline>Red rainstorm warning</headline>
    <area><areaDesc>{area}</areaDesc></area>
  </info>
</alert>"""


def _post(c: AppClient, feed: dict, xml: str, secret: str | None = None) -> tuple[int, dict]:
    body = xml.encode()
    sig = hmac.new((secret or feed["secret"]).encode(), body, hashlib.sha256).hexdigest()
    r = c.post(
        feed["post_url"],
        content=body,
        headers={"X-Signature": f"sha256={sig}", "Content-Type": "application/xml"},
    )
    return r.status_code, r.json()


def test_signed_cap_alert_becomes_emergency_and_cancel_ends_it(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    north = pair_device(c, groups=["north"])
    south = pair_device(c, groups=["south"])
    feed = c.post(
        "/api/v1/alert-feeds",
        json={"name": "District weather", "area_groups": {"北区": ["north"]}},
        headers=op,
    ).json()
    status, body = _post(c, feed, ALERT.format(ident="A1", msg_type="Alert", refs="", area="北区"))
    assert status == 201, body
    em = c.get("/api/v1/device/emergency", headers=north.headers).json()
    assert em["active"] and em["item"]["text"]["en"].startswith("Red rainstorm warning")
    assert em["item"]["text"]["zh"].startswith("暴雨红色预警")
    assert c.get("/api/v1/device/emergency", headers=south.headers).json()["active"] is False
    # replay: same identifier changes nothing
    status, again = _post(c, feed, ALERT.format(ident="A1", msg_type="Alert", refs="", area="北区"))
    assert status == 200 and again["duplicate"] is True
    refs = "<references>weather@district.example,A1,2026-11-25T10:05:00+08:00</references>"
    status, _ = _post(c, feed, ALERT.format(ident="A2", msg_type="Cancel", refs=refs, area="北区"))
    assert status == 201
    assert c.get("/api/v1/device/emergency", headers=north.headers).json()["active"] is False


def test_unsigned_forged_and_malformed_alerts_are_refused(app_client: AppClient) -> None:
    c = app_client
    op = c.auth(c.operator)
    dev = pair_device(c, groups=["north"])
    feed = c.post(
        "/api/v1/alert-feeds", json={"name": "w", "area_groups": {"北区": ["north"]}}, headers=op
    ).json()
    xml = ALERT.format(ident="B1", msg_type="Alert", refs="", area="北区")
    r = c.post(feed["post_url"], content=xml.encode())
    assert r.status_code == 401 and "not signed" in r.json()["detail"]
    assert _post(c, feed, xml, secret="guessed")[0] == 401
    bomb = '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><alert>&x;</alert>'
    status, body = _post(c, feed, bomb)
    assert status == 422 and "CAP" in body["detail"]
    status, body = _post(c, feed, "<alert>not cap</alert>")
    assert status == 422 and "namespace" in body["detail"]
    # an alert for no mapped area is not an error for the feed: accepted, logged as not for us
    status, body = _post(c, feed, ALERT.format(ident="B2", msg_type="Alert", refs="", area="Atlantis"))
    assert status == 201 and body["outcome"] == "not_for_us" and "Atlantis" in body["reason"]["en"]
    assert c.get("/api/v1/device/emergency", headers=dev.headers).json()["active"] is False
