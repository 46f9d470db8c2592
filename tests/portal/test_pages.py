"""Portal pages in-process: log-in, sign-up, CSRF, headers, language switch, session expiry."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

from tests.fixtures.server import START, TEST_SECRET, AppClient, Credentials
from tests.portal.conftest import csrf_of, portal_login


def test_login_page_is_chinese_with_strict_headers_and_a_csrf_cookie(app_client: AppClient) -> None:
    r = app_client.get("/portal/login")
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text and "登录" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    cookie = r.headers["set-cookie"]
    assert "portal_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "<script>" not in r.text.replace('<script src="/portal/static/portal.js', "")


def test_language_switch_is_remembered_and_redirects_only_on_site(app_client: AppClient) -> None:
    r = app_client.get("/portal/lang/en?next=/portal/login", follow_redirects=True)
    assert '<html lang="en">' in r.text and "Log in" in r.text
    r = app_client.get("/portal/lang/zh?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/portal/"


def test_login_logout_and_a_wrong_password(app_client: AppClient) -> None:
    bad = portal_login(app_client, Credentials("operator", "wrong-password"))
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    ok = portal_login(app_client, app_client.operator)
    assert ok.status_code == 200 and str(ok.url).endswith("/portal/approvals")
    cookie = next(c for c in ok.history[0].headers.get_list("set-cookie") if c.startswith("signage_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    r = app_client.post("/portal/logout", data={"csrf_token": csrf_of(ok.text)}, follow_redirects=True)
    assert str(r.url).endswith("/portal/login?notice=logged_out")
    assert app_client.get("/portal/approvals", follow_redirects=False).status_code == 303


def test_forms_without_the_right_token_are_refused(app_client: AppClient) -> None:
    app_client.get("/portal/login")
    r = app_client.post(
        "/portal/login",
        data={"username": "operator", "password": "operator-password-1", "csrf_token": "0" * 64},
    )
    assert r.status_code == 403 and "表单已过期" in r.text
    ok = portal_login(app_client, app_client.operator)
    token_before = csrf_of(ok.text)
    # a token from before log-in is bound to the old (empty) session and must not work after it
    anonymous = csrf_of(app_client.get("/portal/signup").text)
    assert anonymous == token_before  # same session: same token
    r = app_client.post("/portal/logout", data={"csrf_token": "f" * 64})
    assert r.status_code == 403
    assert app_client.get("/portal/approvals", follow_redirects=False).status_code == 200


def test_login_waits_after_wrong_passwords(app_client: AppClient) -> None:
    """Five wrong passwords from one address make the next try from it wait 2 s: even the right one."""
    for _ in range(5):
        assert portal_login(app_client, Credentials("operator", "wrong-password")).status_code == 401
    r = portal_login(app_client, app_client.operator)
    assert r.status_code == 429 and "请 2 秒后再试" in r.text and r.headers["retry-after"] == "2"
    app_client.clock.advance(2)
    assert portal_login(app_client, app_client.operator).status_code == 200
    assert app_client.get("/portal/approvals", follow_redirects=False).status_code == 200


def test_sessions_expire(app_client: AppClient) -> None:
    portal_login(app_client, app_client.operator)
    assert app_client.get("/portal/approvals", follow_redirects=False).status_code == 200
    app_client.clock.advance(dt.timedelta(hours=13).total_seconds())
    r = app_client.get("/portal/approvals", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/portal/login?next=/portal/approvals"


def test_signup_waits_for_approval(app_client: AppClient) -> None:
    page = app_client.get("/portal/signup")
    form = {
        "role": "advertiser",
        "display_name": "<b>面包房</b>",
        "username": "bakery",
        "password": "bakery-pass-1",
        "csrf_token": csrf_of(page.text),
    }
    r = app_client.post("/portal/signup", data=form)
    assert r.status_code == 200 and "审核通过后" in r.text
    again = app_client.post("/portal/signup", data=form)
    assert again.status_code == 422 and "已被使用" in again.text
    r = portal_login(app_client, Credentials("bakery", "bakery-pass-1"))
    assert r.status_code == 403 and "等待运营人员审核" in r.text
    # logged in now (as the unapproved account): the old token belonged to the anonymous session
    assert app_client.post("/portal/signup", data=dict(form, username="other")).status_code == 403
    fresh = csrf_of(app_client.get("/portal/signup").text)
    bad_role = dict(form, role="operator", username="sneaky", csrf_token=fresh)
    assert app_client.post("/portal/signup", data=bad_role).status_code == 422


def test_wrong_role_and_unknown_pages(app_client: AppClient) -> None:
    shop = app_client.create_user("shop", "advertiser")
    portal_login(app_client, shop)
    assert app_client.get("/portal/approvals").status_code == 403
    r = app_client.get("/portal/no-such-page")
    assert (
        r.status_code == 404 and "页面不存在" in r.text and r.headers["content-type"].startswith("text/html")
    )
    assert app_client.get("/api/v1/no-such-route").headers["content-type"].startswith("application/json")


def test_cookies_are_secure_outside_plain_http_test_setups(tmp_path: Path) -> None:
    """Production settings (the default) mark the session and CSRF cookies Secure."""
    from content_server.accounts import services as accounts
    from content_server.app import create_app
    from content_server.core.settings import Settings

    settings = Settings(data_dir=tmp_path, secret_key=TEST_SECRET, scheduler_enabled=False)
    assert settings.secure_cookies is True
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            accounts.create_user(session, username="op", password="op-password-1", role="operator", now=START)
            session.commit()
        first = client.get("/portal/login")
        assert "Secure" in first.headers["set-cookie"]
        r = portal_login(client, Credentials("op", "op-password-1"))
        session_cookie = next(
            c for c in r.history[0].headers.get_list("set-cookie") if c.startswith("signage_session=")
        )
        assert "Secure" in session_cookie and "HttpOnly" in session_cookie


def test_the_server_root_leads_to_the_portal(app_client: AppClient) -> None:
    r = app_client.get("/", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/portal/"
