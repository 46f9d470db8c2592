"""The kiosk's one settings object: command-line flags over ``KIOSK_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kiosk_app.operator import OperatorPin


class KioskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIOSK_", extra="forbid")

    server_url: str = Field(
        "http://127.0.0.1:8080", description="Base URL of the content server (its default port is 8080)"
    )
    data_dir: Path = Field(default_factory=lambda: platformdirs.user_data_path("community-kiosk"),
                           description="Identity, outbox, catalogue and case caches")
    operator_pin_hash: str | None = Field(
        None, description="pbkdf2 hash of the maintenance PIN (community-kiosk --hash-pin); none disables it")
    idle_seconds: int = Field(60, ge=10, le=600, description="Seconds without touch before the idle warning")
    warning_seconds: int = Field(15, ge=5, le=120, description="Countdown shown before the privacy reset")
    poll_seconds: float = Field(2.5, ge=2.0, le=3.0, description="Payment status poll interval")
    request_timeout_s: float = Field(8.0, gt=0, le=60, description="HTTP timeout per kiosk API call")
    timezone: str = Field("Asia/Shanghai", description="IANA zone in which times are shown to residents")
    read_aloud: bool = Field(True, description="Offer the read-aloud button (needs espeak-ng)")
    window: bool = Field(False, description="Run in a window instead of full screen")
    screenshot_dir: Path | None = Field(None, description="Save a PNG of every screen shown (docs, QA)")
    heartbeat_interval_s: float = Field(60.0, ge=1, description="How often the kiosk reports to the server")
    update_restart_cmd: str | None = Field(
        None, description="After installing an update, run this to restart (else exit for the update guard)")
    plays_interval_s: float = Field(30.0, ge=1, description="How often the attract loop's plays are uploaded")
    attract_sync_s: float = Field(300.0, ge=5, description="How often the attract loop's content is synced")
    emergency_wait_s: float = Field(20.0, ge=1, le=60, description="Emergency long-poll wait")
    commands_wait_s: float = Field(20.0, ge=1, le=60, description="Remote commands long-poll wait")
    reboot_cmd: str | None = Field(None, description="Remote reboot runs this, e.g. 'sudo systemctl reboot'")
    volume_cmd: str | None = Field(
        None, description="Remote volume runs this with {percent}, e.g. 'amixer -q sset Master {percent}%'")
    backlight_off_cmd: str | None = Field(
        None, description="Remote screen-off runs this, e.g. 'xset dpms force off'")
    backlight_on_cmd: str | None = Field(
        None, description="Remote screen-on runs this, e.g. 'xset dpms force on'")

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("server_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("operator_pin_hash")
    @classmethod
    def _pin_hash(cls, value: str | None) -> str | None:
        if value:
            OperatorPin(value)  # raises on a malformed hash
        return value or None
