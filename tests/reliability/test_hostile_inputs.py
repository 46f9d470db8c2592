"""Bad input: a corpus of hostile uploads, hostile bundles and hostile requests against a live server.

Every hostile upload is refused with a clear 4xx and a reason, nothing is stored (the media
list and every file under the store stay as they were, no temp file left), and the server's
peak memory (VmHWM of the real process) stays bounded. Hostile bundles are refused by the
player's importer with nothing entering its cache. Hostile requests (oversized and deeply
nested JSON, invalid UTF-8, SQL and path injection strings, replayed tokens) get a 4xx or,
for injection strings in a search, an empty answer; never a 5xx, never another tenant's data.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from signage_player.cache import AssetCache
from signage_player.usb import BundleRefused, import_bundle
from tests.fixtures.server import LiveServer, free_port, pair_device
from tests.signage_player.test_usb import _bundle, _pub

MB = 1024 * 1024
RSS_BOUND_MB = 200  # peak growth over the whole corpus; one decoded 60000x60000 bomb would be 10 GB


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_header(width: int, height: int, idat: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_bomb(side: int) -> bytes:
    """A complete, valid PNG of side x side black pixels: tiny on disk, side^2 bytes decoded."""
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    parts = [comp.compress(row) for _ in range(side)]
    return png_header(side, side, b"".join(parts) + comp.flush())


def _patch_mp4_durations(data: bytes, duration: int) -> bytes:
    """Declare ``duration`` (in each box's timescale) in mvhd, tkhd and mdhd (version 0 boxes)."""
    out = bytearray(data)
    for box, offset in ((b"mvhd", 16), (b"mdhd", 16), (b"tkhd", 20)):
        start = 0
        while (i := out.find(box, start)) != -1:
            if out[i + 4] == 0:  # version 0: 32-bit fields
                out[i + 4 + offset : i + 8 + offset] = struct.pack(">I", duration)
            start = i + 4
    return bytes(out)


def _jpeg_with_size(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def hostile_corpus(media_dir: Path) -> dict[str, bytes]:
    """Name (with the extension an attacker would give it) -> bytes; at least 25 files."""
    clip = (media_dir / "clip.mp4").read_bytes()
    small_png = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(small_png, "PNG")
    png = small_png.getvalue()
    gif_bomb = bytearray(b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\xf7\x00\x00" + b"\x00" * 768)
    gif_bomb += b"\x2c" + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\x00\x08" + b"\x02\x4c\x01\x00\x3b"
    zip_buf = io.BytesIO()
    with zipfile.ZipFile(zip_buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\x00" * (50 * MB))
    elf = Path("/bin/true").read_bytes()[:65536]
    return {
        "zero-bytes.png": b"",
        "zero-bytes.mp4": b"",
        "header-60000x60000.png": (media_dir / "bomb.png").read_bytes(),
        "decompression-bomb-10000x10000.png": png_bomb(10_000),
        "png-corrupt-idat.png": png[:40] + b"\x00" * 16 + png[56:],
        "png-truncated.png": png[: len(png) // 2],
        "png-bad-crc.png": png_header(100, 100, b"\x78\x9c" + b"\x00" * 20)[:-4] + b"BAD!",
        "jpeg-65000x65000.jpg": _jpeg_with_size(65000, 65000),
        "jpeg-header-only.jpg": b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + b"\x00" * 30,
        "gif-65535x65535.gif": bytes(gif_bomb),
        "truncated.mp4": (media_dir / "truncated.mp4").read_bytes(),
        "mp4-ftyp-only.mp4": clip[: int.from_bytes(clip[:4], "big")],
        "mp4-box-larger-than-file.mp4": clip[:32] + struct.pack(">I", 0xFFFFFFF0) + b"moov" + b"\x00" * 64,
        "random-bytes.mp4": bytes((i * 7919 + 13) % 251 for i in range(256 * 1024)),
        "svg-with-script.svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "svg-named-png.png": b'<?xml version="1.0"?>'
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "html-named-jpg.jpg": b"<!doctype html><script>fetch('/api/v1/users')</script>",
        "polyglot-gif-js.gif": b"GIF89a/*\x0a\x00\x0a\x00\x00\x00\x00*/=1;alert(document.cookie);//",
        "polyglot-png-html.png": png[:33] + b"<html><script>alert(1)</script></html>",
        "polyglot-jpeg-html.jpg": b"\xff\xd8\xff\xe0<html><body onload=alert(1)>" + b"\x00" * 100,
        "pdf-named-png.png": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
        "elf-named-mp4.mp4": elf,
        "windows-exe-named-jpg.jpg": b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 200,
        "zip-bomb-named-mp4.mp4": zip_buf.getvalue(),
        "gzip-bomb-named-png.png": gzip.compress(b"\x00" * (50 * MB)),
        "hls-playlist-reading-local-file.mp4": (
            b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:10.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
        ),
        "ffconcat-reading-local-file.mp4": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        "mp4-ftyp-then-hls.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
        + b"#EXTM3U\nfile:///etc/shadow\n",
        "webm-magic-only.webm": b"\x1a\x45\xdf\xa3" + b"\x00" * 100,
    }


def _store_snapshot(server: LiveServer) -> list[str]:
    root = server.data_dir / "media"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _rss_kb(server: LiveServer, field: str) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = LiveServer(data_dir=tmp_path_factory.mktemp("hostile"), port=free_port())
    srv.create_operator()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_hostile_uploads_are_refused_and_nothing_is_stored(server: LiveServer, media_dir: Path) -> None:
    corpus = hostile_corpus(media_dir)
    assert len(corpus) >= 25
    shop = server.auth(server.create_user("hostile-shop", "advertiser"))
    before_store = _store_snapshot(server)
    hwm_before = _rss_kb(server, "VmHWM")
    refused: dict[str, tuple[int, str]] = {}
    with httpx.Client(base_url=server.api, headers=shop, timeout=120) as client:
        for name, data in corpus.items():
            r = client.post("/media", params={"filename": name}, content=data)
            detail = (
                r.json().get("detail", "")
                if r.headers.get("content-type", "").startswith("application/json")
                else ""
            )
            refused[name] = (r.status_code, str(detail))
        listed = client.get("/media").json()
    accepted = {n: v for n, v in refused.items() if not 400 <= v[0] < 500 or not v[1]}
    assert accepted == {}, f"not refused with a clear 4xx: {accepted}"
    assert listed == []
    assert _store_snapshot(server) == before_store  # nothing committed, no temp file left behind
    growth_mb = (_rss_kb(server, "VmHWM") - hwm_before) / 1024
    assert growth_mb < RSS_BOUND_MB, f"peak RSS grew {growth_mb:.0f} MB"
    # the reasons are the ones a person can act on
    assert "empty" in refused["zero-bytes.png"][1]
    assert "bomb" in refused["header-60000x60000.png"][1]
    assert "bomb" in refused["decompression-bomb-10000x10000.png"][1]
    assert "unsupported" in refused["svg-with-script.svg"][1].lower()


def test_huge_declared_duration_never_reaches_the_schedule(server: LiveServer, media_dir: Path) -> None:
    """mvhd/tkhd/mdhd declare 49 days; the samples last 3 s. Refused, or stored with the real 3 s.

    Today the server stores it (ffprobe's stream duration is 3 s while the container says
    4,294,967 s): it never schedules 49 days, which is what matters to the screen.
    """
    data = _patch_mp4_durations((media_dir / "clip.mp4").read_bytes(), 0xFFFFFFF0)
    shop = server.auth(server.create_user("duration-shop", "advertiser"))
    r = httpx.post(
        server.api + "/media", params={"filename": "long.mp4"}, content=data, headers=shop, timeout=60
    )
    if r.status_code == 201:
        assert 0 < r.json()["duration_s"] <= 3.5, r.json()
    else:
        # the refusal names what the file claims and what it really holds
        detail = r.json()["detail"]
        assert r.status_code == 422 and "4294967" in detail and "3.0 s" in detail, r.text


def _hostile_bundles(tmp: Path, key: Ed25519PrivateKey, media: Path) -> dict[str, Path]:
    good = _bundle(tmp / "good.tar", key, media)
    raw = good.read_bytes()
    made: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        p = tmp / name
        p.write_bytes(data)
        made[name] = p

    put("tampered-asset.tar", _bundle(tmp / "t.tar", key, media, tamper=True).read_bytes())
    foreign = Ed25519PrivateKey.generate()
    put("signed-by-another-key.tar", _bundle(tmp / "f.tar", foreign, media).read_bytes())
    # index edited after signing: the signature no longer matches
    idx = raw.find(b'"group":"lobby"')
    put("index-edited-after-signing.tar", raw[:idx] + b'"group":"lobbz"' + raw[idx + 15 :])
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(4):
            z.writestr(f"bomb{i}.bin", b"\x00" * (25 * MB))
    put("zip-bomb.signage-bundle", zbuf.getvalue())
    put("gzip-tar-bomb.tar", gzip.compress(raw + b"\x00" * (50 * MB)))
    for name, member_name, kind in (
        ("path-traversal.tar", "../../../../tmp/evil", tarfile.REGTYPE),
        ("symlink-member.tar", "assets/" + "a" * 64, tarfile.SYMTYPE),
        ("device-member.tar", "index.json", tarfile.CHRTYPE),
    ):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(member_name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/shadow"
            tar.addfile(info, io.BytesIO(b"") if kind == tarfile.REGTYPE else None)
        put(name, buf.getvalue())
    # a member declaring 8 GB: the header alone must not make the importer read or allocate it
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("index.json")
        info.size = 8 * 1024 * MB
        tar.addfile(info)
    put("huge-declared-index.tar", buf.getvalue() + b"\x00" * 1024)
    put("truncated.tar", raw[: len(raw) // 2])
    put("empty.tar", b"")
    return made


def test_hostile_bundles_are_refused_and_nothing_is_imported(tmp_path: Path, media_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    bundles = _hostile_bundles(tmp_path, key, media_dir / "landscape.png")
    assert len(bundles) >= 10
    cache = AssetCache(tmp_path / "cache", 10**9)
    for name, path in bundles.items():
        with pytest.raises(BundleRefused):
            import_bundle(path, _pub(key), "s1", cache)
        assert list(cache.assets_dir.iterdir()) == [], name
        assert not Path("/tmp/evil").exists()


def _send(server: LiveServer, method: str, path: str, **kw: object) -> httpx.Response:
    return httpx.request(method, server.api + path, timeout=60, **kw)  # type: ignore[arg-type]


INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE media; --",
    '" OR ""="',
    "admin'--",
    "%' UNION SELECT password_hash FROM users --",
    "../../../../etc/passwd",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%00",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
]


def test_hostile_requests_get_clear_4xx(server: LiveServer) -> None:
    op = server.auth(server.operator)
    dev = pair_device(server)
    shop = server.create_user("req-shop", "advertiser")
    shop_h = server.auth(shop)
    token = server.token(shop)  # before the injection log-ins trip the per-IP lockout
    hwm_before = _rss_kb(server, "VmHWM")
    results: dict[str, int] = {}

    def check(
        label: str, r: httpx.Response, allowed: Callable[[int], bool] = lambda c: 400 <= c < 500
    ) -> None:
        results[label] = r.status_code
        assert allowed(r.status_code), (label, r.status_code, r.text[:300])

    # oversized JSON bodies
    big = json.dumps({"username": "x" * (20 * MB), "password": "y"})
    check(
        "oversized login",
        _send(server, "POST", "/auth/token", content=big, headers={"Content-Type": "application/json"}),
    )
    many = json.dumps({"records": [{"id": "x"}] * 400_000})
    check(
        "oversized play batch",
        _send(
            server,
            "POST",
            "/device/plays",
            content=many,
            headers={**dev.headers, "Content-Type": "application/json"},
        ),
    )
    # deep nesting
    for depth in (1_000, 100_000):
        deep = '{"records": ' + "[" * depth + "]" * depth + "}"
        check(
            f"nested {depth}",
            _send(
                server,
                "POST",
                "/device/plays",
                content=deep,
                headers={**dev.headers, "Content-Type": "application/json"},
            ),
        )
    # invalid UTF-8 and not-JSON
    check(
        "invalid utf-8 body",
        _send(
            server,
            "POST",
            "/auth/token",
            content=b'{"username": "\xff\xfe", "password": "a"}',
            headers={"Content-Type": "application/json"},
        ),
    )
    check("invalid utf-8 path", httpx.get(server.api + "/media/%ff%fe%fd", headers=op))
    check(
        "invalid utf-8 query",
        httpx.get(server.api + "/reports/plays?screen_id=%ff%fe", headers=op),
        lambda c: c in (200, 400, 422),
    )
    check(
        "not json",
        _send(
            server,
            "POST",
            "/device/heartbeat",
            content=b"\x00\x01garbage",
            headers={**dev.headers, "Content-Type": "application/json"},
        ),
    )
    # SQL and path injection: refused or an empty answer, never a 5xx or someone else's data
    for i, s in enumerate(INJECTIONS):
        check(
            f"login injection {i}",
            _send(server, "POST", "/auth/token", json={"username": s, "password": s}),
            lambda c: c in (401, 422, 429),
        )
        r = httpx.get(
            server.api + "/reports/plays", params={"screen_id": s, "campaign_id": s}, headers=shop_h
        )
        check(f"report injection {i}", r, lambda c: c in (404, 422))
        r = httpx.get(server.api + "/reports/plays", params={"screen_id": s}, headers=op)
        check(f"report screen injection {i}", r, lambda c: c in (200, 422))
        if r.status_code == 200:
            assert r.json() == []
        check(
            f"media id injection {i}", httpx.get(server.api + "/media/" + s.replace("/", "%2F"), headers=op)
        )
        check(
            f"asset injection {i}",
            httpx.get(server.api + "/assets/" + s.replace("/", "%2F"), headers=dev.headers),
        )
    assert (
        "root:" not in httpx.get(server.api + "/assets/..%2F..%2F..%2Fetc%2Fpasswd", headers=dev.headers).text
    )

    # replayed credentials
    assert httpx.get(server.api + "/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert (
        httpx.post(server.api + "/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code
        == 204
    )
    check(
        "token after logout", httpx.get(server.api + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    )
    key = Ed25519PrivateKey.generate()
    started = httpx.post(
        server.api + "/devices/pairing",
        json={"device_kind": "player", "player_version": "t", "public_key": _pub(key)},
    ).json()
    claim = {
        "code": started["code"],
        "name": "replay",
        "screen_class": "indoor_small",
        "orientation": "landscape",
        "width": 1920,
        "height": 1080,
        "groups": [],
        "tags": [],
        "timezone": "Asia/Shanghai",
    }
    assert httpx.post(server.api + "/screens/claim", json=claim, headers=op).status_code == 201
    first = httpx.post(
        server.api + f"/devices/pairing/{started['pairing_id']}/poll",
        json={"poll_secret": started["poll_secret"]},
    ).json()
    assert first["device_key"]
    replay = httpx.post(
        server.api + f"/devices/pairing/{started['pairing_id']}/poll",
        json={"poll_secret": started["poll_secret"]},
    )
    results["pairing poll replay"] = replay.status_code
    assert replay.status_code >= 400 or not replay.json().get("device_key"), replay.text  # handed out once
    check("claim replay", httpx.post(server.api + "/screens/claim", json=claim, headers=op))
    check(
        "wrong poll secret",
        httpx.post(
            server.api + f"/devices/pairing/{started['pairing_id']}/poll", json={"poll_secret": "guess"}
        ),
    )

    assert server.proc is not None and server.proc.poll() is None
    growth_mb = (_rss_kb(server, "VmHWM") - hwm_before) / 1024
    assert growth_mb < RSS_BOUND_MB, f"peak RSS grew {growth_mb:.0f} MB: {results}"


def test_an_upload_over_the_limit_streams_in_bounded_memory_and_stores_nothing(
    live_server: LiveServer,
) -> None:
    """600 MiB against the 512 MiB limit: read chunk by chunk, refused at the limit, never held in RAM.

    Its own server: this module's shared one has locked out its address by now (replayed logins).
    """
    server = live_server
    shop = server.auth(server.create_user("huge-shop", "advertiser"))
    before_store = _store_snapshot(server)
    hwm_before = _rss_kb(server, "VmHWM")
    chunk = os.urandom(1 << 20)
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(600):
            sent += len(chunk)
            yield chunk

    try:
        r = httpx.post(server.api + "/media", params={"filename": "huge.mp4"}, content=body(), headers=shop,
                       timeout=300)
        assert r.status_code == 413 and "limit" in r.json()["detail"], r.text
    except httpx.HTTPError:
        pass  # the server may close the connection at the limit while we are still sending
    assert sent > 512 << 20  # the server read past what would fit in a small buffer
    growth_mb = (_rss_kb(server, "VmHWM") - hwm_before) / 1024
    assert growth_mb < 64, f"peak RSS grew {growth_mb:.0f} MB for a 600 MB upload"
    assert _store_snapshot(server) == before_store  # the partial file is gone
    assert httpx.get(server.api + "/media", headers=shop).json() == []
