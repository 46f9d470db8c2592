"""Signed offline bundles: a screen group's manifests and assets in one tar for a USB stick."""

from __future__ import annotations

import base64
import datetime as dt
import io
import tarfile
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.core.errors import NotFound
from content_server.core.store import MediaStore
from content_server.signage.models import Device
from content_server.signage.services import manifest as manifests
from content_server.signage.services import plays
from schedules.protocol import bundle as bf


def sign_index(index_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """The ``bundle.sig`` content for these index bytes (see :mod:`schedules.protocol.bundle`)."""
    return base64.b64encode(key.sign(bf.index_digest(index_bytes)))


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def export(
    session: Session,
    store: MediaStore,
    key: Ed25519PrivateKey,
    *,
    group: str,
    now: dt.datetime,
    days: int,
    tmp_dir: Path,
) -> Path:
    """Write the signed bundle for every active player in ``group`` to a temp file; returns its path."""
    devices = [
        d
        for d in session.scalars(select(Device).where(Device.revoked_at.is_(None)).order_by(Device.id))
        if group in (d.groups or ())
    ]
    if not devices:
        raise NotFound(f"no active screen in group {group!r}")
    built = [manifests.build(session, d, now, days=days) for d in devices]
    for device, manifest in zip(devices, built, strict=True):
        plays.remember_served(session, device, manifest, now)  # a stick is served content too
    session.commit()
    index = bf.BundleIndex(group=group, created_at=now, manifests=tuple(built))
    index_bytes = index.model_dump_json().encode()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="bundle-", suffix=".tar")
    path = Path(name)
    with open(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, bf.INDEX_NAME, index_bytes, now.timestamp())
        _add_bytes(tar, bf.SIGNATURE_NAME, sign_index(index_bytes, key), now.timestamp())
        for sha in sorted({a.sha256 for m in built for a in m.assets}):
            src = store.path_for(sha)
            info = tar.gettarinfo(str(src), arcname=bf.asset_name(sha))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            with open(src, "rb") as f:
                tar.addfile(info, f)
    return path
