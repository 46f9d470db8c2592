"""The server's TUF repository on disk: publish offline-signed releases, keep snapshot/timestamp fresh.

Layout under the repository directory (``<data dir>/updates``)::

    metadata/1.root.json, 2.root.json …   every root version (devices walk them to rotate keys)
    metadata/N.targets.json               offline-signed by the operator, checked before it is stored
    metadata/N.snapshot.json              signed here with the online snapshot key
    metadata/timestamp.json               signed here with the online timestamp key
    targets/wheels/<sha256>.<file>.whl    content-addressed: a wheel shared by releases is stored once
    targets/releases/<v>/<sha256>.<platform>.json
    keys/snapshot.pem, keys/timestamp.pem the online keys (0600); the root and targets keys are not here

A publish writes target files first, then the targets, snapshot and finally the timestamp, each
atomically: until the timestamp is replaced devices see the previous state in full, and a crash
in between leaves only unreferenced files. The current version of each role is the one the
timestamp → snapshot chain names, never "the highest file". Mutations take a file lock, so
several server processes sharing the data dir publish one at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Key
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from content_server.updates import keys as keyfiles
from content_server.updates import metadata as md
from content_server.updates.errors import MetadataRejected
from schedules.protocol.release import ReleaseIndex, release_target_path

log = logging.getLogger(__name__)

METADATA_NAME_RE = re.compile(r"^(?:[1-9][0-9]{0,8}\.(?:root|targets|snapshot)|timestamp)\.json$")
TARGET_FILE_RE = re.compile(
    r"^(?:wheels/[0-9a-f]{64}\.[A-Za-z0-9_.+!-]+\.whl|releases/[0-9A-Za-z.+!-]+/[0-9a-f]{64}\.[a-z0-9_-]+\.json)$"
)
USB_DIR = "signage-update"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    _fsync_dir(path.parent)


def _sha256_file(path: Path) -> tuple[str, int]:
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def consistent_name(target_path: str, sha256: str) -> str:
    """Where a target is stored and served: its hash before the file name, as TUF clients ask."""
    dirname, sep, basename = target_path.rpartition("/")
    return f"{dirname}{sep}{sha256}.{basename}"


@dataclass(frozen=True)
class RoleStatus:
    version: int
    expires: dt.datetime


@dataclass(frozen=True)
class RepositoryStatus:
    roles: dict[str, RoleStatus]
    releases: list[md.ReleaseEntry]
    warnings: list[str]


class TufRepository:
    """One TUF repository in a directory; the server's online keys live beside it."""

    def __init__(self, directory: Path, lifetimes: md.Lifetimes | None = None) -> None:
        self.dir = Path(directory)
        self.metadata_dir = self.dir / "metadata"
        self.targets_dir = self.dir / "targets"
        self.keys_dir = self.dir / "keys"
        self.lifetimes = lifetimes or md.Lifetimes()

    # -- keys ----------------------------------------------------------------------------------

    def online_signer(self, role: str) -> CryptoSigner:
        if role not in md.ONLINE_ROLES:
            raise ValueError(f"{role} is not an online role")
        return keyfiles.load_or_create(self.keys_dir / f"{role}.pem")

    def online_public_keys(self) -> dict[str, Key]:
        """The keys the operator puts into root for snapshot and timestamp (created on first use)."""
        return {role: self.online_signer(role).public_key for role in md.ONLINE_ROLES}

    # -- reading -------------------------------------------------------------------------------

    def _read(self, name: str) -> Metadata[Any] | None:
        try:
            data = (self.metadata_dir / name).read_bytes()
        except FileNotFoundError:
            return None
        return Metadata.from_bytes(data)

    def root_version(self) -> int:
        version = 0
        while (self.metadata_dir / f"{version + 1}.root.json").exists():
            version += 1
        return version

    def root(self) -> Root:
        found = self._read(f"{self.root_version()}.root.json")
        if found is None or not isinstance(found.signed, Root):
            raise MetadataRejected("the update repository has no root yet: install one (docs/updates.md)")
        return found.signed

    def timestamp(self) -> Timestamp | None:
        found = self._read("timestamp.json")
        return found.signed if found is not None and isinstance(found.signed, Timestamp) else None

    def snapshot(self) -> Snapshot | None:
        ts = self.timestamp()
        found = None if ts is None else self._read(f"{ts.snapshot_meta.version}.snapshot.json")
        return found.signed if found is not None and isinstance(found.signed, Snapshot) else None

    def targets_version(self) -> int:
        snap = self.snapshot()
        return 0 if snap is None else snap.meta[md.TARGETS_META].version

    def targets_bytes(self) -> bytes | None:
        """The current targets metadata exactly as signed: the operator adds the next release to it."""
        version = self.targets_version()
        return (self.metadata_dir / f"{version}.targets.json").read_bytes() if version else None

    def targets(self) -> Targets | None:
        data = self.targets_bytes()
        if data is None:
            return None
        signed = Metadata.from_bytes(data).signed
        return signed if isinstance(signed, Targets) else None

    def release_index(self, version: str, platform: str) -> ReleaseIndex | None:
        targets = self.targets()
        info = None if targets is None else targets.targets.get(release_target_path(version, platform))
        if info is None:
            return None
        path = self.targets_dir / consistent_name(info.path, info.hashes["sha256"])
        return ReleaseIndex.model_validate_json(path.read_bytes())

    # -- serving -------------------------------------------------------------------------------

    def metadata_file(self, name: str) -> Path | None:
        """The file to send for ``/metadata/<name>``; None (answer 404) for anything else."""
        if not METADATA_NAME_RE.match(name):
            return None
        path = self.metadata_dir / name
        return path if path.is_file() else None

    def target_file(self, name: str) -> Path | None:
        """The file to send for ``/targets/<name>`` (hash-prefixed names only); None for 404."""
        if not TARGET_FILE_RE.match(name) or ".." in name.split("/"):
            return None
        path = self.targets_dir / name
        return path if path.is_file() else None

    # -- changing ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The repository's lock, across processes: every writer of its files holds it, the
        re-signing job included (a test playing a server whose signer stopped holds it too)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _write_metadata(self, name: str, meta: Metadata[Any]) -> bytes:
        data = meta.to_bytes()
        _write_atomic(self.metadata_dir / name, data)
        return data

    def install_root(self, data: bytes, now: dt.datetime) -> Root:
        """Accept root version N+1 (signed by the old and the new root keys), or version 1."""
        with self.locked():
            new = md.parse(data, Root.type)
            current = self.root_version()
            previous = self.root() if current else None
            root = md.check_root(new, previous, now)
            online = self.online_public_keys()
            for role in md.ONLINE_ROLES:
                if online[role].keyid not in root.roles[role].keyids:
                    keyid = online[role].keyid[:12]
                    raise MetadataRejected(
                        f"root does not list this server's {role} key {keyid} "
                        "(put the server's online keys into root)"
                    )
            _write_atomic(self.metadata_dir / f"{root.version}.root.json", data)
            log.info("update repository: root version %d installed", root.version)
            if self.targets_version():
                self._publish_online(now, force=True)  # keys or thresholds may have changed
            return root

    def publish_targets(self, data: bytes, files: Mapping[str, Path], now: dt.datetime) -> Targets:
        """Publish offline-signed targets N+1; ``files`` holds each target not stored yet, by target path.

        Every new target file must match its signed length and hash before anything is visible.
        """
        with self.locked():
            new = md.parse(data, Targets.type)
            targets = md.check_targets(new, self.root(), self.targets_version(), now)
            staged: list[tuple[Path, Path]] = []
            try:
                for path, info in sorted(targets.targets.items()):
                    sha = info.hashes.get("sha256")
                    if sha is None:
                        raise MetadataRejected(f"{path}: no sha256 hash")
                    dest = self.targets_dir / consistent_name(path, sha)
                    if dest.exists():
                        continue
                    src = files.get(path)
                    if src is None:
                        raise MetadataRejected(f"{path}: the file is not stored here and was not uploaded")
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=".upload-")
                    os.close(fd)
                    tmp = Path(tmp_name)
                    shutil.copyfile(src, tmp)
                    staged.append((tmp, dest))
                    got_sha, got_size = _sha256_file(tmp)
                    if (got_sha, got_size) != (sha, info.length):
                        raise MetadataRejected(
                            f"{path}: the uploaded file does not match its signed hash and length"
                        )
                    if path.startswith("releases/"):
                        self._check_index(path, tmp)
                for staged_file, dest in staged:
                    with open(staged_file, "rb") as fh:
                        os.fsync(fh.fileno())
                    os.chmod(staged_file, 0o644)
                    os.replace(staged_file, dest)
                    _fsync_dir(dest.parent)
            finally:
                for staged_file, _ in staged:
                    staged_file.unlink(missing_ok=True)
            _write_atomic(self.metadata_dir / f"{targets.version}.targets.json", data)
            self._publish_online(now, force=True, targets=(targets.version, data))
            log.info(
                "update repository: targets version %d published (%d targets)",
                targets.version,
                len(targets.targets),
            )
            return targets

    @staticmethod
    def _check_index(path: str, file: Path) -> None:
        try:
            index = ReleaseIndex.model_validate_json(file.read_bytes())
        except ValueError as exc:
            raise MetadataRejected(f"{path}: not a release index ({exc})") from exc
        if index.target_path != path:
            raise MetadataRejected(f"{path}: the index inside is for {index.version}/{index.platform}")

    def refresh(self, now: dt.datetime) -> list[str]:
        """Re-sign snapshot and timestamp when due or when root changed their keys; returns roles signed."""
        with self.locked():
            if not self.targets_version():
                return []
            return self._publish_online(now, force=False)

    def _publish_online(
        self, now: dt.datetime, force: bool, targets: tuple[int, bytes] | None = None
    ) -> list[str]:
        root = self.root()
        ts_prev, snap_prev = self.timestamp(), self.snapshot()
        signed: list[str] = []
        snap_md = None if ts_prev is None else self._read(f"{ts_prev.snapshot_meta.version}.snapshot.json")
        need_snapshot = (
            force
            or snap_prev is None
            or snap_md is None
            or md.due(snap_prev, self.lifetimes.snapshot, now)
            or not md.verify_role(root, Snapshot.type, snap_md)
        )
        if need_snapshot:
            version = targets[0] if targets else self.targets_version()
            tbytes = targets[1] if targets else (self.metadata_dir / f"{version}.targets.json").read_bytes()
            snap = md.next_snapshot(snap_prev, tbytes, version, now, self.lifetimes.snapshot)
            md.sign(snap, [self.online_signer(Snapshot.type)])
            snap_bytes = self._write_metadata(f"{snap.signed.version}.snapshot.json", snap)
            snap_version = snap.signed.version
            signed.append(Snapshot.type)
        else:
            assert snap_prev is not None
            snap_version = snap_prev.version
            snap_bytes = (self.metadata_dir / f"{snap_version}.snapshot.json").read_bytes()
        ts_md = self._read("timestamp.json")
        if (
            need_snapshot
            or ts_prev is None
            or ts_md is None
            or md.due(ts_prev, self.lifetimes.timestamp, now)
            or not md.verify_role(root, Timestamp.type, ts_md)
        ):
            ts = md.next_timestamp(ts_prev, snap_bytes, snap_version, now, self.lifetimes.timestamp)
            md.sign(ts, [self.online_signer(Timestamp.type)])
            self._write_metadata("timestamp.json", ts)
            signed.append(Timestamp.type)
        if signed:
            log.info("update repository: re-signed %s", ", ".join(signed))
        return signed

    # -- USB -----------------------------------------------------------------------------------

    def export_usb(self, dest: Path, version: str, platform: str, now: dt.datetime) -> Path:
        """Write ``dest/signage-update/``: the metadata and the files of one release, for a USB stick.

        The stick's snapshot and timestamp are signed for ``Lifetimes.usb`` (a stick is carried
        around for days) as version N+1; the server then moves on to N+2 with its normal lifetimes,
        so a stick's long-lived timestamp is never served online and an online device refuses it
        as a rollback.
        """
        with self.locked():
            index = self.release_index(version, platform)
            targets = self.targets()
            if index is None or targets is None:
                raise MetadataRejected(f"no signed release {version} for {platform}")
            out = dest / USB_DIR
            if out.exists():
                shutil.rmtree(out)
            (out / "metadata").mkdir(parents=True)
            for n in range(1, self.root_version() + 1):
                shutil.copyfile(self.metadata_dir / f"{n}.root.json", out / "metadata" / f"{n}.root.json")
            tversion = self.targets_version()
            tbytes = (self.metadata_dir / f"{tversion}.targets.json").read_bytes()
            (out / "metadata" / f"{tversion}.targets.json").write_bytes(tbytes)
            snap = md.next_snapshot(self.snapshot(), tbytes, tversion, now, self.lifetimes.usb)
            md.sign(snap, [self.online_signer(Snapshot.type)])
            snap_bytes = snap.to_bytes()
            (out / "metadata" / f"{snap.signed.version}.snapshot.json").write_bytes(snap_bytes)
            ts = md.next_timestamp(self.timestamp(), snap_bytes, snap.signed.version, now, self.lifetimes.usb)
            md.sign(ts, [self.online_signer(Timestamp.type)])
            (out / "metadata" / "timestamp.json").write_bytes(ts.to_bytes())
            # the server's own chain skips past the stick's versions
            _write_atomic(self.metadata_dir / f"{snap.signed.version}.snapshot.json", snap_bytes)
            self._write_metadata("timestamp.json", ts)
            self._publish_online(now, force=True)
            paths = [index.target_path, *(w.target_path for w in index.wheels)]
            for path in paths:
                name = consistent_name(path, targets.targets[path].hashes["sha256"])
                (out / "targets" / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.targets_dir / name, out / "targets" / name)
            (out / "bundle.json").write_text(json.dumps({"version": version, "platform": platform}) + "\n")
            log.info("update repository: release %s for %s exported to %s", version, platform, out)
            return out

    # -- status --------------------------------------------------------------------------------

    def status(self, now: dt.datetime) -> RepositoryStatus:
        roles: dict[str, RoleStatus] = {}
        warnings: list[str] = []
        if self.root_version():
            root = self.root()
            roles["root"] = RoleStatus(root.version, root.expires)
        for name, role in (
            ("targets", self.targets()),
            ("snapshot", self.snapshot()),
            ("timestamp", self.timestamp()),
        ):
            if role is not None:
                roles[name] = RoleStatus(role.version, role.expires)
        for name, warn_before in (("root", dt.timedelta(days=30)), ("targets", dt.timedelta(days=14))):
            st = roles.get(name)
            if st is not None and st.expires - now < warn_before:
                warnings.append(
                    f"{name} metadata expires at {st.expires.isoformat()}: the operator must "
                    "sign a new version with the offline key before then"
                )
        targets = self.targets()
        return RepositoryStatus(roles, md.releases(targets) if targets else [], warnings)
