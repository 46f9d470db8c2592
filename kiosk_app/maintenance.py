"""What the operator sees behind the PIN: identity, connectivity, outbox, peripherals, cache, version."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from kiosk_app.peripherals import Peripheral


@dataclass(frozen=True)
class MaintenanceInfo:
    device_id: str | None
    paired: bool
    server_url: str
    online: bool
    outbox_length: int
    peripherals: tuple[Peripheral, ...]
    cache_bytes: int
    version: str


def app_version() -> str:
    try:
        return metadata.version("community-signage")
    except metadata.PackageNotFoundError:
        return "dev"
