"""Which peripherals are plugged in (USB barcode scanner, receipt printer), for the maintenance
screen and the heartbeat.

``classify`` is pure over a device's udev properties; ``UdevPeripherals`` walks pyudev's
device list. In containers without a udev daemon devices lack ``ID_*`` properties, so the
list may be short; ``FakePeripherals`` serves tests and demos. ``statuses`` turns what is
plugged in (and the speaker) into the heartbeat's present/working report.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from schedules.protocol.device import PeripheralStatus

log = logging.getLogger(__name__)


class PeripheralKind(StrEnum):
    SCANNER = "scanner"  # a USB HID keyboard: barcode scanners present themselves so
    PRINTER = "printer"
    TOUCHSCREEN = "touchscreen"


@dataclass(frozen=True)
class Peripheral:
    kind: PeripheralKind
    name: str
    node: str


class PeripheralSource(Protocol):
    def list(self) -> list[Peripheral]: ...


def classify(subsystem: str, sys_name: str, props: Mapping[str, str]) -> Peripheral | None:
    """What a udev device is to the kiosk, or None when it does not matter."""
    name = (props.get("ID_MODEL") or props.get("NAME") or sys_name).strip('"').replace("_", " ")
    node = props.get("DEVNAME", sys_name)
    if subsystem == "usbmisc" and sys_name.startswith("lp"):
        return Peripheral(PeripheralKind.PRINTER, name, node)
    if subsystem == "input" and sys_name.startswith("event"):
        if props.get("ID_INPUT_TOUCHSCREEN") == "1":
            return Peripheral(PeripheralKind.TOUCHSCREEN, name, node)
        if props.get("ID_INPUT_KEYBOARD") == "1" and props.get("ID_BUS") == "usb":
            return Peripheral(PeripheralKind.SCANNER, name, node)
    return None


class UdevPeripherals:
    """Lists peripherals through pyudev (read-only; no daemon needed)."""

    def list(self) -> list[Peripheral]:
        try:
            import pyudev

            context = pyudev.Context()
            found: list[Peripheral] = []
            for subsystem in ("input", "usbmisc"):
                for device in context.list_devices(subsystem=subsystem):
                    props = {k: str(device.properties.get(k, "")) for k in device.properties}
                    p = classify(subsystem, device.sys_name, props)
                    if p is not None:
                        found.append(p)
            return found
        except Exception as exc:
            log.warning("cannot list peripherals: %s", exc)
            return []


class FakePeripherals:
    def __init__(self, devices: list[Peripheral] | None = None) -> None:
        self.devices = list(devices or [])

    def list(self) -> list[Peripheral]:
        return list(self.devices)


def node_answers(node: str, kind: PeripheralKind) -> bool:
    """Whether a device node can be used: readable for a scanner, writable for a printer."""
    return os.access(node, os.W_OK if kind is PeripheralKind.PRINTER else os.R_OK)


def statuses(found: list[Peripheral], speaker_available: bool, speaker_failing: bool,
             answers: Callable[[str, PeripheralKind], bool] = node_answers) -> tuple[PeripheralStatus, ...]:
    """The heartbeat's report: scanner, printer and speaker always (present or not), a touchscreen
    when there is one. Working means its device node answers (the speaker: its last use worked)."""
    out: list[PeripheralStatus] = []
    for kind in (PeripheralKind.SCANNER, PeripheralKind.PRINTER, PeripheralKind.TOUCHSCREEN):
        mine = [p for p in found if p.kind is kind]
        if not mine and kind is PeripheralKind.TOUCHSCREEN:
            continue
        working = any(answers(p.node, kind) for p in mine)
        out.append(PeripheralStatus(name=kind.value, present=bool(mine), working=working,
                                    model=mine[0].name[:100] if mine else ""))
    out.append(PeripheralStatus(name="speaker", present=speaker_available,
                                working=speaker_available and not speaker_failing))
    return tuple(out)
