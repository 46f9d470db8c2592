"""The demo launcher's one typed settings object (``SIGNAGE_DEMO_*`` variables, CLI flags override)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DemoSettings(BaseSettings):
    """Where the demo keeps its files, which port it serves on, and which apps it starts."""

    model_config = SettingsConfigDict(env_prefix="SIGNAGE_DEMO_", extra="ignore")

    var_dir: Path = Field(
        Path("var"), description="Root for all demo state: server data, device data, screenshots."
    )
    host: str = Field("127.0.0.1", description="Address the demo's content server binds to.")
    port: int = Field(
        8080, ge=0, le=65535, description="Port of the demo's content server; 0 picks a free one."
    )
    assets_dir: Path = Field(
        Path("assets"), description="Committed artwork (filler slides, logo, icons) the demo seeds."
    )
    videos: bool = Field(True, description="Make and seed the merchants' H.264 ad videos (slower first run).")
    players: bool = Field(True, description="Start the outdoor and lobby players.")
    kiosk: bool = Field(True, description="Start the touch kiosk.")
    screenshot_interval_s: float = Field(
        5.0, gt=0, description="How often each app writes a screenshot under var/demo/screens/."
    )
    startup_timeout_s: float = Field(
        90.0, gt=0, description="Give up if the server is not up within this time."
    )
    log_level: str = Field(
        "INFO", description="Logging level of the launcher (children log to var/demo/logs/)."
    )

    @property
    def demo_dir(self) -> Path:
        return self.var_dir / "demo"

    @property
    def server_dir(self) -> Path:
        return self.demo_dir / "server"

    @property
    def media_dir(self) -> Path:
        return self.demo_dir / "media"

    @property
    def screens_dir(self) -> Path:
        return self.demo_dir / "screens"

    @property
    def logs_dir(self) -> Path:
        return self.demo_dir / "logs"
