"""Accounts: log-in, cookies, tokens, roles, approval, rate limiting."""

from __future__ import annotations

import datetime as dt

from tests.fixtures.server import AppClient
from tests.portal.conftest import csrf_of


def test_login_sets_httponly_lax_cookie_and_me_works(app_client: AppClient) -> None:
    r = app_client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": "operator-password-1"}
    )
    assert r.status_code == 200, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    me = app_client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["role"] == "operator"
    forged = app_client.post("/api/v1/auth/logout")  # a cookie alone (any site's form) writes nothing
    assert forged.status_code == 403 and app_client.get("/api/v1/auth/me").status_code == 200
    token = csrf_of(app_client.get("/portal/").text)  # what a portal page's script holds
    assert app_client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token}).status_code == 204
    app_client.cookies.clear()
    assert app_client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_is_401_and_then_rate_limited(app_client: AppClient) -> None:
    for _ in range(5):
        r = app_client.post("/api/v1/auth/login", json={"username": "operator", "password": "nope-nope"})
        assert r.status_code == 401
        assert r.json()["detail"] == "wrong username or password"
    r = app_client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": "operator-password-1"}
    )
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    app_client.clock.advance(dt.timedelta(minutes=6).total_seconds())
    r = app_client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": "operator-password-1"}
    )
    assert r.status_code == 200


def test_token_expires(app_client: AppClient) -> None:
    headers = app_client.auth(app_client.operator)
    assert app_client.get("/api/v1/auth/me", headers=headers).status_code == 200
    app_client.clock.advance(dt.timedelta(days=31).total_seconds())
    r = app_client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_signup_needs_operator_approval(app_client: AppClient) -> None:
    r = app_client.post(
        "/api/v1/auth/signup", json={"username": "bakery", "password": "bakery-pass-1", "role": "advertiser"}
    )
    assert r.status_code == 201 and r.json()["approved"] is False
    shop = app_client.auth(type(app_client.operator)("bakery", "bakery-pass-1"))
    r = app_client.get("/api/v1/media", headers=shop)
    assert r.status_code == 403 and "approval" in r.json()["detail"]
    op = app_client.auth(app_client.operator)
    pending = app_client.get("/api/v1/users?pending=true", headers=op).json()
    assert [u["username"] for u in pending] == ["bakery"]
    app_client.post(f"/api/v1/users/{pending[0]['id']}/approval", json={"approved": True}, headers=op)
    assert app_client.get("/api/v1/media", headers=shop).status_code == 200


def test_roles_are_enforced(app_client: AppClient) -> None:
    shop = app_client.auth(app_client.create_user("shop", "advertiser"))
    r = app_client.get("/api/v1/screens", headers=shop)
    assert r.status_code == 403
    r = app_client.post(
        "/api/v1/auth/signup", json={"username": "x", "password": "longenough", "role": "operator"}
    )
    assert r.status_code == 422


def test_passwords_are_stored_as_argon2id_hashes_only(app_client: AppClient) -> None:
    from sqlalchemy import select

    from content_server.core.models import User

    app_client.create_user("hash-shop", "advertiser", password="correct horse battery")
    with app_client.app.state.sessions() as s:  # type: ignore[attr-defined]
        stored = s.scalars(select(User.password_hash).where(User.username == "hash-shop")).one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_one_address_guessing_many_usernames_must_wait(app_client: AppClient) -> None:
    """The per-address delay: spreading guesses over usernames buys 20 free tries, then waits."""
    for i in range(20):
        r = app_client.post("/api/v1/auth/login", json={"username": f"nobody-{i}", "password": "guess-guess"})
        assert r.status_code == 401
    right = {"username": "operator", "password": "operator-password-1"}
    r = app_client.post("/api/v1/auth/login", json=right)
    assert r.status_code == 429 and r.headers["retry-after"] == "2"  # this address, for 2 s
    app_client.clock.advance(2)
    assert app_client.post("/api/v1/auth/login", json=right).status_code == 200


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app_client: AppClient) -> None:
    from sqlalchemy import text

    with app_client.app.state.sessions() as s:  # type: ignore[attr-defined]
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1
