"""The whole player with no server: a USB bundle goes live, operating hours run the backlight commands."""

from __future__ import annotations

import base64
import datetime as dt
import io
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pytestqt.qtbot import QtBot

from content_server.signage.services.bundles import sign_index  # the server's signer: the real pair
from schedules.clock import MovableClock
from schedules.model import ItemKind
from schedules.protocol.bundle import INDEX_NAME, SIGNATURE_NAME, BundleIndex, asset_name
from signage_player.app import build_player
from signage_player.config import PlayerSettings
from signage_player.identity import DeviceIdentity
from signage_player.media import FakeMediaBackend
from tests.signage_player.manifests import T0, asset_item, manifest, office_hours


def _signed_bundle(path: Path, key: Ed25519PrivateKey, media: Path) -> Path:
    item, ref = asset_item("usb-img", ItemKind.IMAGE, media)
    m = manifest([(item, ref)], hours=office_hours(), version="usb-7")
    index = BundleIndex(group="g", created_at=T0, manifests=(m,)).model_dump_json().encode()
    with tarfile.open(path, "w") as tar:
        for name, blob in ((INDEX_NAME, index), (SIGNATURE_NAME, sign_index(index, key)),
                           (asset_name(ref.sha256), media.read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_usb_bundle_goes_live_offline_and_hours_switch_the_backlight(
    qtbot: QtBot, media_dir: Path, tmp_path: Path
) -> None:
    server_key = Ed25519PrivateKey.generate()
    raw = server_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    data = tmp_path / "data"
    DeviceIdentity(Ed25519PrivateKey.generate(), "s1", "key", base64.b64encode(raw).decode()).save(data)
    marker = tmp_path / "backlight-off"
    settings = PlayerSettings(
        server_url="http://127.0.0.1:9", data_dir=data, window=True, width=480, height=270, usb=False,
        poll_interval_s=3600, heartbeat_interval_s=3600, plays_interval_s=3600,
        backlight_off_cmd=f"touch {marker}",
    )
    clock = MovableClock(T0)  # 10:00 in Shanghai: within office hours
    player = build_player(settings, FakeMediaBackend(), clock)
    syncer, loop = player.playback.syncer, player.playback.loop
    try:
        player.start()
        # a tampered copy is refused and reported, nothing changes
        bad = _signed_bundle(tmp_path / "bad.tar", Ed25519PrivateKey.generate(), media_dir / "small.jpg")
        with qtbot.waitSignal(player.usb.refused, timeout=20_000):
            player.usb.import_path(bad)
        assert syncer.live is None and any("refused" in e for e in syncer.status.errors)
        good = _signed_bundle(tmp_path / "good.tar", server_key, media_dir / "small.jpg")
        player.usb.import_path(good)
        assert syncer.live is not None and syncer.live.version == "usb-7"
        qtbot.waitUntil(
            lambda: loop.current is not None and loop.current.item.id == "usb-img",
            timeout=20_000,
        )
        clock.set(T0 + dt.timedelta(hours=13))  # 23:00 local: off
        loop.step()
        assert player.playback.view.off
        qtbot.waitUntil(marker.exists, timeout=20_000)
    finally:
        player.shutdown()
