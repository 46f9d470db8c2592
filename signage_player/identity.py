"""The device's identity: its Ed25519 key pair and, once claimed, its id and bearer key.

Stored as one JSON file (mode 0600) in the data directory, written atomically so a power
cut never leaves a device that forgot its key. The private key never leaves the device;
the server's public key verifies signed offline bundles.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from signage_player.errors import PlayerError
from signage_player.files import atomic_write

log = logging.getLogger(__name__)
IDENTITY_FILE = "identity.json"


class IdentityError(PlayerError):
    """The identity file is unreadable or damaged."""


@dataclass(frozen=True)
class DeviceIdentity:
    private_key: Ed25519PrivateKey
    device_id: str | None = None
    device_key: str | None = None
    server_public_key: str | None = None  # base64 raw Ed25519

    @property
    def paired(self) -> bool:
        return self.device_key is not None

    @property
    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return base64.b64encode(raw).decode()

    def server_key(self) -> Ed25519PublicKey | None:
        if self.server_public_key is None:
            return None
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(self.server_public_key))

    def with_pairing(self, device_id: str, device_key: str, server_public_key: str | None) -> DeviceIdentity:
        return replace(self, device_id=device_id, device_key=device_key, server_public_key=server_public_key)

    def forget_pairing(self) -> DeviceIdentity:
        """Back to unpaired (the server revoked the key); the key pair stays."""
        return replace(self, device_id=None, device_key=None, server_public_key=None)

    def save(self, data_dir: Path) -> None:
        raw = self.private_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        doc = {
            "private_key": base64.b64encode(raw).decode(),
            "device_id": self.device_id,
            "device_key": self.device_key,
            "server_public_key": self.server_public_key,
        }
        atomic_write(Path(data_dir) / IDENTITY_FILE, json.dumps(doc).encode(), mode=0o600)

    @classmethod
    def load(cls, data_dir: Path) -> DeviceIdentity | None:
        path = Path(data_dir) / IDENTITY_FILE
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise IdentityError(f"cannot read {path}: {exc}") from exc
        try:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(doc["private_key"]))
            return cls(key, doc.get("device_id"), doc.get("device_key"), doc.get("server_public_key"))
        except (KeyError, TypeError, ValueError) as exc:
            raise IdentityError(f"{path} is damaged: {exc}") from exc

    @classmethod
    def load_or_create(cls, data_dir: Path) -> DeviceIdentity:
        """Load the stored identity, or make and store a fresh unpaired one."""
        data_dir = Path(data_dir)
        found = cls.load(data_dir)
        if found is not None:
            if (data_dir / IDENTITY_FILE).stat().st_mode & 0o077:
                os.chmod(data_dir / IDENTITY_FILE, 0o600)
            return found
        ident = cls(Ed25519PrivateKey.generate())
        ident.save(data_dir)
        log.info("created a new device identity in %s", data_dir)
        return ident
