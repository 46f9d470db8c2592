"""Signed offline bundles for screens without network (USB stick): the format both sides share.

A bundle is an uncompressed tar with exactly these members:

- ``bundle.json`` — :class:`BundleIndex` as UTF-8 JSON: the manifests of the screens it is for;
- ``bundle.sig`` — base64 Ed25519 signature over ``sha256(bundle.json bytes)`` by the server key
  (its public half reaches the device in ``PairingStatus.server_public_key``);
- ``assets/<sha256>`` — each asset named by its SHA-256, checked against the name on import.

Pure: no I/O besides reading the tar file given; the server writes bundles, the player reads them.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import tarfile
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from schedules.errors import ScheduleError
from schedules.protocol import Manifest

BUNDLE_FORMAT_VERSION = 1
INDEX_NAME = "bundle.json"
SIGNATURE_NAME = "bundle.sig"
ASSET_PREFIX = "assets/"
_ASSET_RE = re.compile(r"^assets/([0-9a-f]{64})$")


class BundleError(ScheduleError):
    """The bundle is malformed, altered or not signed by the expected server."""

    def __init__(self, message: str) -> None:
        super().__init__("bundle", message)


class BundleIndex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = BUNDLE_FORMAT_VERSION
    group: str
    created_at: dt.datetime
    manifests: tuple[Manifest, ...]

    def manifest_for(self, screen_id: str) -> Manifest | None:
        return next((m for m in self.manifests if m.screen.id == screen_id), None)


def asset_name(sha256: str) -> str:
    return ASSET_PREFIX + sha256


def index_digest(index_bytes: bytes) -> bytes:
    return hashlib.sha256(index_bytes).digest()


def sign_index(index_bytes: bytes, key: Ed25519PrivateKey) -> bytes:
    """The ``bundle.sig`` content for these index bytes."""
    return base64.b64encode(key.sign(index_digest(index_bytes)))


def verify_index(index_bytes: bytes, signature_b64: bytes, public_key_b64: str) -> BundleIndex:
    """Check the signature, then parse; BundleError on any mismatch."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public.verify(base64.b64decode(signature_b64.strip(), validate=True), index_digest(index_bytes))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BundleError("bundle signature does not verify with the server key") from exc
    try:
        index = BundleIndex.model_validate_json(index_bytes)
    except ValidationError as exc:
        raise BundleError(f"bundle index is malformed: {exc.errors()[0]['msg']}") from exc
    if index.format_version != BUNDLE_FORMAT_VERSION:
        raise BundleError(f"unsupported bundle format {index.format_version}")
    return index


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, limit: int) -> bytes:
    f = tar.extractfile(member)
    if f is None or member.size > limit:
        raise BundleError(f"{member.name}: not a regular file or too large")
    return f.read()


def open_bundle(path: Path, public_key_b64: str) -> tuple[BundleIndex, dict[str, tarfile.TarInfo]]:
    """Verify a bundle file; returns the index and the asset members by SHA-256 (contents unchecked)."""
    try:
        with tarfile.open(path, "r:") as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            if len(set(names)) != len(names):
                raise BundleError("bundle has duplicate member names")
            by_name = {m.name: m for m in members}
            for m in members:
                if not m.isfile() or (
                    m.name not in (INDEX_NAME, SIGNATURE_NAME) and not _ASSET_RE.match(m.name)
                ):
                    raise BundleError(f"unexpected member {m.name!r} in bundle")
            if INDEX_NAME not in by_name or SIGNATURE_NAME not in by_name:
                raise BundleError("bundle lacks its index or signature")
            index_bytes = _read_member(tar, by_name[INDEX_NAME], 64 * 1024 * 1024)
            signature = _read_member(tar, by_name[SIGNATURE_NAME], 1024)
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"not a readable bundle: {exc}") from exc
    index = verify_index(index_bytes, signature, public_key_b64)
    assets = {m.name.removeprefix(ASSET_PREFIX): m for m in members if _ASSET_RE.match(m.name)}
    return index, assets


def copy_asset(path: Path, member: tarfile.TarInfo, out: IO[bytes], expected_sha256: str) -> None:
    """Copy one asset out of the bundle, failing if its bytes do not hash to the expected SHA-256."""
    digest = hashlib.sha256()
    with tarfile.open(path, "r:") as tar:
        f = tar.extractfile(member)
        if f is None:
            raise BundleError(f"{member.name}: not a regular file")
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != expected_sha256:
        raise BundleError(f"asset {expected_sha256[:12]} is corrupt in the bundle")
