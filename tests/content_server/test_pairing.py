"""Pairing: code, claim, one-time key delivery, revocation -> 401."""

from __future__ import annotations

import datetime as dt

from tests.fixtures.server import AppClient, pair_device


def test_pair_claim_and_revoke(app_client: AppClient) -> None:
    dev = pair_device(
        app_client, kind="player", screen_class="outdoor_large", groups=["north"], tags=["building:3"]
    )
    assert dev.server_public_key
    r = app_client.get("/api/v1/device/manifest", headers=dev.headers)
    assert r.status_code == 200, r.text
    op = app_client.auth(app_client.operator)
    screens = app_client.get("/api/v1/screens", headers=op).json()
    assert [(s["id"], s["screen_class"], s["groups"]) for s in screens] == [
        (dev.device_id, "outdoor_large", ["north"])
    ]
    assert app_client.post(f"/api/v1/screens/{dev.device_id}/revoke", headers=op).status_code == 200
    assert app_client.get("/api/v1/device/manifest", headers=dev.headers).status_code == 401


def test_unpaired_device_gets_401(app_client: AppClient) -> None:
    assert app_client.get("/api/v1/device/manifest").status_code == 401
    r = app_client.get("/api/v1/device/manifest", headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401


def test_key_is_delivered_once_and_codes_expire(app_client: AppClient) -> None:
    body = {"device_kind": "kiosk", "player_version": "1", "public_key": "AAAA"}
    started = app_client.post("/api/v1/devices/pairing", json=body).json()
    poll = f"/api/v1/devices/pairing/{started['pairing_id']}/poll"
    assert app_client.post(poll, json={"poll_secret": started["poll_secret"]}).json() == {
        "claimed": False,
        "device_id": None,
        "device_key": None,
        "server_public_key": None,
    }
    assert app_client.post(poll, json={"poll_secret": "wrong"}).status_code == 404
    op = app_client.auth(app_client.operator)
    claim = {"code": started["code"], "name": "Lobby kiosk", "screen_class": "kiosk"}
    assert app_client.post("/api/v1/screens/claim", json=claim, headers=op).status_code == 201
    assert app_client.post(poll, json={"poll_secret": started["poll_secret"]}).json()["claimed"] is True
    assert app_client.post(poll, json={"poll_secret": started["poll_secret"]}).status_code == 404
    # an expired code cannot be claimed
    late = app_client.post("/api/v1/devices/pairing", json=body).json()
    app_client.clock.advance(dt.timedelta(hours=1).total_seconds())
    claim["code"] = late["code"]
    r = app_client.post("/api/v1/screens/claim", json=claim, headers=op)
    assert r.status_code == 404 and "expired" in r.json()["detail"]


def test_claim_rejects_unknown_timezone(app_client: AppClient) -> None:
    body = {"device_kind": "player", "player_version": "1", "public_key": "AAAA"}
    started = app_client.post("/api/v1/devices/pairing", json=body).json()
    op = app_client.auth(app_client.operator)
    claim = {"code": started["code"], "name": "x", "screen_class": "kiosk", "timezone": "Mars/Olympus"}
    r = app_client.post("/api/v1/screens/claim", json=claim, headers=op)
    assert r.status_code == 422 and "time zone" in r.json()["detail"]


def test_impossible_hours_refused_and_stale_pairings_cleaned(app_client: AppClient) -> None:
    from content_server.signage.models import Pairing
    from content_server.signage.services.screens import clean_up

    body = {"device_kind": "player", "player_version": "1", "public_key": "AAAA"}
    started = app_client.post("/api/v1/devices/pairing", json=body).json()
    op = app_client.auth(app_client.operator)
    hours = {"always_on": False, "weekly": {"0": [{"start": "10:00", "end": "10:00"}]}}
    claim = {"code": started["code"], "name": "x", "screen_class": "kiosk", "hours": hours}
    r = app_client.post("/api/v1/screens/claim", json=claim, headers=op)
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    app_client.clock.advance(dt.timedelta(days=2).total_seconds())
    with app_client.app.state.sessions() as session:  # type: ignore[attr-defined]
        assert clean_up(session, now=app_client.clock.now()) >= 1
        session.commit()
        assert session.get(Pairing, started["pairing_id"]) is None
