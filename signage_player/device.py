"""The device facade: what every screen is (the player, and the kiosk, which is a screen too).

A :class:`Device` is a screen's standing with the server: its identity on disk, the device API
holding its key, its durable outbox and its clock. Around it, this module is the one door the
kiosk (and any later device app) uses into the player's code:

- identity and pairing: :class:`Device` (``open``, ``adopt``, ``forget_pairing``),
  :class:`Pairing` and the shared :class:`PairingScreen`, :func:`pair_on_screen`;
- the server: :class:`DeviceApi`, the real :class:`ServerClient` and its errors;
- the outbox: :class:`Outbox`;
- playback: :class:`Playback` (verified cache, manifest sync, play loop and view) and the media
  back ends;
- background work and reports: :class:`Workers`, :class:`Reporter` (heartbeats, proof of
  play, screenshots), :class:`Watchdog`, :func:`prepare_process`.

The pure parts are imported here directly; the Qt and HTTP parts are loaded on first use
(:func:`__getattr__`), so the kiosk's pure modules (its flow and stores) can use this door
without pulling in Qt or requests, and importing it does nothing.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedules.clock import Clock
from signage_player.allocator import pin_mmap_threshold
from signage_player.device_api import (
    ClientError,
    DeviceApi,
    HttpStatusError,
    NetworkError,
    Unauthorized,
)
from signage_player.errors import PlayerError
from signage_player.files import atomic_write
from signage_player.identity import DeviceIdentity, IdentityError
from signage_player.outbox import Outbox
from signage_player.qtcompat import make_singletons_immortal

if TYPE_CHECKING:
    from signage_player.client import ServerClient
    from signage_player.media import FakeMediaBackend, MediaBackend, VlcBackend
    from signage_player.pairing import Pairing, PairingScreen, pair_on_screen
    from signage_player.playback import Playback
    from signage_player.reporting import Reporter
    from signage_player.watchdog import Watchdog
    from signage_player.workers import Workers

log = logging.getLogger(__name__)


@dataclass
class Device:
    """A screen's standing with the server: identity, API with its key, outbox and clock."""

    data_dir: Path
    identity: DeviceIdentity
    api: DeviceApi
    outbox: Outbox
    clock: Clock

    @classmethod
    def open(cls, data_dir: Path, api: DeviceApi, clock: Clock, outbox_name: str = "outbox.db") -> Device:
        """Load (or make) the identity in ``data_dir``, hand its key to ``api``, open the outbox."""
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        identity = DeviceIdentity.load_or_create(data_dir)
        log.info("identity loaded (%s)", f"device {identity.device_id}" if identity.paired else "not paired")
        api.device_key = identity.device_key
        return cls(data_dir, identity, api, Outbox(data_dir / outbox_name), clock)

    @property
    def paired(self) -> bool:
        return self.identity.paired

    def adopt(self, identity: DeviceIdentity) -> None:
        """An operator claimed this device: use the (already stored) identity and its key from now on."""
        self.identity = identity
        self.api.device_key = identity.device_key

    def forget_pairing(self) -> None:
        """The server refused the key (the screen was revoked): forget it on disk and in the API."""
        self.identity = self.identity.forget_pairing()
        self.identity.save(self.data_dir)
        self.api.device_key = None

    def close(self) -> None:
        self.outbox.close()
        self.api.close()


def prepare_process() -> None:
    """Once, before Qt and libVLC start: PySide6's refcount work-around and the allocator setting."""
    make_singletons_immortal()
    pin_mmap_threshold()  # before libVLC's threads start allocating frames


_LAZY = {
    "ServerClient": "signage_player.client",
    "FakeMediaBackend": "signage_player.media",
    "MediaBackend": "signage_player.media",
    "VlcBackend": "signage_player.media",
    "Pairing": "signage_player.pairing",
    "PairingScreen": "signage_player.pairing",
    "pair_on_screen": "signage_player.pairing",
    "Playback": "signage_player.playback",
    "Reporter": "signage_player.reporting",
    "Watchdog": "signage_player.watchdog",
    "Workers": "signage_player.workers",
}


def __getattr__(name: str) -> Any:
    """The Qt and HTTP parts, imported when first asked for (see the module's docstring)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "ClientError",
    "Device",
    "DeviceApi",
    "DeviceIdentity",
    "FakeMediaBackend",
    "HttpStatusError",
    "IdentityError",
    "MediaBackend",
    "NetworkError",
    "Outbox",
    "Pairing",
    "PairingScreen",
    "Playback",
    "PlayerError",
    "Reporter",
    "ServerClient",
    "Unauthorized",
    "VlcBackend",
    "Watchdog",
    "Workers",
    "atomic_write",
    "pair_on_screen",
    "prepare_process",
]
