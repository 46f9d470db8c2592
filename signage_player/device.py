"""What every screen is to the server (the player, and the kiosk, which is a screen too).

A :class:`Device` is a screen's standing with the server: its identity on disk, the device API
holding its key, its durable outbox and its clock. The parts of a screen (pairing, playback,
reporting, emergencies, USB import) work on it; the kiosk reaches it, and them, through the
package's public surface (``signage_player/__init__.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from schedules.clock import Clock
from signage_player.allocator import pin_mmap_threshold
from signage_player.device_api import DeviceApi
from signage_player.identity import DeviceIdentity
from signage_player.outbox import Outbox
from signage_player.qtcompat import make_singletons_immortal

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
