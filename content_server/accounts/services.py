"""Accounts: sign-up, creation by operators and the CLI, approval, log-in and log-out.

Each function that changes something commits it (services own the transaction; routes and
pages never commit).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core import auth
from content_server.core.audit.services import AuditLog
from content_server.core.auth import Role
from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.core.models import User
from content_server.core.security import hash_password

log = logging.getLogger(__name__)


class AccountExists(Conflict):
    pass


def validate_password(password: str) -> None:
    if len(password) < 8:
        raise Invalid("password: use at least 8 characters")
    if len(password) > 256:
        raise Invalid("password: at most 256 characters")


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role | str,
    now: dt.datetime,
    approved: bool | None = None,
    display_name: str = "",
) -> User:
    """Create an account. Operators and clerks are approved at once; advertisers/providers wait."""
    role = Role(role)
    username = username.strip()
    if not username or len(username) > 64:
        raise Invalid("username: 1 to 64 characters")
    validate_password(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise AccountExists(f"username {username!r} is taken")
    if approved is None:
        approved = role not in auth.SELF_SIGNUP_ROLES
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        approved=approved,
        display_name=display_name or username,
        created_at=now,
    )
    session.add(user)
    session.commit()
    log.info("created %s account %s (approved=%s)", role.value, username, approved)
    return user


def log_in(
    session: Session,
    limiter: auth.LoginLimiter,
    *,
    username: str,
    password: str,
    ip: str,
    now: dt.datetime,
    kind: str,
    lifetime: dt.timedelta,
    replacing: str | None = None,
) -> tuple[User, str]:
    """Check the password under the rate limit and issue a ``kind`` token (ending ``replacing``)."""
    try:
        user = auth.authenticate(session, limiter, username=username, password=password, ip=ip, now=now)
    except auth.AuthError:
        session.rollback()
        raise
    if replacing:
        auth.revoke_token(session, replacing)
    token = auth.issue_token(session, user, kind=kind, now=now, lifetime=lifetime)
    session.commit()
    return user, token


def log_out(session: Session, token: str | None) -> None:
    """End the session or API token used (nothing to do without one)."""
    if token:
        auth.revoke_token(session, token)
        session.commit()


def list_users(session: Session, *, pending: bool = False) -> list[User]:
    q = select(User).order_by(User.created_at)
    if pending:
        q = q.where(User.approved.is_(False))
    return list(session.scalars(q))


def pending_accounts(session: Session) -> list[User]:
    """Self-signed-up accounts (advertisers, providers) waiting for an operator."""
    q = select(User).where(User.approved.is_(False), User.role.in_(tuple(auth.SELF_SIGNUP_ROLES)))
    return list(session.scalars(q.order_by(User.created_at)))


def set_approved(session: Session, user_id: str, approved: bool, *, by: User) -> User:
    """An operator approves (or withdraws the approval of) an account, never their own withdrawal."""
    if user_id == by.id and not approved:
        raise Invalid("you cannot revoke your own approval")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("unknown user")
    user.approved = approved
    session.commit()
    log.info("operator %s set the approval of %s to %s", by.username, user.username, approved)
    return user


def account_name(session: Session, user_id: str) -> str:
    """The name an operator knows an account by."""
    user = session.get(User, user_id)
    return (user.display_name or user.username) if user else user_id


def audit_inputs(audit: AuditLog) -> None:
    """Accounts are audited (sign-up, approval, role, disabling); password hashes never appear."""
    audit.watch(User, entity="user", redact=("password_hash",))
