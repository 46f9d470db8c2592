"""Secrets and their checks, free of HTTP and the database: password KDF, token hashing, CSRF tokens.

Passwords are hashed with argon2id; log-in tokens and device keys are stored only as SHA-256.
The CSRF scheme is the signed double-submit cookie: a random cookie plus a token that is an HMAC
of that cookie and the session cookie, so a token stolen from one session is useless in another.
Both the JSON API (cookie-authenticated writes) and the portal's forms check it here.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

CSRF_COOKIE = "portal_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

_hasher = PasswordHasher()


def sha256_hex(value: str) -> str:
    """How tokens and device keys are stored: only their SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    """A fresh random token (log-in tokens, device keys)."""
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against for unknown usernames, so timing does not reveal accounts."""
    return _hasher.hash("not-a-real-password-0")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such account) costs the same time and fails."""
    try:
        _hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


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
