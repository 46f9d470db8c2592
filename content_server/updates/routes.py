"""JSON API of software updates (under ``/api/v1/updates``).

Devices (device key): the TUF repository, ``metadata/<name>`` and ``targets/<hash>.<file>``,
answered 404 for anything not there (the TUF client probes ``N+1.root.json`` and needs a 404 to
stop). Operators: the repository's status and current targets (to sign against offline), the
upload of a signed release, rollouts (start, pause, resume, abort), group pins and alerts.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from content_server.core.body_limit import max_body, raw_body
from content_server.core.deps import ClockDep, NowDep, Operator, SessionDep, SettingsDep, StoreDep
from content_server.core.errors import NotFound
from content_server.signage.deps import CurrentDevice
from content_server.updates import rollout as ro
from content_server.updates import services
from content_server.updates.models import PinRow, ReleaseRow
from content_server.updates.repository import TufRepository

router = APIRouter(prefix="/updates", tags=["updates"])
TUF_MEDIA = "application/json"


def get_repository(request: Request) -> TufRepository:
    repo: TufRepository = request.app.state.update_repository
    return repo


# -- devices -----------------------------------------------------------------------------------


@router.get("/metadata/{name}", response_class=FileResponse)
def metadata(
    name: Annotated[str, Path(max_length=64)], request: Request, _device: CurrentDevice
) -> FileResponse:
    """Signed TUF metadata: ``N.root.json``, ``N.targets.json``, ``N.snapshot.json``, ``timestamp.json``."""
    found = get_repository(request).metadata_file(name)
    if found is None:
        raise NotFound(f"no metadata {name}")
    return FileResponse(found, media_type=TUF_MEDIA, headers={"Cache-Control": "no-store"})


@router.get("/targets/{name:path}", response_class=FileResponse)
def target(
    name: Annotated[str, Path(max_length=300)], request: Request, _device: CurrentDevice
) -> FileResponse:
    """A release file by its hash-prefixed name; immutable (the name says what the bytes are)."""
    found = get_repository(request).target_file(name)
    if found is None:
        raise NotFound("no such release file")
    return FileResponse(
        found,
        media_type="application/octet-stream",
        headers={"Cache-Control": "private, max-age=31536000, immutable"},
    )


# -- operators ---------------------------------------------------------------------------------


class RoleOut(BaseModel):
    version: int
    expires: dt.datetime


class RepositoryOut(BaseModel):
    roles: dict[str, RoleOut]
    warnings: list[str]
    online_keys: dict[str, dict[str, Any]]  # what the operator puts into root for snapshot and timestamp


@router.get("/repository", response_model=RepositoryOut)
def repository_status(request: Request, now: NowDep, _user: Operator) -> RepositoryOut:
    repo = get_repository(request)
    status = repo.status(now)
    keys = {role: {"keyid": k.keyid, "key": k.to_dict()} for role, k in repo.online_public_keys().items()}
    return RepositoryOut(
        roles={r: RoleOut(version=s.version, expires=s.expires) for r, s in status.roles.items()},
        warnings=status.warnings,
        online_keys=keys,
    )


@router.get("/repository/targets.json")
def current_targets(request: Request, _user: Operator) -> Response:
    """The current signed targets: ``signage-release release-add --targets`` starts from it."""
    data = get_repository(request).targets_bytes()
    if data is None:
        raise NotFound("no targets published yet: sign the first release without --targets")
    return Response(data, media_type=TUF_MEDIA)


@router.post(
    "/repository/root",
    status_code=201,
    dependencies=[max_body(600_000)],
    openapi_extra=raw_body("application/json"),
)
async def install_root(request: Request, session: SessionDep, now: NowDep, _user: Operator) -> dict[str, int]:
    """Root version N+1 (or 1), signed offline by the old and the new root keys."""
    data = await request.body()
    version = await run_in_threadpool(services.install_root, session, get_repository(request), data, now)
    return {"version": version}


class ReleaseOut(BaseModel):
    version: str
    platform: str
    package: str
    wheels: int
    size_bytes: int
    published_at: dt.datetime
    withdrawn: bool
    running: int = 0
    updating: int = 0
    failed: int = 0
    rolled_back: int = 0

    @classmethod
    def of(cls, row: ReleaseRow, counts: ro.VersionCounts | None = None) -> ReleaseOut:
        c = counts or ro.VersionCounts()
        return cls(
            version=row.version,
            platform=row.platform,
            package=row.package,
            wheels=row.wheels,
            size_bytes=row.size_bytes,
            published_at=row.published_at,
            withdrawn=row.withdrawn_at is not None,
            running=c.running,
            updating=c.updating,
            failed=c.failed,
            rolled_back=c.rolled_back,
        )


@router.post(
    "/releases",
    response_model=list[ReleaseOut],
    status_code=201,
    dependencies=[max_body(lambda settings: settings.max_upload_bytes)],
    openapi_extra=raw_body("application/octet-stream"),  # a tar (any type is read raw); fuzzers send bytes
)
async def upload_release(
    request: Request, store: StoreDep, settings: SettingsDep, clock: ClockDep, user: Operator
) -> list[ReleaseOut]:
    """A tar of ``targets.json`` (signed offline) and the release directory it adds (``release.json``,
    ``wheels/``): streamed to disk, verified against the signatures and hashes on a worker thread."""
    staged = await store.stage_stream(request.stream(), settings.max_upload_bytes)
    rows = await run_in_threadpool(
        services.publish, request.app.state.sessions, get_repository(request), staged, user, clock.now()
    )
    return [ReleaseOut.of(r) for r in rows]


@router.get("/releases", response_model=list[ReleaseOut])
def list_releases(session: SessionDep, _user: Operator) -> list[ReleaseOut]:
    """Every release with how many devices run it, are updating to it, failed or rolled it back."""
    return [ReleaseOut.of(v.row, v.counts) for v in services.releases_overview(session)]


class WaveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64)
    groups: list[str] = Field(default_factory=list, max_length=50)
    percent: float | None = Field(None, gt=0, le=100)


class RolloutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64)
    waves: list[WaveIn] = Field(min_length=1, max_length=20)
    scope_groups: list[str] = Field(default_factory=list, max_length=50)
    max_failure_share: float = Field(0.2, ge=0, lt=1)
    allow_downgrade: bool = False  # going back to an older version: an explicit decision


class WaveOut(BaseModel):
    name: str
    size: int
    open: bool
    counts: dict[str, int]


class RolloutOut(BaseModel):
    id: str
    version: str
    state: str
    reason: str
    allow_downgrade: bool
    max_failure_share: float
    created_at: dt.datetime
    waves: list[WaveOut]


def _rollout_out(view: services.RolloutView) -> RolloutOut:
    r = view.row
    return RolloutOut(
        id=r.id,
        version=r.version,
        state=r.state,
        reason=r.reason,
        allow_downgrade=r.allow_downgrade,
        max_failure_share=r.max_failure_share,
        created_at=r.created_at,
        waves=[
            WaveOut(name=w.name, size=w.size, open=w.open, counts={k.value: n for k, n in w.counts.items()})
            for w in view.waves
        ],
    )


def _offline_after(settings: Any) -> dt.timedelta:
    return dt.timedelta(seconds=settings.offline_after_s)


@router.post("/rollouts", response_model=RolloutOut, status_code=201)
def start_rollout(
    body: RolloutIn, session: SessionDep, now: NowDep, settings: SettingsDep, user: Operator
) -> RolloutOut:
    waves = services.make_waves((w.name, tuple(w.groups), w.percent) for w in body.waves)
    spec = services.RolloutSpec(
        body.version, waves, tuple(body.scope_groups), body.max_failure_share, body.allow_downgrade
    )
    row = services.start_rollout(session, spec, user, now)
    return _rollout_out(services.rollout_view(session, row, now, _offline_after(settings)))


@router.get("/rollouts", response_model=list[RolloutOut])
def list_rollouts(
    session: SessionDep, now: NowDep, settings: SettingsDep, _user: Operator
) -> list[RolloutOut]:
    return [_rollout_out(v) for v in services.rollouts_overview(session, now, _offline_after(settings))]


@router.post("/rollouts/{rollout_id}/{action}", response_model=RolloutOut)
def change_rollout(
    rollout_id: Annotated[str, Path(max_length=32)],
    action: Annotated[str, Path(max_length=16)],
    session: SessionDep,
    now: NowDep,
    settings: SettingsDep,
    user: Operator,
) -> RolloutOut:
    """``pause``, ``resume`` (accepting the failures so far) or ``abort``."""
    row = services.change_rollout(session, rollout_id, action, user, now)
    return _rollout_out(services.rollout_view(session, row, now, _offline_after(settings)))


class PinIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(max_length=64)
    allow_downgrade: bool = False


class PinOut(BaseModel):
    group: str
    version: str
    allow_downgrade: bool

    @classmethod
    def of(cls, pin: PinRow) -> PinOut:
        return cls(group=pin.group, version=pin.version, allow_downgrade=pin.allow_downgrade)


@router.get("/pins", response_model=list[PinOut])
def list_pins(session: SessionDep, _user: Operator) -> list[PinOut]:
    return [PinOut.of(p) for p in services.pins(session)]


@router.put("/pins/{group}", response_model=PinOut)
def set_pin(
    group: Annotated[str, Path(max_length=100)], body: PinIn, session: SessionDep, now: NowDep, user: Operator
) -> PinOut:
    """Hold every device of ``group`` at ``version``, outside rollouts."""
    return PinOut.of(services.set_pin(session, group, body.version, body.allow_downgrade, user, now))


@router.delete("/pins/{group}", status_code=204, response_class=Response)
def remove_pin(group: Annotated[str, Path(max_length=100)], session: SessionDep, _user: Operator) -> Response:
    services.remove_pin(session, group)
    return Response(status_code=204)


class AlertOut(BaseModel):
    id: int
    rollout_id: str
    message: str
    devices: list[str]
    at: dt.datetime


@router.get("/alerts", response_model=list[AlertOut])
def list_alerts(session: SessionDep, _user: Operator) -> list[AlertOut]:
    """Rollouts that paused themselves, until an operator acknowledges them."""
    return [
        AlertOut(id=e.id, rollout_id=e.rollout_id, message=e.message, devices=e.devices, at=e.at)
        for e in services.open_alerts(session)
    ]


@router.post("/alerts/{alert_id}/acknowledge", status_code=204, response_class=Response)
def acknowledge(
    alert_id: Annotated[int, Path(ge=1, le=2**63 - 1)], session: SessionDep, now: NowDep, user: Operator
) -> Response:
    """Marks a self-paused rollout's alert seen (ids beyond the database's integers are a 422)."""
    services.acknowledge(session, alert_id, user, now)
    return Response(status_code=204)
