"""Signage player: offline-first playback of a screen's schedule from a verified cache.

The package's public surface is also the one door the kiosk (a screen too) uses into the
player's code; everything else is the player's own. What it offers:

- the device: :class:`Device` (identity, device API holding its key, outbox, clock),
  :class:`DeviceIdentity`, :func:`prepare_process`;
- pairing, one for both apps: :class:`Pairing`, the shared :class:`PairingScreen`,
  :func:`pair_on_screen`;
- the server: :class:`DeviceApi`, the real :class:`ServerClient` and its errors;
- the outbox: :class:`Outbox`; crash-safe files: :func:`atomic_write`;
- playback: :class:`Playback` (verified cache, manifest sync, play loop, view) and the media
  back ends;
- background work and reports: :class:`Workers`, :class:`Reporter` (heartbeats, proof of play,
  screenshots) and its :class:`ScreenSource` facts (:class:`Snapshot`, :class:`ContentFacts`,
  :func:`average_hash`), :class:`Watchdog`;
- what the server tells a screen: :class:`EmergencyWatch` (the emergency long-poll),
  :class:`CommandRunner` and :class:`ScreenCommands` (remote commands, :func:`sync_handlers`),
  :class:`IdentifyBanner`, :class:`Backlight` (the site's screen on/off commands).
- software updates: :class:`UpdateRunner`, :func:`updates_for_device` (docs/updates.md), and
  :class:`Restart` (end the app for the guard to start the new version).

Each name is imported from its module when first asked for, so importing the package does
nothing, and the kiosk's pure modules (its flow and stores) can use it without pulling in Qt
or requests.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    # one source of truth: the version the release was built with (pyproject.toml)
    __version__ = version("community-signage")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0"

if TYPE_CHECKING:
    from signage_player.backlight import Backlight
    from signage_player.client import ServerClient
    from signage_player.commands import CommandRunner, ScreenCommands, sync_handlers
    from signage_player.device import Device, prepare_process
    from signage_player.device_api import ClientError, DeviceApi, HttpStatusError, NetworkError, Unauthorized
    from signage_player.emergency import EmergencyWatch
    from signage_player.errors import PlayerError
    from signage_player.files import atomic_write
    from signage_player.identify import IdentifyBanner
    from signage_player.identity import DeviceIdentity, IdentityError
    from signage_player.media import FakeMediaBackend, MediaBackend, VlcBackend
    from signage_player.outbox import Outbox
    from signage_player.pairing import Pairing, PairingScreen, pair_on_screen
    from signage_player.playback import Playback
    from signage_player.reporting import ContentFacts, Reporter, ScreenSource, Snapshot, average_hash
    from signage_player.restart import Restart
    from signage_player.updater.runner import UpdateRunner, updates_for_device
    from signage_player.watchdog import Watchdog
    from signage_player.workers import Workers

_HOME = {
    "ClientError": "device_api", "DeviceApi": "device_api", "HttpStatusError": "device_api",
    "NetworkError": "device_api", "Unauthorized": "device_api",
    "Device": "device", "prepare_process": "device",
    "DeviceIdentity": "identity", "IdentityError": "identity",
    "FakeMediaBackend": "media", "MediaBackend": "media", "VlcBackend": "media",
    "Pairing": "pairing", "PairingScreen": "pairing", "pair_on_screen": "pairing",
    "Outbox": "outbox", "PlayerError": "errors", "Playback": "playback", "Reporter": "reporting",
    "ServerClient": "client", "Watchdog": "watchdog", "Workers": "workers", "atomic_write": "files",
    "Restart": "restart", "UpdateRunner": "updater.runner", "updates_for_device": "updater.runner",
    "ContentFacts": "reporting", "ScreenSource": "reporting", "Snapshot": "reporting",
    "average_hash": "reporting",
    "EmergencyWatch": "emergency", "IdentifyBanner": "identify", "Backlight": "backlight",
    "CommandRunner": "commands", "ScreenCommands": "commands", "sync_handlers": "commands",
}
__all__ = [  # the names of _HOME (a test keeps them the same)
    "Backlight",
    "ClientError",
    "CommandRunner",
    "ContentFacts",
    "Device",
    "DeviceApi",
    "DeviceIdentity",
    "EmergencyWatch",
    "FakeMediaBackend",
    "HttpStatusError",
    "IdentifyBanner",
    "IdentityError",
    "MediaBackend",
    "NetworkError",
    "Outbox",
    "Pairing",
    "PairingScreen",
    "Playback",
    "PlayerError",
    "Reporter",
    "Restart",
    "ScreenCommands",
    "ScreenSource",
    "ServerClient",
    "Snapshot",
    "Unauthorized",
    "UpdateRunner",
    "VlcBackend",
    "Watchdog",
    "Workers",
    "atomic_write",
    "average_hash",
    "pair_on_screen",
    "prepare_process",
    "sync_handlers",
    "updates_for_device",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module the first time it is asked for."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
