"""Each app's one settings object: platform data directories by default, insecure defaults refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from content_server.core.settings import INSECURE_DEFAULT_SECRET, Settings
from kiosk_app.settings import KioskSettings
from signage_player.config import PlayerSettings


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNAGE_DATA_DIR", "SIGNAGE_PLAYER_DATA_DIR", "KIOSK_DATA_DIR", "SIGNAGE_SECRET_KEY",
                 "SIGNAGE_DEMO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    return tmp_path / "share"


def test_data_dirs_default_to_the_platform_data_dir(xdg: Path) -> None:
    assert Settings(secret_key="s" * 32).data_dir == xdg / "community-signage" / "server"
    assert PlayerSettings(server_url="https://signage.example.org").data_dir == xdg / "signage-player"
    assert KioskSettings().data_dir == xdg / "community-kiosk"


def test_server_refuses_the_default_or_a_short_secret_outside_demo_mode(xdg: Path) -> None:
    with pytest.raises(ValidationError, match="SIGNAGE_SECRET_KEY: set a real secret"):
        Settings()
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(secret_key="short")
    assert Settings(demo=True).secret_key == INSECURE_DEFAULT_SECRET  # the demo may run on it
