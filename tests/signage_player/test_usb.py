"""USB import: signed bundles verified and imported; unsigned or tampered ones refused; both watchers."""

from __future__ import annotations

import base64
import io
import tarfile
from pathlib import Path

import pytest
import pyudev
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from content_server.signage.services.bundles import sign_index  # the server's signer: the real pair
from schedules.model import ItemKind
from schedules.protocol.bundle import INDEX_NAME, SIGNATURE_NAME, BundleIndex, asset_name
from signage_player.cache import AssetCache
from signage_player.sync import Syncer
from signage_player.usb import BundleRefused, DirectoryWatcher, UdevWatcher, import_bundle
from tests.signage_player.manifests import T0, asset_item, manifest


def _pub(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def _bundle(path: Path, key: Ed25519PrivateKey, media: Path, tamper: bool = False) -> Path:
    item, ref = asset_item("img", ItemKind.IMAGE, media)
    m = manifest([(item, ref)], version="usb-1")
    index = BundleIndex(group="lobby", created_at=T0, manifests=(m,)).model_dump_json().encode()
    data = media.read_bytes()
    if tamper:
        data = data[:-10] + b"0123456789"
    with tarfile.open(path, "w") as tar:
        for name, blob in ((INDEX_NAME, index), (SIGNATURE_NAME, sign_index(index, key)),
                           (asset_name(ref.sha256), data)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return path


def test_signed_bundle_is_imported_and_goes_live(tmp_path: Path, media_dir: Path) -> None:
    key = Ed25519PrivateKey.generate()
    bundle = _bundle(tmp_path / "b.tar", key, media_dir / "landscape.png")
    cache = AssetCache(tmp_path / "cache", 10**9)
    m = import_bundle(bundle, _pub(key), "s1", cache)
    assert all(cache.path_if_valid(a.sha256) for a in m.assets)
    syncer = Syncer(None, cache, tmp_path, lambda: T0)  # offline: no client
    assert syncer.install(m) and syncer.live is not None and syncer.live.version == "usb-1"


@pytest.mark.parametrize("case", ["tampered", "foreign key", "other screen", "not a bundle"])
def test_bad_bundles_are_refused_and_nothing_is_imported(tmp_path: Path, media_dir: Path, case: str) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "b.tar"
    if case == "not a bundle":
        path.write_bytes(b"hello")
    else:
        signer = key if case != "foreign key" else Ed25519PrivateKey.generate()
        _bundle(path, signer, media_dir / "landscape.png", tamper=case == "tampered")
    cache = AssetCache(tmp_path / "cache", 10**9)
    with pytest.raises(BundleRefused):
        import_bundle(path, _pub(key), "other" if case == "other screen" else "s1", cache)
    assert cache.verified() == set()


def test_directory_watcher_reports_a_bundle_once_when_fully_copied(tmp_path: Path, media_dir: Path) -> None:
    seen: list[Path] = []
    w = DirectoryWatcher(tmp_path / "import", seen.append)
    (tmp_path / "import").mkdir()
    assert w.poll_once() == []
    target = tmp_path / "import" / "signage-lobby.tar"
    b = _bundle(target, Ed25519PrivateKey.generate(), media_dir / "small.jpg")
    assert w.poll_once() == []  # first sight: it might still be copying
    assert w.poll_once() == [b]
    assert w.poll_once() == [] and seen == [b]


def test_udev_watcher_finds_bundles_on_the_mounted_stick(tmp_path: Path, media_dir: Path) -> None:
    context = pyudev.Context()
    device = next(iter(context.list_devices(subsystem="block")), None)
    if device is None or device.device_node is None:
        pytest.skip("no block device in sysfs")
    stick = tmp_path / "stick"
    (stick / "signage").mkdir(parents=True)
    b = _bundle(stick / "signage" / "lobby.tar", Ed25519PrivateKey.generate(), media_dir / "small.jpg")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/other /mnt ext4 rw 0 0\n{device.device_node} {stick} vfat rw 0 0\n")
    seen: list[Path] = []
    w = UdevWatcher(seen.append, mounts_file=mounts, mount_wait_s=0)
    assert w.handle_device(device, "remove") == []
    assert w.handle_device(device, "add") == [b] and seen == [b]
    mounts.write_text("")
    assert w.handle_device(device, "add") == []  # not mounted (yet): nothing to read
