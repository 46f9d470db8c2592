"""The content server's one typed settings object, read from ``SIGNAGE_*`` environment variables."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# published in earlier versions of this code: refused, like any key shorter than 16 characters
PUBLISHED_SECRETS = frozenset({"change-me-insecure-default-secret"})
ACCEL_PREFIX_RE = re.compile(r"(/[A-Za-z0-9_-]+)+")


class Settings(BaseSettings):
    """Everything configurable about the server; refuses insecure defaults outside demo mode."""

    model_config = SettingsConfigDict(env_prefix="SIGNAGE_", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: platformdirs.user_data_path("community-signage") / "server",
        description="Directory for the database, media store and keys (the demo uses var/demo/).",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite (WAL) at <data_dir>/signage.db."
    )
    demo: bool = Field(False, description="Demo mode: allows plain-http cookies.")
    secret_key: str = Field(
        "",
        description="Secret for HMAC derivations (feed secrets, payment notifications, cookies); required, "
        "16+ characters (the demo launcher makes a random one in var/demo/secret_key).",
    )
    public_url: str = Field("http://127.0.0.1:8080", description="Base URL devices and browsers reach us at.")
    host: str = Field("127.0.0.1", description="Address `signage-server serve` binds to.")
    port: int = Field(8080, ge=1, le=65535, description="Port `signage-server serve` binds to.")
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For and "
        "-Proto are believed (127.0.0.1 for deploy/'s nginx); none by default.",
    )
    max_upload_bytes: int = Field(
        512 * 1024 * 1024, ge=1, description="Largest accepted media upload; larger uploads get 413."
    )
    max_image_pixels: int = Field(
        50_000_000, ge=1, description="Decompression-bomb limit: images with more pixels are refused."
    )
    secure_cookies: bool = Field(
        True, description="Mark session cookies Secure (turn off only for http loopback)."
    )
    session_hours: float = Field(12.0, gt=0, description="Lifetime of a portal session cookie.")
    api_token_days: float = Field(30.0, gt=0, description="Lifetime of an API bearer token.")
    login_free_failures: int = Field(
        5,
        ge=1,
        description="Wrong passwords per account and address before each next try waits (2 s, doubling "
        "to 15 min); 4x that per address, 2x per account from unknown devices.",
    )
    login_failures_per_hour: int = Field(
        300, ge=1, description="Global budget of failed log-ins an hour from devices unknown to the account."
    )
    screenshot_every_s: int = Field(
        0,
        ge=0,
        description="Ask every screen for a screenshot this often in heartbeat replies (0: only "
        "when an operator asks).",
    )
    pairing_ttl_s: int = Field(900, ge=60, description="How long a pairing code stays valid.")
    offline_after_s: int = Field(
        180, ge=10, description="A screen with no heartbeat for this long is offline."
    )
    behind_after_s: int = Field(
        600, ge=10, description="A screen still on an old manifest this long after a change is 'behind'."
    )
    frozen_after_s: int = Field(
        300, ge=10, description="A screen whose picture hash has not changed this long is 'frozen'."
    )
    emergency_max_wait_s: float = Field(30.0, gt=0, le=120, description="Longest emergency long-poll.")
    manifest_days: int = Field(7, ge=1, le=31, description="Days a manifest lets a player run offline.")
    poll_cache_s: float = Field(
        1.0, ge=0, le=60, description="How long a process trusts its cached change counter for 304 polls."
    )
    change_notify: bool = Field(
        True,
        description="On PostgreSQL, tell the other server processes of each change at once (LISTEN/NOTIFY).",
    )
    targeted_changes: bool = Field(
        True,
        description="Rebuild only the manifests a change touches (false: one global counter, the old "
        "design, kept for benchmarks' comparison only).",
    )
    accel_redirect_prefix: str | None = Field(
        None,
        description="Behind nginx only: device asset downloads are authorised here and answered with an "
        "empty body and 'X-Accel-Redirect: <prefix>/ab/cd/<sha256>', which nginx sends from an internal "
        "location over the media store (/_signage_store in deploy/); unset, the app sends the bytes.",
    )
    ffprobe_path: str = Field("ffprobe", description="ffprobe binary used to probe uploaded videos.")
    ffmpeg_path: str = Field("ffmpeg", description="ffmpeg binary used for video thumbnails.")
    scheduler_enabled: bool = Field(True, description="Run the background job scheduler.")
    update_check_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="How often rollouts move on past health gates and the update timestamp is kept fresh.",
    )
    keep_alive_s: int = Field(
        75,
        ge=1,
        le=3600,
        description="How long an idle HTTP connection stays open; keep it longer than the proxy's upstream "
        "keepalive_timeout (60 s in deploy/'s nginx), so the proxy closes idle connections, never the app.",
    )
    heartbeat_flush_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Heartbeats that change nothing are kept in memory and written at most this many seconds "
        "later (a change is written before the reply).",
    )
    device_queue_s: float = Field(
        10.0,
        gt=0,
        le=60,
        description="The longest queue a screen's request joins for the screens' worker threads; past it "
        "(a district starting at once) the screen is answered 503 with its own Retry-After slot.",
    )
    shutdown_grace_s: int = Field(
        5, ge=0, le=120, description="On SIGTERM, how long open requests may still run before they are cut."
    )
    log_level: str = Field("INFO", description="Logging level for `signage-server`.")
    delivery_max_attempts: int = Field(
        10, ge=1, le=100, description="Attempts of an outbound message before it goes to the dead letters."
    )
    delivery_first_retry_s: float = Field(
        10.0, gt=0, description="Wait before the first retry of a failed outbound message (then doubling)."
    )
    delivery_max_retry_s: float = Field(
        3600.0, gt=0, description="Longest wait between two attempts of an outbound message."
    )
    delivery_lease_s: float = Field(
        60.0, ge=5, description="How long a server process owns a message it is sending before another may."
    )
    delivery_poll_s: float = Field(
        1.0, gt=0, le=60, description="How often each process looks for outbound messages that are due."
    )
    audit_retention_days: int = Field(
        730, ge=0, description="Days the audit trail keeps its records (0 keeps them for ever)."
    )
    metrics_token: str | None = Field(
        None, description="Bearer token Prometheus sends to /metrics; unset, /metrics answers 404."
    )
    fleet_evaluate_every_s: float = Field(
        5.0, gt=0, le=300, description="How often the alert rules are evaluated (by one process at a time)."
    )
    fleet_heartbeat_every_s: float = Field(
        60.0, gt=0, description="The devices' heartbeat interval: twice this silent counts as 'late'."
    )
    community_timezone: str = Field(
        "Asia/Shanghai",
        description="The community's time zone: portal times, proof-of-play days and hours, pay pages.",
    )

    @model_validator(mode="after")
    def _refuse_insecure(self) -> Settings:
        if not self.secret_key or self.secret_key in PUBLISHED_SECRETS:
            raise ValueError(
                "SIGNAGE_SECRET_KEY: set a real secret (the demo launcher makes one in var/demo/secret_key)"
            )
        if len(self.secret_key) < 16:
            raise ValueError("SIGNAGE_SECRET_KEY: use at least 16 characters")
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ValueError("SIGNAGE_METRICS_TOKEN: use at least 16 characters")
        try:
            ZoneInfo(self.community_timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            name = self.community_timezone
            raise ValueError(f"SIGNAGE_COMMUNITY_TIMEZONE: unknown time zone {name!r}") from exc
        return self

    @model_validator(mode="after")
    def _flush_well_within_offline(self) -> Settings:
        if self.heartbeat_flush_s * 4 > self.offline_after_s:
            raise ValueError(
                "SIGNAGE_HEARTBEAT_FLUSH_S: keep it under a quarter of SIGNAGE_OFFLINE_AFTER_S, or screens "
                "would look offline while their heartbeats wait in memory"
            )
        return self

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        """Only addresses or networks: ``*`` would let any client choose its own address."""
        for entry in filter(None, (e.strip() for e in value.split(","))):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"SIGNAGE_TRUSTED_PROXIES: {entry!r} is not an address or network") from None
        return value

    @field_validator("accel_redirect_prefix")
    @classmethod
    def _accel_prefix_is_a_path(cls, value: str | None) -> str | None:
        """An absolute URI path without a trailing slash (empty means unset): it goes into a header."""
        if not value:
            return None
        if not ACCEL_PREFIX_RE.fullmatch(value):
            raise ValueError(
                f"SIGNAGE_ACCEL_REDIRECT_PREFIX: {value!r} is not a path like /_signage_store "
                "(letters, digits, '_', '-', '/'; no trailing '/')"
            )
        return value

    @property
    def proxy_list(self) -> list[str]:
        return [e.strip() for e in self.trusted_proxies.split(",") if e.strip()]

    @property
    def community_tz(self) -> ZoneInfo:
        """The community's wall clock, as a zone object."""
        return ZoneInfo(self.community_timezone)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or SQLite inside the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'signage.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def updates_dir(self) -> Path:
        """The TUF repository of software releases and its online keys (docs/updates.md)."""
        return self.data_dir / "updates"
