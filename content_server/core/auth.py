"""Authentication: roles, password log-in under a rate limit, session and API tokens.

Callable from any code (API routes, portal pages, CLI); nothing here knows about HTTP. Creating
and approving accounts is the ``accounts`` feature's (``content_server.accounts.services``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict, deque
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from content_server.core.errors import Unauthorized
from content_server.core.models import AuthToken, User
from content_server.core.security import hash_password, needs_rehash, new_secret, sha256_hex, verify_password

log = logging.getLogger(__name__)


class Role(StrEnum):
    OPERATOR = "operator"
    ADVERTISER = "advertiser"
    CLERK = "clerk"
    PROVIDER = "provider"


SELF_SIGNUP_ROLES = frozenset({Role.ADVERTISER, Role.PROVIDER})  # need operator approval


class AuthError(Unauthorized):
    """Wrong credentials, unknown/expired token, or an account that may not log in."""


class RateLimited(AuthError):
    status_code = 429

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many failed log-ins; try again later")
        self.retry_after_s = retry_after_s


class LoginLimiter:
    """Counts failed log-ins per username and per IP in a sliding window; thread-safe, clock passed in."""

    def __init__(self, max_failures: int, window_s: float) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _prune(self, key: str, now_s: float) -> deque[float]:
        q = self._failures[key]
        while q and q[0] <= now_s - self.window_s:
            q.popleft()
        return q

    def check(self, keys: list[str], now_s: float) -> None:
        with self._lock:
            for key in keys:
                q = self._prune(key, now_s)
                if len(q) >= self.max_failures:
                    raise RateLimited(retry_after_s=max(1.0, q[0] + self.window_s - now_s))

    def failed(self, keys: list[str], now_s: float) -> None:
        with self._lock:
            for key in keys:
                self._prune(key, now_s).append(now_s)

    def succeeded(self, username_key: str) -> None:
        with self._lock:
            self._failures.pop(username_key, None)


def authenticate(
    session: Session,
    limiter: LoginLimiter,
    *,
    username: str,
    password: str,
    ip: str,
    now: dt.datetime,
) -> User:
    """Check a password under the rate limit; raises AuthError (same message for every failure)."""
    keys = [f"user:{username.strip().lower()}", f"ip:{ip}"]
    now_s = now.timestamp()
    limiter.check(keys, now_s)
    user = session.scalar(select(User).where(User.username == username.strip()))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        limiter.failed(keys, now_s)
        raise AuthError("wrong username or password")
    if user.disabled:
        raise AuthError("this account is disabled")
    limiter.succeeded(keys[0])
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def issue_token(session: Session, user: User, *, kind: str, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """Create a session or API token; returns the secret (only its hash is stored)."""
    secret = new_secret()
    session.add(
        AuthToken(
            user_id=user.id,
            token_sha256=sha256_hex(secret),
            kind=kind,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    # expired tokens of this user are cleaned up as we go
    session.execute(delete(AuthToken).where(AuthToken.user_id == user.id, AuthToken.expires_at < now))
    session.flush()
    return secret


def user_for_token(session: Session, secret: str, now: dt.datetime) -> User:
    """The live user behind a token; AuthError if unknown, expired or disabled."""
    if not secret or len(secret) > 256:
        raise AuthError("invalid token")
    row = session.scalar(select(AuthToken).where(AuthToken.token_sha256 == sha256_hex(secret)))
    if row is None or row.expires_at <= now:
        raise AuthError("invalid or expired token")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise AuthError("invalid token")
    return user


def revoke_token(session: Session, secret: str) -> None:
    session.execute(delete(AuthToken).where(AuthToken.token_sha256 == sha256_hex(secret)))
