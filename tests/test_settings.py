"""Each app's one settings object: platform data directories by default, insecure defaults refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from content_server.core.settings import PUBLISHED_SECRETS, Settings
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


def test_server_refuses_a_missing_published_or_short_secret_even_in_demo_mode(xdg: Path) -> None:
    with pytest.raises(ValidationError, match="SIGNAGE_SECRET_KEY: set a real secret"):
        Settings()
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(secret_key="short")
    for published in PUBLISHED_SECRETS:  # the demo used to run on a key anyone could read
        with pytest.raises(ValidationError, match="SIGNAGE_SECRET_KEY: set a real secret"):
            Settings(demo=True, secret_key=published)
    with pytest.raises(ValidationError, match="SIGNAGE_SECRET_KEY: set a real secret"):
        Settings(demo=True)


def test_trusted_proxies_are_explicit_addresses(xdg: Path) -> None:
    """None by default; ``*`` (any client picks its own address) is refused."""
    assert Settings(secret_key="s" * 32).proxy_list == []
    assert Settings(secret_key="s" * 32, trusted_proxies="127.0.0.1, ::1,10.0.0.0/8").proxy_list == [
        "127.0.0.1", "::1", "10.0.0.0/8"
    ]
    for bad in ("*", "nginx", "127.0.0.1,*"):
        with pytest.raises(ValidationError, match="SIGNAGE_TRUSTED_PROXIES"):
            Settings(secret_key="s" * 32, trusted_proxies=bad)


def test_the_accel_redirect_prefix_is_a_path_or_unset(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset (the app sends the bytes) by default and when empty; a header value, so only a plain path."""
    assert Settings(secret_key="s" * 32).accel_redirect_prefix is None
    monkeypatch.setenv("SIGNAGE_ACCEL_REDIRECT_PREFIX", "")
    assert Settings(secret_key="s" * 32).accel_redirect_prefix is None
    monkeypatch.setenv("SIGNAGE_ACCEL_REDIRECT_PREFIX", "/_signage_store")
    assert Settings(secret_key="s" * 32).accel_redirect_prefix == "/_signage_store"
    for bad in ("_signage_store", "/_signage_store/", "/a b", "/x\r\nSet-Cookie: a=b", "/../media"):
        with pytest.raises(ValidationError, match="SIGNAGE_ACCEL_REDIRECT_PREFIX"):
            Settings(secret_key="s" * 32, accel_redirect_prefix=bad)
