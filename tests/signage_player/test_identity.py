"""Device identity: created once, private (0600), survives restarts, pairing persisted."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from signage_player.identity import IDENTITY_FILE, DeviceIdentity, IdentityError


def test_created_once_and_reloaded(tmp_path: Path) -> None:
    first = DeviceIdentity.load_or_create(tmp_path)
    assert not first.paired
    assert stat.S_IMODE((tmp_path / IDENTITY_FILE).stat().st_mode) == 0o600
    again = DeviceIdentity.load_or_create(tmp_path)
    assert again.public_key_b64 == first.public_key_b64


def test_pairing_is_stored(tmp_path: Path) -> None:
    ident = DeviceIdentity.load_or_create(tmp_path).with_pairing("dev-1", "secret-key", None)
    ident.save(tmp_path)
    loaded = DeviceIdentity.load(tmp_path)
    assert loaded is not None and loaded.paired and loaded.device_key == "secret-key"
    assert loaded.forget_pairing().device_key is None
    assert list(tmp_path.glob("*.tmp")) == []


def test_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / IDENTITY_FILE).write_text(json.dumps({"device_id": "x"}))
    with pytest.raises(IdentityError, match="damaged"):
        DeviceIdentity.load(tmp_path)
