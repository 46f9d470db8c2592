"""The real adapters: HTTP API on a loopback server, Qt runner, offline tokens, espeak-ng, pyudev, QR."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app.api import ApiUnavailable, LockedOut, NotFound, Rejected
from kiosk_app.http_api import HttpKioskApi
from kiosk_app.i18n import Language
from kiosk_app.offline_pay import DeviceKeySigner
from kiosk_app.peripherals import PeripheralKind, UdevPeripherals, classify
from kiosk_app.qr import qr_matrix
from kiosk_app.scan import (
    Burst,
    BurstKind,
    HiddenGesture,
    ScanDetector,
    ScanKind,
    ScannedCode,
    case_number_from_scan,
    parse_scan,
)
from kiosk_app.speech import EspeakSpeaker
from schedules.protocol.kiosk import CaseLookup, OfflineOrderClaims, OrderCreate
from tests.kiosk_app.conftest import T0, sample_case, sample_catalogue


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: ClassVar[dict[tuple[str, str], tuple[int, dict[str, str], bytes]]] = {}
    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append((self.command, self.path, dict(self.headers), body))
        status, headers, payload = self.routes.get((self.command, self.path), (404, {}, b'{"detail":"nf"}'))
        if self.headers.get("If-None-Match") and headers.get("ETag") == self.headers.get("If-None-Match"):
            status, payload = 304, b""
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, type[_Handler]]]:
    handler = type("H", (_Handler,), {"routes": {}, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_http_api_speaks_the_protocol(http_server) -> None:  # type: ignore[no-untyped-def]
    base, handler = http_server
    cat = sample_catalogue()
    kiosk = "/api/v1/kiosk"
    handler.routes[("GET", f"{kiosk}/catalogue")] = (200, {"ETag": '"v1"'}, cat.model_dump_json().encode())
    handler.routes[("POST", f"{kiosk}/cases/lookup")] = (200, {}, sample_case().model_dump_json().encode())
    handler.routes[("GET", "/api/v1/kiosk/orders/by-reference/K7Q-4M2")] = (404, {}, b"{}")
    handler.routes[("POST", "/api/v1/kiosk/orders")] = (409, {}, b'{"detail":"slot full"}')
    api = HttpKioskApi(base, "secret-key", timeout=5)
    first = api.catalogue()
    assert first.catalogue == cat and first.etag == '"v1"'
    again = api.catalogue(first.etag)
    assert again.catalogue is None and again.etag == '"v1"'
    status = api.lookup_case(CaseLookup(case_number="GA20261101", id_last4="123X"))
    assert status.case_number == "GA20261101"
    _method, _path, headers, body = handler.seen[-1]
    assert headers["Authorization"] == "Bearer secret-key" and json.loads(body)["id_last4"] == "123X"
    handler.routes[("GET", "/api/v1/assets/abc")] = (200, {}, b"PNGDATA")
    assert api.fetch("/api/v1/assets/abc") == b"PNGDATA"
    assert handler.seen[-1][2]["Authorization"] == "Bearer secret-key"
    other = base.replace("127.0.0.1", "localhost")  # another origin (a CDN): no device key sent
    assert api.fetch(other + "/api/v1/assets/abc") == b"PNGDATA"
    assert "Authorization" not in handler.seen[-1][2]
    with pytest.raises(NotFound):
        api.order_by_reference("K7Q-4M2")
    with pytest.raises(NotFound):
        api.get_order("../admin")  # never leaves the kiosk's routes
    with pytest.raises(Rejected):
        api.create_order(OrderCreate(idempotency_key=uuid.uuid4(), service_id="meal", slot_id="meal-0",
                                     phone="13812345678"))


def test_http_api_lockout_and_outage(http_server) -> None:  # type: ignore[no-untyped-def]
    base, handler = http_server
    handler.routes[("POST", "/api/v1/kiosk/cases/lookup")] = (429, {"Retry-After": "120"}, b"{}")
    handler.routes[("GET", "/api/v1/kiosk/orders/o1")] = (503, {}, b"down")
    handler.routes[("GET", "/api/v1/kiosk/catalogue")] = (200, {}, b'{"not": "a catalogue"}')
    api = HttpKioskApi(base, "k", timeout=5)
    with pytest.raises(LockedOut) as locked:
        api.lookup_case(CaseLookup(case_number="GA20261101", id_last4="0000"))
    assert locked.value.retry_after_s == 120
    with pytest.raises(ApiUnavailable):
        api.get_order("o1")
    with pytest.raises(ApiUnavailable):
        api.catalogue()
    with pytest.raises(ApiUnavailable):
        HttpKioskApi("http://127.0.0.1:9", "k", timeout=2).catalogue()  # nothing listens on port 9


def test_qt_runner_answers_on_the_ui_thread_without_blocking_it(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QThread

    from kiosk_app.worker import QtRunner

    runner = QtRunner()
    release = threading.Event()
    results: list[tuple[object, bool]] = []
    runner.submit(lambda: release.wait(5) and "slow", lambda r: results.append((r, QThread.currentThread()
                  is qtbot_main_thread())), lambda e: results.append((e, False)))
    runner.submit(lambda: 1 / 0, lambda r: None, lambda e: results.append((type(e).__name__, True)))
    qtbot.waitUntil(lambda: len(results) == 1, timeout=20_000)  # the UI kept running meanwhile
    assert results == [("ZeroDivisionError", True)]
    release.set()
    qtbot.waitUntil(lambda: len(results) == 2, timeout=20_000)
    assert results[1] == ("slow", True)
    assert runner.wait(3000)


def qtbot_main_thread():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.instance().thread()  # type: ignore[union-attr]


def test_offline_token_is_accepted_by_the_servers_verifier() -> None:
    from content_server.kiosk.offline_token import verify_offline_token

    key = Ed25519PrivateKey.generate()
    signer = DeviceKeySigner(key, "https://community.example")
    from signage_player.identity import DeviceIdentity

    public = DeviceIdentity(key).public_key_b64
    claims = OfflineOrderClaims(kiosk_id="kiosk-1", idempotency_key=uuid.uuid4(), service_id="meal",
                                slot_id="meal-0", phone="13812345678", amount_minor=1200, issued_at=T0,
                                expires_at=T0 + dt.timedelta(minutes=30), nonce="n" * 24)
    url = signer.pay_url(claims)
    assert url.startswith("https://community.example/pay/offline/")
    token = url.rsplit("/", 1)[1]
    assert verify_offline_token(token, {"kiosk-1": public}.get, T0 + dt.timedelta(minutes=1)) == claims
    from content_server.kiosk.errors import TokenRejected

    with pytest.raises(TokenRejected):
        verify_offline_token(token[:-3] + "AAA", {"kiosk-1": public}.get, T0)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_reads_chinese_and_english_aloud(tmp_path: Path) -> None:
    for language, text in ((Language.ZH, "请选择服务"), (Language.EN, "Please choose a service")):
        wav = tmp_path / f"{language.value}.wav"
        speaker = EspeakSpeaker(wav_path=str(wav))
        speaker.say(text, language)
        assert speaker.wait(20) == 0
        assert wav.read_bytes()[:4] == b"RIFF" and wav.stat().st_size > 8000


def test_peripherals_are_recognised_from_udev_properties() -> None:
    scanner = classify("input", "event5", {"ID_INPUT_KEYBOARD": "1", "ID_BUS": "usb",
                                           "ID_MODEL": "Barcode_Scanner", "DEVNAME": "/dev/input/event5"})
    assert scanner is not None and scanner.kind is PeripheralKind.SCANNER
    assert scanner.name == "Barcode Scanner"
    printer = classify("usbmisc", "lp0", {"DEVNAME": "/dev/usb/lp0", "ID_MODEL": "TM-T88"})
    assert printer is not None and printer.kind is PeripheralKind.PRINTER
    assert classify("input", "event0", {"ID_INPUT_KEYBOARD": "1", "ID_BUS": "i8042"}) is None
    assert isinstance(UdevPeripherals().list(), list)  # real pyudev, whatever this machine has


def _burst(det: ScanDetector, text: str, start: float, gap: float = 0.008,
           stall_after: int | None = None, stall: float = 0.0) -> float:
    """Type ``text`` into the detector as a scanner would, optionally pausing after key ``stall_after``."""
    t = start
    for i, ch in enumerate(text):
        t += gap + (stall if stall_after is not None and i == stall_after + 1 else 0.0)
        det.char(ch, t)
    return t + gap


def test_scan_detection_and_parsing() -> None:
    det = ScanDetector()
    end = _burst(det, "GA20261101", 100.0)
    assert det.enter(end) == Burst(BurstKind.SCAN, "GA20261101")
    t = end + 5
    for ch in "1234":
        t += 0.4
        det.char(ch, t)
    assert det.enter(t + 0.4) is None  # a person typing
    t += 5
    for ch in "1234":
        t += 0.4
        det.char(ch, t)
    assert det.enter(t + 0.01) is None  # a person typing, then a quick Enter: too short for a scan
    assert case_number_from_scan("CASE:ga-2026-0001") == "GA-2026-0001"
    assert case_number_from_scan("https://x.example/cases/GA20261101") == "GA20261101"
    assert case_number_from_scan("<script>") is None
    assert case_number_from_scan("522703") is None  # digits alone are the tail of a number, never one
    gesture = HiddenGesture()
    assert [gesture.tap(T0 + dt.timedelta(seconds=0.3 * i)) for i in range(5)] == [False] * 4 + [True]


@pytest.mark.parametrize("stall_after", [0, 1, 5, 11, 16])
def test_a_stalled_burst_is_read_whole_never_as_its_tail(stall_after: int) -> None:
    """The GUI thread stalls 300 ms mid-burst (repaint, video, GC): the fragment after it is never a scan."""
    number = "GA-20261203-522703"
    det = ScanDetector()
    end = _burst(det, number, 50.0, stall_after=stall_after, stall=0.300)
    burst = det.enter(end)
    assert burst == Burst(BurstKind.BROKEN, number)
    assert parse_scan(burst.text) == ScannedCode(ScanKind.CASE, number)


def test_keys_typed_just_before_a_scan_make_it_unreadable_not_a_different_number() -> None:
    det = ScanDetector()
    det.char("7", 10.0)  # a resident pressed a key, then scanned within the second
    end = _burst(det, "GA-20261203-522703", 10.5)
    burst = det.enter(end)
    assert burst is not None and burst.kind is BurstKind.BROKEN and burst.text == "7GA-20261203-522703"
    assert parse_scan(burst.text) is None  # "please scan again", not a look-up of another number
    det.char("7", 20.0)  # ...or long before: the scan stands on its own
    end = _burst(det, "GA-20261203-522703", 25.0)
    assert det.enter(end) == Burst(BurstKind.SCAN, "GA-20261203-522703")


def test_scanned_order_links_and_references() -> None:
    assert parse_scan("ORDER:k7q-4m2") == ScannedCode(ScanKind.ORDER, "K7Q-4M2")
    assert parse_scan("https://pay.example/orders/K7Q4M2") == ScannedCode(ScanKind.ORDER, "K7Q-4M2")
    assert parse_scan("https://pay.example/orders/K7Q-4M0") is None  # 0 is not in the alphabet
    assert parse_scan("CASE:GA-20261203-522703") == ScannedCode(ScanKind.CASE, "GA-20261203-522703")


def test_payment_qr_uses_high_error_correction() -> None:
    import qrcode.constants

    payload = "https://community.example/pay/abcdef123456"
    high = qr_matrix(payload)
    low = qr_matrix(payload, qrcode.constants.ERROR_CORRECT_L)
    assert len(high) > len(low)  # H needs a bigger symbol for the same data
    try:
        from PIL import Image
        from pyzbar.pyzbar import decode
    except ImportError:  # pragma: no cover - pyzbar is a test dependency
        pytest.skip("pyzbar missing")
    scale = 8
    img = Image.new("L", (len(high) * scale, len(high) * scale), 255)
    for y, row in enumerate(high):
        for x, dark in enumerate(row):
            if dark:
                img.paste(0, (x * scale, y * scale, (x + 1) * scale, (y + 1) * scale))
    assert decode(img)[0].data.decode() == payload
