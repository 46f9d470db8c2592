"""CSRF tokens are bound to the browser and the session; redirects never leave the site."""

from __future__ import annotations

import pytest

from content_server.core import security as core_security
from content_server.portal import security

SECRET = "a-test-secret-of-enough-length"


def test_a_token_is_valid_only_for_its_cookie_and_session() -> None:
    cookie = core_security.new_csrf_cookie()
    token = core_security.csrf_token(SECRET, cookie, "session-1")
    assert core_security.csrf_valid(SECRET, cookie, "session-1", token)
    assert not core_security.csrf_valid(SECRET, cookie, "session-2", token)  # stolen into another session
    another_browser = core_security.new_csrf_cookie()
    assert not core_security.csrf_valid(SECRET, another_browser, "session-1", token)
    assert not core_security.csrf_valid("another-secret-entirely", cookie, "session-1", token)
    assert not core_security.csrf_valid(SECRET, cookie, "session-1", None)
    assert not core_security.csrf_valid(SECRET, None, "session-1", token)
    assert not core_security.csrf_valid(
        SECRET, cookie, "session-1", token[:-1] + ("0" if token[-1] != "0" else "1")
    )


def test_cookies_are_random() -> None:
    assert len({core_security.new_csrf_cookie() for _ in range(50)}) == 50


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/portal/campaigns?x=1", "/portal/campaigns?x=1"),
        ("https://evil.example/", "/portal/"),
        ("//evil.example/", "/portal/"),
        ("/\\evil.example", "/portal/"),
        ("javascript:alert(1)", "/portal/"),
        ("portal", "/portal/"),
        ("/portal/\r\nSet-Cookie: x=1", "/portal/"),
        ("", "/portal/"),
        (None, "/portal/"),
    ],
)
def test_safe_next_keeps_redirects_on_site(target: str | None, expected: str) -> None:
    assert security.safe_next(target) == expected


def test_policy_forbids_inline_script_and_framing() -> None:
    csp = security.CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
