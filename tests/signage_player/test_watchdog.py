"""sd_notify and the watchdog: never blocks the GUI thread, pings at half systemd's timeout."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from signage_player.watchdog import PING_MS, Watchdog, ping_interval_ms, sd_notify


def test_interval_is_half_of_what_systemd_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "45000000")
    assert ping_interval_ms() == 22_500
    monkeypatch.setenv("WATCHDOG_USEC", "garbage")
    assert ping_interval_ms() == PING_MS
    monkeypatch.delenv("WATCHDOG_USEC")
    assert ping_interval_ms() == PING_MS


def test_a_receiver_that_never_reads_cannot_stall_the_sender(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as deaf:
        deaf.bind(str(tmp_path / "notify"))
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        t0 = time.monotonic()
        sent = [sd_notify("WATCHDOG=1") for _ in range(500)]  # far more than the socket queue holds
        assert time.monotonic() - t0 < 10  # a blocking send would hang for ever on the full queue
        assert sent[0] is True and sent[-1] is False and "sd_notify WATCHDOG=1 failed" in caplog.text


def test_ready_then_pings_then_stopping(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(tmp_path / "notify"))
        systemd.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        dog = Watchdog(interval_ms=100)
        told: list[str] = []

        def read() -> None:
            while True:
                try:
                    told.append(systemd.recv(64).decode())
                except BlockingIOError:
                    return

        dog.start()
        qtbot.waitUntil(
            lambda: read() or told.count("WATCHDOG=1") >= 3,
            timeout=20_000,
        )  # from the event loop
        dog.stop()
        read()
    assert told[0] == "READY=1" and told[-1] == "STOPPING=1" and told.count("WATCHDOG=1") >= 3


def test_without_systemd_it_does_nothing(qtbot: QtBot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    dog = Watchdog(interval_ms=50)
    dog.start()
    assert not dog.enabled and sd_notify("READY=1") is False
    dog.stop()
