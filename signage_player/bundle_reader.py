"""Reading signed offline bundles: verify the server's signature, then copy assets checking each hash.

The format is :mod:`schedules.protocol.bundle`; this is the player's side of it (the tar file and
Ed25519 verification). Members are checked before anything is read: only regular files with
the expected names, no duplicates, index and signature size-limited.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tarfile
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schedules.protocol.bundle import (
    ASSET_MEMBER_RE,
    ASSET_PREFIX,
    INDEX_NAME,
    SIGNATURE_NAME,
    BundleError,
    BundleIndex,
    index_digest,
    parse_index,
)

MAX_INDEX_BYTES = 64 * 1024 * 1024


def verify_index(index_bytes: bytes, signature_b64: bytes, public_key_b64: str) -> BundleIndex:
    """Check the signature, then parse; BundleError on any mismatch."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        public.verify(base64.b64decode(signature_b64.strip(), validate=True), index_digest(index_bytes))
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise BundleError("bundle signature does not verify with the server key") from exc
    return parse_index(index_bytes)


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
                    m.name not in (INDEX_NAME, SIGNATURE_NAME) and not ASSET_MEMBER_RE.match(m.name)
                ):
                    raise BundleError(f"unexpected member {m.name!r} in bundle")
            if INDEX_NAME not in by_name or SIGNATURE_NAME not in by_name:
                raise BundleError("bundle lacks its index or signature")
            index_bytes = _read_member(tar, by_name[INDEX_NAME], MAX_INDEX_BYTES)
            signature = _read_member(tar, by_name[SIGNATURE_NAME], 1024)
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"not a readable bundle: {exc}") from exc
    index = verify_index(index_bytes, signature, public_key_b64)
    assets = {m.name.removeprefix(ASSET_PREFIX): m for m in members if ASSET_MEMBER_RE.match(m.name)}
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
