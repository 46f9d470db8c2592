"""Signing keys for the TUF roles: Ed25519, PKCS#8 PEM on disk (optionally passphrase-encrypted).

Private keys are written once, mode 0600, atomically. Public keys travel between the server and
the operator's offline machine as small JSON files ``{"keyid": …, "key": {…}}`` (TUF's key format).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Key, SSlibKey

from content_server.updates.errors import KeyFileError


def generate() -> CryptoSigner:
    return CryptoSigner.generate_ed25519()


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)  # never overwrite an existing key
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_private(signer: CryptoSigner, path: Path, passphrase: bytes | None = None) -> None:
    """Write the private key; refuses to replace a key file that exists."""
    if path.exists():
        raise KeyFileError(f"{path} exists: refusing to overwrite a signing key")
    key = serialization.load_pem_private_key(signer.private_bytes, password=None)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    _write_private(path, pem)


def load_private(path: Path, passphrase: bytes | None = None) -> CryptoSigner:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyFileError(f"{path}: not a readable private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return CryptoSigner(key)


def load_or_create(path: Path) -> CryptoSigner:
    """An online key the server keeps in its data dir (snapshot, timestamp)."""
    with contextlib.suppress(KeyFileError, FileExistsError):
        save_private(generate(), path)
    return load_private(path)


def public_json(key: Key) -> str:
    return json.dumps({"keyid": key.keyid, "key": key.to_dict()}, indent=2, sort_keys=True) + "\n"


def parse_public(text: str) -> Key:
    try:
        doc = json.loads(text)
        return SSlibKey.from_dict(doc["keyid"], dict(doc["key"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyFileError(f"not a public key file: {exc}") from exc


def load_public(path: Path) -> Key:
    try:
        return parse_public(path.read_text())
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc}") from exc
