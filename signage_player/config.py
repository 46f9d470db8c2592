"""The player's one settings object: command line over ``SIGNAGE_PLAYER_*`` environment over defaults."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlparse

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from signage_player import __version__


class PlayerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNAGE_PLAYER_", extra="forbid")

    server_url: str = Field(description="content server base URL, e.g. https://signage.example.org")
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("signage-player"),
                           description="identity, cache, manifests, outbox")
    window: bool = Field(False, description="run in a window instead of full screen")
    screenshot_dir: Path | None = Field(None, description="headless: save what is on screen here")
    screenshot_every_s: float = Field(10.0, gt=0, description="how often to save to screenshot_dir")
    width: int = Field(1920, gt=0, description="window/offscreen width before the manifest says")
    height: int = Field(1080, gt=0, description="window/offscreen height before the manifest says")
    cache_budget_mb: int = Field(4096, gt=0, description="disk budget of the asset cache")
    download_limit_kb_s: int | None = Field(
        None, gt=0, description="cap on download speed in KB/s (metered or shared links); none = no cap"
    )
    poll_interval_s: float = Field(30.0, ge=1, description="manifest poll interval")
    poll_jitter_s: float = Field(5.0, ge=0, description="random spread of each poll")
    heartbeat_interval_s: float = Field(60.0, ge=1, description="heartbeat interval")
    plays_interval_s: float = Field(30.0, ge=1, description="proof-of-play upload interval")
    emergency_wait_s: float = Field(20.0, ge=1, le=60, description="emergency long-poll wait")
    backlight_off_cmd: str | None = Field(None, description="run at screen off, e.g. 'xset dpms force off'")
    backlight_on_cmd: str | None = Field(None, description="run at screen on, e.g. 'xset dpms force on'")
    reboot_cmd: str | None = Field(None, description="remote reboot runs this, e.g. 'sudo systemctl reboot'")
    volume_cmd: str | None = Field(
        None, description="remote volume runs this with {percent}, e.g. 'amixer -q sset Master {percent}%'")
    commands_wait_s: float = Field(20.0, ge=1, le=60, description="remote commands long-poll wait")
    import_dir: Path | None = Field(None, description="directory polled for bundles where udev is absent")
    usb: bool = Field(True, description="watch USB sticks through udev when available")
    crossfade_ms: int = Field(0, ge=0, le=2000, description="crossfade between images (0 = cut)")
    langs: tuple[str, ...] = Field(("zh", "en"), description="text languages in display order")
    allow_insecure_http: bool = Field(False, description="allow plain HTTP to a non-loopback server (demo)")
    version: str = Field(__version__, description="reported to the server")
    update_restart_cmd: str | None = Field(
        None, description="after installing an update, run this to restart (else exit for the update guard)"
    )

    @field_validator("server_url")
    @classmethod
    def _url(cls, v: str) -> str:
        u = urlparse(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError(f"server_url: {v!r} is not an http(s) URL")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _secure(self) -> PlayerSettings:
        u = urlparse(self.server_url)
        if u.scheme == "http" and not self.allow_insecure_http and not _is_loopback(u.hostname or ""):
            raise ValueError("server_url: plain HTTP sends the device key in clear; use https "
                             "(or allow_insecure_http for a demo network)")
        return self

    @property
    def cache_budget_bytes(self) -> int:
        return self.cache_budget_mb * 1024 * 1024


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
