"""Accounts: sign-up, creation by operators and the CLI, approval, log-in and log-out.

Each function that changes something commits it (services own the transaction; routes and
pages never commit).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.accounts import rules
from content_server.accounts.rules import TEXTS, Problem
from content_server.core import auth
from content_server.core.audit.services import AuditLog
from content_server.core.auth import Role
from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.core.models import User
from content_server.core.security import hash_password

log = logging.getLogger(__name__)


class AccountExists(Conflict):
    """The username, or one that looks like it (same key), is taken."""

    problem = Problem.USERNAME_TAKEN

    def __init__(self) -> None:
        super().__init__(TEXTS.text(Problem.USERNAME_TAKEN, "en"))


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
    """Create an account under the one set of rules (``rules``), whoever asks: the portal's and the
    API's sign-up, an operator, the CLI. Operators and clerks are approved at once; advertisers and
    providers wait. Raises ``RuleBroken`` (422) or ``AccountExists`` (409)."""
    role = Role(role)
    name = rules.check_username(username)
    rules.check_password(password, name.name)
    if session.scalar(select(User.id).where(User.username_key == name.key)) is not None:
        raise AccountExists()
    if approved is None:
        approved = role not in auth.SELF_SIGNUP_ROLES
    user = User(
        username=name.name,
        username_key=name.key,
        password_hash=hash_password(password),
        role=role.value,
        approved=approved,
        display_name=display_name or username,
        created_at=now,
    )
    session.add(user)
    session.commit()
    log.info("created %s account %s (approved=%s)", role.value, name.name, approved)
    return user


@dataclass(frozen=True)
class LoggedIn:
    user: User
    token: str
    known_device: str  # the cookie value that makes this browser a known device of the account


def log_in(
    session: Session,
    guard: auth.LoginGuard,
    *,
    username: str,
    password: str,
    source: str,
    device_cookie: str | None,
    now: dt.datetime,
    kind: str,
    lifetime: dt.timedelta,
    replacing: str | None = None,
) -> LoggedIn:
    """Check the password (unless its counters say wait) and issue a ``kind`` token (ending
    ``replacing``); raises ``auth.RateLimited`` or ``auth.AuthError``."""
    try:
        user = auth.authenticate(
            session, guard, username=username, password=password, source=source,
            device_cookie=device_cookie, now=now,
        )  # fmt: skip
    except auth.AuthError:
        session.rollback()
        raise
    if replacing:
        auth.revoke_token(session, replacing)
    token = auth.issue_token(session, user, kind=kind, now=now, lifetime=lifetime)
    session.commit()
    return LoggedIn(user, token, guard.known_device_cookie(user, now))


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
