"""Community pay's notification delivery: off the payer's request, retried, then left to reconciliation.

A real HTTP endpoint on loopback plays the merchant's notify URL; it refuses the first tries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from content_server.kiosk.services.community_pay import HttpNotifier, QueuedNotifier
from tests.fixtures.waiting import eventually


class _Merchant(ThreadingHTTPServer):
    refuse_first = 0
    bodies: list[bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Merchant

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(body)
        ok = len(self.server.bodies) > self.server.refuse_first
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def merchant() -> Iterator[_Merchant]:
    server = _Merchant(("127.0.0.1", 0), _Handler)
    server.bodies = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Merchant) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/notify"


def test_refused_notifications_are_retried_until_acknowledged(merchant: _Merchant) -> None:
    merchant.refuse_first = 2
    notifier = QueuedNotifier(HttpNotifier(timeout_s=2), retry_after_s=(0.05, 0.1, 0.2))
    assert notifier.send(_url(merchant), b'{"n":1}', {"X-Signature": "s"}) is True
    eventually(notifier.idle, what="the notifier going idle")  # nothing queued, nothing being sent
    assert merchant.bodies == [b'{"n":1}'] * 3  # acknowledged at the third: nothing more goes out


def test_a_merchant_that_never_answers_gets_the_last_retry_then_nothing(merchant: _Merchant) -> None:
    merchant.refuse_first = 100
    notifier = QueuedNotifier(HttpNotifier(timeout_s=2), retry_after_s=(0.05, 0.05))
    notifier.send(_url(merchant), b"a", {})
    notifier.send(_url(merchant), b"b", {})
    eventually(notifier.idle, what="the notifier going idle")
    assert sorted(merchant.bodies) == [b"a"] * 3 + [b"b"] * 3  # one failing never holds up the other


def test_send_returns_before_a_slow_merchant_answers() -> None:
    """The payer's page must not wait for the merchant: queueing is all ``send`` does."""
    gate = threading.Event()

    class Slow:
        def send(self, url: str, body: bytes, headers: object) -> bool:
            gate.wait(10)
            return True

    notifier = QueuedNotifier(Slow())
    started = time.monotonic()
    for _ in range(5):
        notifier.send("http://merchant.invalid/notify", b"x", {})
    queued_in = time.monotonic() - started
    gate.set()
    eventually(notifier.idle, what="the notifier going idle")
    assert queued_in < 1.0
