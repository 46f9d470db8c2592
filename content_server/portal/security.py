"""Portal request hygiene: session-bound CSRF tokens, security headers, safe redirects.

Pure functions (no web framework) so the rules are tested on their own. The CSRF scheme is
the signed double-submit cookie: a random cookie plus a form token that is an HMAC of that
cookie and the session cookie, so a token stolen from one session is useless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
LANG_COOKIE = "portal_lang"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def new_csrf_cookie() -> str:
    """A fresh random value for the CSRF cookie."""
    return secrets.token_urlsafe(32)


def csrf_token(secret: str, csrf_cookie: str, session: str | None) -> str:
    """The form token for this browser (CSRF cookie) and this log-in (session cookie)."""
    message = f"{csrf_cookie}|{session or ''}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def csrf_valid(secret: str, csrf_cookie: str | None, session: str | None, submitted: str | None) -> bool:
    """True when the submitted token was made for this CSRF cookie and session."""
    if not csrf_cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret, csrf_cookie, session), submitted)


def safe_next(target: str | None, default: str = "/portal/") -> str:
    """A local path to redirect to; anything pointing off-site falls back to ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
