"""JSON API of accounts: log-in, log-out, sign-up, API tokens, and operators' account management."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from content_server.accounts import services
from content_server.core.deps import (
    KNOWN_DEVICE_COOKIE,
    SESSION_COOKIE,
    CurrentUser,
    NowDep,
    Operator,
    SessionDep,
    SettingsDep,
    bearer_token,
    client_address,
    set_known_device,
)
from content_server.core.settings import Settings

router = APIRouter(tags=["accounts"])


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


# usernames and passwords are judged by the account service's one rule (accounts/rules.py), as
# for the portal's form: the models only bound their size
class SignupIn(_In):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    role: str = Field(pattern="^(advertiser|provider)$")
    display_name: str = Field("", max_length=200)


class UserCreateIn(_In):
    username: str = Field(max_length=200)
    password: str = Field(max_length=1000)
    role: str = Field(pattern="^(operator|advertiser|clerk|provider)$")
    display_name: str = Field("", max_length=200)
    approved: bool = True


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    role: str
    approved: bool
    display_name: str
    created_at: dt.datetime


class LoginOut(BaseModel):
    user: UserOut
    expires_at: dt.datetime


class TokenOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: dt.datetime
    user: UserOut


def _log_in(
    body: LoginIn,
    request: Request,
    response: Response,
    session: Session,
    now: dt.datetime,
    kind: str,
    lifetime: dt.timedelta,
    settings: Settings,
) -> services.LoggedIn:
    """Check the password (growing delays per account and address) and issue a token of ``kind``;
    the browser or client becomes a known device of the account (see core/login_guard.py)."""
    done = services.log_in(
        session,
        request.app.state.login_guard,
        username=body.username,
        password=body.password,
        source=client_address(request),
        device_cookie=request.cookies.get(KNOWN_DEVICE_COOKIE),
        now=now,
        kind=kind,
        lifetime=lifetime,
    )
    set_known_device(response, done.known_device, secure=settings.secure_cookies)
    return done


@router.post("/auth/login", response_model=LoginOut)
def login(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> LoginOut:
    """Portal log-in: sets an HttpOnly, SameSite=Lax session cookie."""
    lifetime = dt.timedelta(hours=settings.session_hours)
    done = _log_in(body, request, response, session, now, "session", lifetime, settings)
    user = done.user
    response.set_cookie(
        SESSION_COOKIE,
        done.token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return LoginOut(user=UserOut.model_validate(user), expires_at=now + lifetime)


@router.post("/auth/token", response_model=TokenOut)
def api_token(
    body: LoginIn,
    request: Request,
    response: Response,
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
) -> TokenOut:
    """API clients: exchange a password for a bearer token that expires."""
    lifetime = dt.timedelta(days=settings.api_token_days)
    done = _log_in(body, request, response, session, now, "api", lifetime, settings)
    return TokenOut(token=done.token, expires_at=now + lifetime, user=UserOut.model_validate(done.user))


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: SessionDep, _user: CurrentUser) -> Response:
    """Revoke the token used for this request and clear the cookie."""
    services.log_out(session, bearer_token(request) or request.cookies.get(SESSION_COOKIE))
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE, path="/")
    return out


@router.get("/auth/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/auth/signup", response_model=UserOut, status_code=201)
def signup(body: SignupIn, session: SessionDep, now: NowDep) -> UserOut:
    """Merchants and service providers register themselves; an operator must approve them."""
    user = services.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        now=now,
        approved=False,
        display_name=body.display_name,
    )
    return UserOut.model_validate(user)


@router.get("/users", response_model=list[UserOut])
def list_users(session: SessionDep, _op: Operator, pending: bool = False) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in services.list_users(session, pending=pending)]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreateIn, session: SessionDep, now: NowDep, _op: Operator) -> UserOut:
    user = services.create_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        now=now,
        approved=body.approved,
        display_name=body.display_name,
    )
    return UserOut.model_validate(user)


class ApprovalIn(_In):
    approved: bool = True


@router.post("/users/{user_id}/approval", response_model=UserOut)
def approve_user(user_id: str, body: ApprovalIn, session: SessionDep, op: Operator) -> UserOut:
    return UserOut.model_validate(services.set_approved(session, user_id, body.approved, by=op))
