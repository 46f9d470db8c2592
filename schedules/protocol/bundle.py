"""Signed offline bundles for screens without network (USB stick): the format both sides share.

A bundle is an uncompressed tar with exactly these members:

- ``bundle.json`` — :class:`BundleIndex` as UTF-8 JSON: the manifests of the screens it is for;
- ``bundle.sig`` — base64 Ed25519 signature over ``sha256(bundle.json bytes)`` by the server key
  (its public half reaches the device in ``PairingStatus.server_public_key``);
- ``assets/<sha256>`` — each asset named by its SHA-256, checked against the name on import.

Only the format lives here (names, the index model, what is signed): pure, no I/O and no
cryptography. The server signs and writes bundles (``content_server.signage.services.bundles``), the
player verifies and reads them (``signage_player.bundle_reader``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

from pydantic import BaseModel, ConfigDict, ValidationError

from schedules.errors import ScheduleError
from schedules.protocol.device import Manifest

BUNDLE_FORMAT_VERSION = 1
INDEX_NAME = "bundle.json"
SIGNATURE_NAME = "bundle.sig"
ASSET_PREFIX = "assets/"
ASSET_MEMBER_RE = re.compile(r"^assets/([0-9a-f]{64})$")


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
    """What the server's Ed25519 key signs: the SHA-256 of the exact index bytes."""
    return hashlib.sha256(index_bytes).digest()


def parse_index(index_bytes: bytes) -> BundleIndex:
    """The index of a bundle whose signature was already checked; BundleError if malformed."""
    try:
        index = BundleIndex.model_validate_json(index_bytes)
    except ValidationError as exc:
        raise BundleError(f"bundle index is malformed: {exc.errors()[0]['msg']}") from exc
    if index.format_version != BUNDLE_FORMAT_VERSION:
        raise BundleError(f"unsupported bundle format {index.format_version}")
    return index
