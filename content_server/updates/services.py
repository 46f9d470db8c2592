"""Update services: publish releases, run rollouts, pin groups, answer devices' heartbeats.

Plain functions over a session; each commits what it changed. The rules live in the pure modules
(``metadata`` for TUF, ``rollout`` for waves, gates, pins and downgrades); these functions load
what the rules need, apply them and store the result.
"""

from __future__ import annotations

import datetime as dt
import logging
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tuf.api.metadata import Targets

from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.core.models import User
from content_server.core.store import StagedFile
from content_server.signage.models import Device
from content_server.updates import metadata as md
from content_server.updates import rollout as ro
from content_server.updates.models import DeviceUpdateRow, PinRow, ReleaseRow, RolloutEventRow, RolloutRow
from content_server.updates.repository import TufRepository
from schedules.protocol.release import (
    WHEEL_NAME_RE,
    ReleaseIndex,
    UpdateAssignment,
    UpdateReport,
    version_key,
)

log = logging.getLogger(__name__)
TARGETS_MEMBER = "targets.json"
INDEX_MEMBER = "release.json"
MAX_METADATA_BYTES = 5_000_000  # the TUF client's own limit for targets metadata
ACTIVE = (ro.RolloutState.RUNNING.value, ro.RolloutState.PAUSED.value)


# -- releases ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """An operator's upload: signed targets metadata, and the files of the release it adds (if any)."""

    targets: bytes
    files: dict[str, Path]


def read_upload(archive: Path, workdir: Path) -> Upload:
    """Unpack an upload tar (``targets.json``, optionally ``release.json`` and ``wheels/*.whl``).

    Only regular files with those names are accepted, each once; nothing is written outside
    ``workdir``. What the files are worth is decided later, against their signed hashes.
    """
    files: dict[str, Path] = {}
    targets: bytes | None = None
    try:
        with tarfile.open(archive, "r:*") as tar:
            seen: set[str] = set()
            for member in tar.getmembers():
                name = member.name.removeprefix("./")
                if member.isdir() and name in ("", ".", "wheels"):
                    continue
                wheel = name.removeprefix("wheels/")
                ok = member.isfile() and (
                    name in (TARGETS_MEMBER, INDEX_MEMBER)
                    or (name.startswith("wheels/") and WHEEL_NAME_RE.match(wheel))
                )
                if not ok or name in seen:
                    raise Invalid(f"unexpected member {member.name!r} in the upload")
                seen.add(name)
                src = tar.extractfile(member)
                assert src is not None
                if name == TARGETS_MEMBER:
                    if member.size > MAX_METADATA_BYTES:
                        raise Invalid("targets.json is too large")
                    targets = src.read()
                    continue
                dest = workdir / ("release.json" if name == INDEX_MEMBER else f"wheel-{wheel}")
                with open(dest, "wb") as out:
                    while chunk := src.read(1 << 20):
                        out.write(chunk)
                files[name] = dest
    except (tarfile.TarError, OSError) as exc:
        raise Invalid(f"not a readable tar archive: {exc}") from exc
    if targets is None:
        raise Invalid("the upload has no targets.json (sign it with `signage-release release-add`)")
    if INDEX_MEMBER in files:
        try:
            index = ReleaseIndex.model_validate_json(files[INDEX_MEMBER].read_bytes())
        except ValueError as exc:
            raise Invalid(f"release.json is not a release index: {exc}") from exc
        by_target = {index.target_path: files.pop(INDEX_MEMBER)}
        for w in index.wheels:
            path = files.pop(f"wheels/{w.filename}", None)
            if path is not None:
                by_target[w.target_path] = path
        files = by_target
    return Upload(targets, files)


def publish(
    sessions: sessionmaker[Session], repo: TufRepository, staged: StagedFile, user: User, now: dt.datetime
) -> list[ReleaseRow]:
    """Verify and publish an upload, then index the releases it signs. Blocking: a worker thread."""
    try:
        with tempfile.TemporaryDirectory(dir=staged.path.parent, prefix="release-") as work:
            upload = read_upload(staged.path, Path(work))
            targets = repo.publish_targets(upload.targets, upload.files, now)
    finally:
        staged.discard()
    with sessions() as session:
        rows = sync_releases(session, repo, targets, user.id, now)
        session.commit()
        return rows


def sync_releases(
    session: Session, repo: TufRepository, targets: Targets, user_id: str | None, now: dt.datetime
) -> list[ReleaseRow]:
    """Make ``update_releases`` match the signed targets: new ones added, withdrawn ones marked."""
    signed = {(e.version, e.platform) for e in md.releases(targets)}
    rows = {(r.version, r.platform): r for r in session.scalars(select(ReleaseRow))}
    for version, platform in signed - rows.keys():
        index = repo.release_index(version, platform)
        assert index is not None
        row = ReleaseRow(
            version=version,
            platform=platform,
            package=index.package,
            wheels=len(index.wheels),
            size_bytes=sum(w.size for w in index.wheels),
            targets_version=targets.version,
            published_at=now,
            published_by=user_id,
        )
        session.add(row)
        rows[(version, platform)] = row
        log.info("release %s for %s published", version, platform)
    for key, row in rows.items():
        row.withdrawn_at = None if key in signed else (row.withdrawn_at or now)
    session.flush()
    return sorted(rows.values(), key=lambda r: (version_key(r.version), r.platform), reverse=True)


def install_root(session: Session, repo: TufRepository, data: bytes, now: dt.datetime) -> int:
    root = repo.install_root(data, now)
    session.commit()
    return root.version


@dataclass(frozen=True)
class ReleaseView:
    row: ReleaseRow
    counts: ro.VersionCounts


def releases_overview(session: Session) -> list[ReleaseView]:
    counts = ro.version_counts(device_views(session))
    rows = session.scalars(select(ReleaseRow)).all()
    ordered = sorted(rows, key=lambda r: (version_key(r.version), r.platform), reverse=True)
    return [ReleaseView(r, counts.get(r.version, ro.VersionCounts())) for r in ordered]


def unlisted_versions(session: Session) -> dict[str, ro.VersionCounts]:
    """Versions devices run that are not published releases (e.g. installed by hand)."""
    listed = set(session.scalars(select(ReleaseRow.version)))
    return {v: c for v, c in ro.version_counts(device_views(session)).items() if v not in listed}


# -- devices -----------------------------------------------------------------------------------


def device_views(session: Session) -> list[ro.Device]:
    reports = {r.device_id: r for r in session.scalars(select(DeviceUpdateRow))}
    out = []
    for d in session.scalars(select(Device).where(Device.revoked_at.is_(None))):
        row = reports.get(d.id)
        report = UpdateReport.model_validate(row.report) if row is not None else None
        if report is None and d.player_version:
            report = UpdateReport(running_version=d.player_version)
        out.append(ro.Device(d.id, frozenset(d.groups or ()), report, d.last_seen_at))
    return out


def _rollouts(session: Session) -> list[ro.Rollout]:
    rows = session.scalars(
        select(RolloutRow).where(RolloutRow.state.in_(ACTIVE)).order_by(RolloutRow.created_at.desc())
    )
    return [to_rollout(r) for r in rows]


def _pins(session: Session) -> list[ro.Pin]:
    return [ro.Pin(p.group, p.version, p.allow_downgrade) for p in session.scalars(select(PinRow))]


def on_heartbeat(
    session: Session, device: Device, report: UpdateReport | None, now: dt.datetime
) -> UpdateAssignment | None:
    """Store what the device says about its updates; answer the version it should run (or None)."""
    row = session.get(DeviceUpdateRow, device.id)
    if report is not None:
        doc = report.model_dump(mode="json")
        if row is None:
            row = DeviceUpdateRow(
                device_id=device.id,
                report=doc,
                running_version=report.running_version,
                phase=report.phase.value,
                reported_at=now,
                assigned_source="",
            )
            session.add(row)
        elif row.report != doc:
            row.report, row.running_version, row.phase = doc, report.running_version, report.phase.value
        row.reported_at = now
    view = ro.Device(device.id, frozenset(device.groups or ()), report, now)
    assigned = ro.assignment(view, _rollouts(session), _pins(session))
    if row is not None and (row.assigned_version, row.assigned_source) != (
        assigned.version if assigned else None,
        assigned.source if assigned else "",
    ):
        row.assigned_version = assigned.version if assigned else None
        row.assigned_source = assigned.source if assigned else ""
    session.commit()
    if assigned is None or (report is not None and assigned.version == report.running_version):
        return None
    return UpdateAssignment(version=assigned.version)


# -- rollouts ----------------------------------------------------------------------------------


def to_rollout(row: RolloutRow) -> ro.Rollout:
    waves = tuple(ro.Wave(w["name"], tuple(w.get("groups") or ()), w.get("percent")) for w in row.waves)
    return ro.Rollout(
        row.id,
        row.version,
        waves,
        frozenset(row.scope_groups or ()),
        row.max_failure_share,
        row.allow_downgrade,
        ro.RolloutState(row.state),
        row.opened,
        row.accepted_failures_wave,
        row.reason,
    )


def _store(row: RolloutRow, rollout: ro.Rollout, now: dt.datetime) -> None:
    row.state, row.opened, row.reason = rollout.state.value, rollout.opened, rollout.reason
    row.accepted_failures_wave = rollout.accepted_failures_wave
    row.updated_at = now


@dataclass(frozen=True)
class RolloutSpec:
    version: str
    waves: tuple[ro.Wave, ...]
    scope_groups: tuple[str, ...] = ()
    max_failure_share: float = 0.2
    allow_downgrade: bool = False


def make_waves(specs: Iterable[tuple[str, tuple[str, ...], float | None]]) -> tuple[ro.Wave, ...]:
    """Waves from (name, groups, percent); a wave that is neither or both is refused (422)."""
    try:
        return tuple(ro.Wave(name, groups, percent) for name, groups, percent in specs)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc


def parse_waves(canary_groups: Iterable[str], waves: str) -> tuple[ro.Wave, ...]:
    """``canary_groups`` first, then a comma list of percentages ("10, 50, 100") or ``group:<name>``."""
    canary = tuple(g.strip() for g in canary_groups if g.strip())
    out = [ro.Wave("canary", groups=canary)] if canary else []
    for part in (p.strip() for p in waves.split(",")):
        if not part:
            continue
        try:
            if part.startswith("group:"):
                out.append(ro.Wave(part, groups=(part.removeprefix("group:").strip(),)))
            else:
                out.append(
                    ro.Wave(part if part.endswith("%") else part + "%", percent=float(part.rstrip("%")))
                )
        except ValueError as exc:
            raise Invalid(f"wave {part!r}: {exc}") from exc
    if not out:
        raise Invalid("give a canary group or at least one wave")
    return tuple(out)


def _published(session: Session, version: str) -> ReleaseRow:
    release = session.scalars(
        select(ReleaseRow).where(ReleaseRow.version == version, ReleaseRow.withdrawn_at.is_(None))
    ).first()
    if release is None:
        raise NotFound(f"no published release {version}")
    return release


def refuse_silent_downgrade(session: Session, version: str, groups: Iterable[str], allowed: bool) -> None:
    """Going back to an older version is the operator's explicit decision: refuse it unless ticked."""
    if allowed:
        return
    scope = frozenset(groups)
    newer = [
        d.id
        for d in device_views(session)
        if (not scope or scope & d.groups) and ro.is_downgrade(version, d.running)
    ]
    if newer:
        raise Conflict(
            f"{len(newer)} device(s) run a newer version than {version}; tick 'allow downgrade' to take "
            "them back, or choose a newer release"
        )


def start_rollout(session: Session, spec: RolloutSpec, user: User, now: dt.datetime) -> RolloutRow:
    """Start bringing the scope to ``spec.version``; a running or paused rollout is superseded."""
    _published(session, spec.version)
    refuse_silent_downgrade(session, spec.version, spec.scope_groups, spec.allow_downgrade)
    try:
        plan = ro.Rollout(
            "new",
            spec.version,
            spec.waves,
            frozenset(spec.scope_groups),
            spec.max_failure_share,
            spec.allow_downgrade,
        )
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    for old in session.scalars(select(RolloutRow).where(RolloutRow.state.in_(ACTIVE))):
        old.state, old.reason, old.updated_at = (
            ro.RolloutState.ABORTED.value,
            f"superseded by {spec.version}",
            now,
        )
    row = RolloutRow(
        version=plan.version,
        waves=[_wave_doc(w) for w in plan.waves],
        scope_groups=sorted(plan.scope_groups),
        max_failure_share=plan.max_failure_share,
        allow_downgrade=plan.allow_downgrade,
        state=plan.state.value,
        opened=plan.opened,
        accepted_failures_wave=-1,
        reason="",
        created_by=user.id,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.commit()
    log.info("rollout %s of %s started by %s (%d waves)", row.id, row.version, user.username, len(plan.waves))
    return row


def _wave_doc(w: ro.Wave) -> dict[str, Any]:
    return {"name": w.name, "groups": list(w.groups), "percent": w.percent}


def change_rollout(
    session: Session, rollout_id: str, action: str, user: User, now: dt.datetime
) -> RolloutRow:
    row = session.get(RolloutRow, rollout_id)
    if row is None:
        raise NotFound("no such rollout")
    actions = {"pause": ro.pause, "resume": ro.resume, "abort": ro.abort}
    if action not in actions:
        raise Invalid(f"unknown action {action!r}")
    try:
        changed = actions[action](to_rollout(row))
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
    _store(row, changed, now)
    session.commit()
    log.info("rollout %s of %s: %s by %s", row.id, row.version, action, user.username)
    return row


def advance_rollouts(session: Session, now: dt.datetime, offline_after: dt.timedelta) -> list[ro.Event]:
    """Move running rollouts past passed health gates; pause those whose wave failed (alerting)."""
    rows = session.scalars(select(RolloutRow).where(RolloutRow.state == ro.RolloutState.RUNNING.value)).all()
    if not rows:
        return []
    devices = device_views(session)
    events: list[ro.Event] = []
    for row in rows:
        moved, happened = ro.advance(to_rollout(row), devices, now, offline_after)
        if moved != to_rollout(row):
            _store(row, moved, now)
        for event in happened:
            session.add(
                RolloutEventRow(
                    rollout_id=row.id,
                    kind=event.kind,
                    message=event.message,
                    devices=list(event.devices),
                    at=now,
                )
            )
            if event.kind == "paused":
                log.warning(
                    "ALERT: rollout %s of %s paused itself: %s (devices %s)",
                    row.id,
                    row.version,
                    event.message,
                    ", ".join(event.devices),
                )
            else:
                log.info("rollout %s of %s: %s", row.id, row.version, event.message)
        events += happened
    session.commit()
    return events


@dataclass(frozen=True)
class RolloutView:
    row: RolloutRow
    waves: list[ro.WaveStatus]


def rollout_view(
    session: Session, row: RolloutRow, now: dt.datetime, offline_after: dt.timedelta
) -> RolloutView:
    return RolloutView(row, ro.wave_statuses(to_rollout(row), device_views(session), now, offline_after))


def rollouts_overview(
    session: Session, now: dt.datetime, offline_after: dt.timedelta, limit: int = 20
) -> list[RolloutView]:
    devices = device_views(session)
    rows = session.scalars(select(RolloutRow).order_by(RolloutRow.created_at.desc()).limit(limit))
    return [RolloutView(r, ro.wave_statuses(to_rollout(r), devices, now, offline_after)) for r in rows]


def open_alerts(session: Session) -> list[RolloutEventRow]:
    return list(
        session.scalars(
            select(RolloutEventRow)
            .where(RolloutEventRow.kind == "paused", RolloutEventRow.acknowledged_at.is_(None))
            .order_by(RolloutEventRow.at)
        )
    )


@dataclass(frozen=True)
class SelfPaused:
    """A rollout that paused itself and stays so: still paused, its alert not acknowledged."""

    rollout_id: str
    version: str
    paused_at: dt.datetime  # its latest self-pause
    devices: tuple[str, ...]  # the failed devices that paused it
    names: tuple[str, ...]  # their names (the id of one without a name)
    message: str


def self_paused(session: Session) -> list[SelfPaused]:
    """What the fleet's alert rule about rollouts watches: one per rollout paused by its own health
    gate, until it is resumed or aborted, or an operator acknowledges its alert."""
    rows = session.execute(
        select(RolloutEventRow, RolloutRow.version, RolloutRow.updated_at)
        .join(RolloutRow, RolloutRow.id == RolloutEventRow.rollout_id)
        .where(RolloutEventRow.kind == "paused", RolloutRow.state == ro.RolloutState.PAUSED.value)
        .order_by(RolloutEventRow.at, RolloutEventRow.id)
    ).all()
    # the latest self-pause of each (a resumed rollout may pause again), if the rollout has not been
    # resumed and paused by hand since (that changed it later) and the alert is not acknowledged
    last = {event.rollout_id: (event, version, changed) for event, version, changed in rows}
    latest = {
        rid: (event, version)
        for rid, (event, version, changed) in last.items()
        if event.acknowledged_at is None and event.at >= changed
    }
    ids = {d for event, _ in latest.values() for d in event.devices or ()}
    names: dict[str, str] = {}
    if ids:
        names = {i: n for i, n in session.execute(select(Device.id, Device.name).where(Device.id.in_(ids)))}
    return [
        SelfPaused(
            rollout_id=event.rollout_id,
            version=version,
            paused_at=event.at,
            devices=tuple(event.devices or ()),
            names=tuple(names.get(d) or d for d in event.devices or ()),
            message=event.message,
        )
        for event, version in latest.values()
    ]


def acknowledge(session: Session, event_id: int, user: User, now: dt.datetime) -> None:
    event = session.get(RolloutEventRow, event_id)
    if event is None:
        raise NotFound("no such alert")
    event.acknowledged_at, event.acknowledged_by = now, user.id
    session.commit()


# -- pins --------------------------------------------------------------------------------------


def set_pin(
    session: Session, group: str, version: str, allow_downgrade: bool, user: User, now: dt.datetime
) -> PinRow:
    group = group.strip()
    if not group:
        raise Invalid("group: name the group to pin")
    _published(session, version)
    refuse_silent_downgrade(session, version, [group], allow_downgrade)
    pin = session.get(PinRow, group)
    if pin is None:
        pin = PinRow(
            group=group, version=version, allow_downgrade=allow_downgrade, created_by=user.id, created_at=now
        )
        session.add(pin)
    else:
        pin.version, pin.allow_downgrade, pin.created_by, pin.created_at = (
            version,
            allow_downgrade,
            user.id,
            now,
        )
    session.commit()
    log.info("group %s pinned to %s by %s", group, version, user.username)
    return pin


def remove_pin(session: Session, group: str) -> None:
    pin = session.get(PinRow, group)
    if pin is None:
        raise NotFound(f"group {group} is not pinned")
    session.delete(pin)
    session.commit()


def pins(session: Session) -> list[PinRow]:
    return list(session.scalars(select(PinRow).order_by(PinRow.group)))
