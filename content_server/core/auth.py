"""Authentication: roles, password log-in under growing delays (``core.login_guard``), tokens.

Callable from any code (API routes, portal pages, CLI); nothing here knows about HTTP. Creating
and approving accounts is the ``accounts`` feature's (``content_server.accounts.services``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from content_server.core import throttle_store
from content_server.core.errors import Unauthorized
from content_server.core.login_guard import LoginPolicy, LoginStates, is_known_device, known_device_cookie
from content_server.core.models import AuthToken, User
from content_server.core.security import hash_password, needs_rehash, new_secret, sha256_hex, verify_password
from content_server.core.throttle_store import ThrottleStore
from content_server.core.usernames import username_key

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
    """Too many recent failures: try again after ``retry_after_s`` (the answer was not checked)."""

    status_code = 429
    retry_after_s: float

    def __init__(self, retry_after_s: float) -> None:
        super().__init__("too many failed log-ins; try again later")
        self.retry_after_s = retry_after_s


@dataclass
class LoginGuard:
    """Log-in throttling wired to its storage: the policy, the server secret (known-device cookies)
    and the counters' store. One per app (``app.state.login_guard``)."""

    secret: bytes
    policy: LoginPolicy = field(default_factory=LoginPolicy)
    store: ThrottleStore = field(default_factory=ThrottleStore)

    def known_device_cookie(self, user: User, now: dt.datetime) -> str:
        """Set after a successful log-in: this browser is then a known device of this account."""
        return known_device_cookie(self.secret, user.username_key, now)


def authenticate(
    session: Session,
    guard: LoginGuard,
    *,
    username: str,
    password: str,
    source: str,
    device_cookie: str | None,
    now: dt.datetime,
) -> User:
    """Check a password unless its counters say wait; AuthError (the same for every failure) or
    RateLimited. Commits the counters (a failure must count even though the caller rolls back)."""
    key = username_key(username)
    policy = guard.policy
    keys = policy.keys(key, source)
    known = is_known_device(guard.secret, key, device_cookie, now)
    names = [keys.pair, keys.source, keys.account, keys.budget]
    with guard.store.locked(session, group=keys.account, keys=names) as rows:
        states = LoginStates(
            pair=throttle_store.strikes(rows.get(keys.pair)),
            source=throttle_store.strikes(rows.get(keys.source)),
            account=throttle_store.strikes(rows.get(keys.account)),
            budget=throttle_store.level(rows.get(keys.budget)),
        )
        verdict = policy.verdict(states, known_device=known, now=now)
        if not verdict.allowed:
            session.rollback()
            raise RateLimited(verdict.wait_s)
        user = session.scalar(select(User).where(User.username_key == key))
        if not verify_password(user.password_hash if user else None, password) or user is None:
            after = policy.after_failure(states, known_device=known, now=now)
            for name, state in (
                (keys.pair, after.pair), (keys.source, after.source),
                (keys.account, after.account), (keys.budget, after.budget),
            ):  # fmt: skip
                if state is not None:
                    throttle_store.save(session, name, state)
            session.commit()
            raise AuthError("wrong username or password")
        if user.disabled:
            session.rollback()
            raise AuthError("this account is disabled")
        throttle_store.forget(session, keys.pair)  # this source's typos are forgiven; the rest stays
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
