"""TUF metadata for releases: build each role's next version and check what is uploaded. Pure.

Four roles, as the TUF specification has them: ``root`` (which keys sign each role; offline keys,
threshold signed, rotated by signing version N+1 with both the old and the new keys), ``targets``
(which files are releases, with their lengths and hashes; signed offline by the operator, so a
compromised server cannot add a file), ``snapshot`` and ``timestamp`` (the repository's current
state; signed online by the server and re-signed before they expire, so a device notices a server
that stops publishing). Consistent snapshots are on: every metadata version and every target file
keeps its own name, and a device never sees a half-published repository.

Time is passed in (``now``, timezone-aware); nothing here reads files or clocks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Role,
    Root,
    Signed,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization import DeserializationError

from content_server.updates.errors import MetadataRejected, ReleaseConflict
from schedules.protocol.release import RELEASE_PREFIX, WHEEL_PREFIX, ReleaseIndex, release_target_path

ONLINE_ROLES = (Snapshot.type, Timestamp.type)
TARGETS_META = "targets.json"


@dataclass(frozen=True)
class Lifetimes:
    """How long each role's metadata stays valid after it is signed."""

    root: dt.timedelta = dt.timedelta(days=365)
    targets: dt.timedelta = dt.timedelta(days=90)
    snapshot: dt.timedelta = dt.timedelta(days=7)
    timestamp: dt.timedelta = dt.timedelta(days=1)
    # snapshot and timestamp written onto a USB stick: the stick stays usable this long
    usb: dt.timedelta = dt.timedelta(days=30)

    def of(self, role: str) -> dt.timedelta:
        lifetime: dt.timedelta = getattr(self, role)
        return lifetime


@dataclass(frozen=True)
class RoleKeys:
    """The public keys and threshold of each top-level role in a root."""

    root: tuple[Key, ...]
    targets: tuple[Key, ...]
    snapshot: tuple[Key, ...]
    timestamp: tuple[Key, ...]
    thresholds: dict[str, int] = field(default_factory=dict)

    def threshold(self, role: str) -> int:
        return self.thresholds.get(role, 1)


@dataclass(frozen=True)
class ReleaseEntry:
    """One signed release in the targets metadata."""

    version: str
    platform: str
    path: str
    length: int


def expires_at(now: dt.datetime, lifetime: dt.timedelta) -> dt.datetime:
    if now.tzinfo is None:
        raise ValueError("now: must be timezone-aware")
    return (now + lifetime).astimezone(dt.UTC).replace(microsecond=0)


def parse(data: bytes, role: str) -> Metadata[Any]:
    """Metadata of the expected role from bytes; MetadataRejected when it is not."""
    try:
        md: Metadata[Any] = Metadata.from_bytes(data)
    except DeserializationError as exc:
        raise MetadataRejected(f"{role}: not TUF metadata ({exc})") from exc
    if md.signed.type != role:
        raise MetadataRejected(f"expected {role} metadata, got {md.signed.type}")
    return md


def sign(md: Metadata[Any], signers: Sequence[Signer]) -> Metadata[Any]:
    """Add each signer's signature (keeping others already there, for threshold signing)."""
    for signer in signers:
        md.sign(signer, append=True)
    return md


# -- root --------------------------------------------------------------------------------------


def _set_role(root: Root, role: str, keys: Sequence[Key], threshold: int) -> None:
    if not keys:
        raise MetadataRejected(f"{role}: at least one key is needed")
    if not 1 <= threshold <= len(keys):
        raise MetadataRejected(f"{role}: threshold {threshold} with {len(keys)} keys")
    for keyid in list(root.roles[role].keyids):
        root.revoke_key(keyid, role)
    for key in keys:
        root.add_key(key, role)
    root.roles[role].threshold = threshold


def new_root(keys: RoleKeys, now: dt.datetime, lifetime: dt.timedelta, version: int = 1) -> Metadata[Root]:
    """An unsigned root of ``version`` with these keys; the root key holders sign it."""
    root = Root(
        version=version,
        expires=expires_at(now, lifetime),
        consistent_snapshot=True,
        roles={r: Role([], 1) for r in ("root", "targets", "snapshot", "timestamp")},
    )
    for role in ("root", "targets", "snapshot", "timestamp"):
        _set_role(root, role, getattr(keys, role), keys.threshold(role))
    return Metadata(root)


def role_keys(root: Root) -> RoleKeys:
    def keys(role: str) -> tuple[Key, ...]:
        return tuple(root.get_key(k) for k in root.roles[role].keyids)

    return RoleKeys(
        keys("root"),
        keys("targets"),
        keys("snapshot"),
        keys("timestamp"),
        {r: root.roles[r].threshold for r in root.roles},
    )


def rotated_root(
    current: Root,
    now: dt.datetime,
    lifetime: dt.timedelta,
    *,
    root: Sequence[Key] | None = None,
    targets: Sequence[Key] | None = None,
    snapshot: Sequence[Key] | None = None,
    timestamp: Sequence[Key] | None = None,
    thresholds: dict[str, int] | None = None,
) -> Metadata[Root]:
    """Root version N+1: the current keys with the roles given replaced.

    Sign it with the threshold of the current root keys and of the new ones; rotating with no
    changes only extends the expiry.
    """
    keys = role_keys(current)
    merged = RoleKeys(
        root=tuple(keys.root if root is None else root),
        targets=tuple(keys.targets if targets is None else targets),
        snapshot=tuple(keys.snapshot if snapshot is None else snapshot),
        timestamp=tuple(keys.timestamp if timestamp is None else timestamp),
        thresholds={**keys.thresholds, **(thresholds or {})},
    )
    return new_root(merged, now, lifetime, version=current.version + 1)


def check_root(md: Metadata[Any], previous: Root | None, now: dt.datetime) -> Root:
    """A root a device will accept after ``previous``: sequential, threshold-signed by both, unexpired."""
    root = md.signed
    if not isinstance(root, Root):
        raise MetadataRejected("not root metadata")
    expected = 1 if previous is None else previous.version + 1
    if root.version != expected:
        raise MetadataRejected(f"root version {root.version}: expected {expected}")
    if not root.consistent_snapshot:
        raise MetadataRejected("root must enable consistent snapshots")
    if root.is_expired(now):
        raise MetadataRejected(f"root version {root.version} expired at {root.expires.isoformat()}")
    result = root.get_root_verification_result(previous, md.signed_bytes, md.signatures)
    if not result:
        raise MetadataRejected(
            f"root version {root.version} is not signed by enough root keys "
            f"(old: {len(result.first.signed)}/{result.first.threshold}, "
            f"new: {len(result.second.signed)}/{result.second.threshold})"
        )
    return root


def verify_role(root: Root, role: str, md: Metadata[Any]) -> bool:
    try:
        root.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError:
        return False
    return True


# -- targets -----------------------------------------------------------------------------------


def _next_targets(current: Targets | None, now: dt.datetime, lifetime: dt.timedelta) -> Targets:
    """A copy of ``current`` as the next version (version 1 when there is none yet)."""
    nxt = Targets(version=1 if current is None else current.version + 1, expires=expires_at(now, lifetime))
    if current is not None:
        nxt.targets = {
            path: TargetFile(t.length, dict(t.hashes), path, dict(t.unrecognized_fields))
            for path, t in current.targets.items()
        }
    return nxt


def _add(targets: Targets, new: TargetFile) -> None:
    old = targets.targets.get(new.path)
    if old is not None and (old.length, old.hashes.get("sha256")) != (new.length, new.hashes["sha256"]):
        raise ReleaseConflict(
            f"{new.path} is already signed with other bytes; a file name must always name the same "
            "bytes (rebuild from the same wheelhouse, or give the release a new version)"
        )
    targets.targets[new.path] = new


def with_release(
    current: Targets | None, index: ReleaseIndex, index_bytes: bytes, now: dt.datetime, lifetime: dt.timedelta
) -> Metadata[Targets]:
    """Targets N+1 with the release's index and wheels added (wheels already there are shared)."""
    nxt = _next_targets(current, now, lifetime)
    for wheel in index.wheels:
        _add(nxt, TargetFile(wheel.size, {"sha256": wheel.sha256}, wheel.target_path))
    release = TargetFile.from_data(index.target_path, index_bytes, ["sha256"])
    release.unrecognized_fields["custom"] = {
        "release": {"package": index.package, "version": index.version, "platform": index.platform}
    }
    _add(nxt, release)
    return Metadata(nxt)


def without_release(
    current: Targets, version: str, now: dt.datetime, lifetime: dt.timedelta
) -> Metadata[Targets]:
    """Targets N+1 without release ``version`` (all platforms): no device installs it any more.

    Its wheels stay signed (other releases may share them; a wheel without a release index is
    never installed on its own).
    """
    nxt = _next_targets(current, now, lifetime)
    prefix = f"{RELEASE_PREFIX}{version}/"
    if not any(p.startswith(prefix) for p in nxt.targets):
        raise MetadataRejected(f"no release {version} is signed")
    nxt.targets = {p: t for p, t in nxt.targets.items() if not p.startswith(prefix)}
    return Metadata(nxt)


def resigned_targets(current: Targets | None, now: dt.datetime, lifetime: dt.timedelta) -> Metadata[Targets]:
    """The same targets as version N+1 with a new expiry (the operator does this before it lapses)."""
    return Metadata(_next_targets(current, now, lifetime))


def check_targets(md: Metadata[Any], root: Root, current_version: int, now: dt.datetime) -> Targets:
    """Offline-signed targets the server may publish: next version, threshold-signed, unexpired."""
    targets = md.signed
    if not isinstance(targets, Targets):
        raise MetadataRejected("not targets metadata")
    if targets.version != current_version + 1:
        raise MetadataRejected(
            f"targets version {targets.version}: expected {current_version + 1} "
            "(sign the current targets metadata from the server)"
        )
    if targets.is_expired(now):
        raise MetadataRejected(f"targets version {targets.version} expired at {targets.expires.isoformat()}")
    if targets.delegations is not None:
        raise MetadataRejected("delegated targets roles are not used by this repository")
    if not verify_role(root, Targets.type, md):
        raise MetadataRejected("targets metadata is not signed by the targets key(s) in root")
    for path in targets.targets:
        if not (path.startswith(WHEEL_PREFIX) or path.startswith(RELEASE_PREFIX)) or ".." in path.split("/"):
            raise MetadataRejected(f"unexpected target path {path!r}")
    return targets


def releases(targets: Targets) -> list[ReleaseEntry]:
    out = []
    for path, t in targets.targets.items():
        info = (t.unrecognized_fields.get("custom") or {}).get("release")
        if path.startswith(RELEASE_PREFIX) and isinstance(info, dict):
            version, platform = str(info.get("version")), str(info.get("platform"))
            if release_target_path(version, platform) == path:
                out.append(ReleaseEntry(version, platform, path, t.length))
    return sorted(out, key=lambda e: (e.version, e.platform))


# -- snapshot and timestamp (online) -----------------------------------------------------------


def next_snapshot(
    previous: Snapshot | None,
    targets_bytes: bytes,
    targets_version: int,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> Metadata[Snapshot]:
    version = 1 if previous is None else previous.version + 1
    meta = {TARGETS_META: MetaFile.from_data(targets_version, targets_bytes, ["sha256"])}
    return Metadata(Snapshot(version=version, expires=expires_at(now, lifetime), meta=meta))


def next_timestamp(
    previous: Timestamp | None,
    snapshot_bytes: bytes,
    snapshot_version: int,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> Metadata[Timestamp]:
    version = 1 if previous is None else previous.version + 1
    meta = MetaFile.from_data(snapshot_version, snapshot_bytes, ["sha256"])
    return Metadata(Timestamp(version=version, expires=expires_at(now, lifetime), snapshot_meta=meta))


def due(signed: Signed, lifetime: dt.timedelta, now: dt.datetime) -> bool:
    """Re-sign when less than half the role's lifetime is left (a missed run still leaves time)."""
    return signed.expires - now < lifetime / 2
