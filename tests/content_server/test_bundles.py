"""Signed offline bundles: export by group, verify with the server key from pairing, reject tampering."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from schedules.protocol import bundle as bf
from signage_player.bundle_reader import copy_asset, open_bundle  # what the player runs
from tests.fixtures.server import AppClient, pair_device


def test_bundle_verifies_and_tampering_is_detected(
    app_client: AppClient, media_dir: Path, tmp_path: Path
) -> None:
    c = app_client
    op = c.auth(c.operator)
    dev = pair_device(c, screen_class="indoor_small", groups=["offline-east"])
    pair_device(c, screen_class="indoor_small", groups=["elsewhere"])
    img = c.post(
        "/api/v1/media?filename=s.jpg", content=(media_dir / "small.jpg").read_bytes(), headers=op
    ).json()
    r = c.post(
        "/api/v1/announcements",
        headers=op,
        json={"title": "t", "media_ids": [img["id"]], "targeting": {"groups": ["offline-east"]}},
    )
    assert r.status_code == 201
    r = c.get("/api/v1/bundles?group=offline-east", headers=op)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-tar"
    path = tmp_path / "b.tar"
    path.write_bytes(r.content)
    index, assets = open_bundle(path, dev.server_public_key)
    assert [m.screen.id for m in index.manifests] == [dev.device_id]
    assert set(assets) == {img["sha256"]}
    out = io.BytesIO()
    copy_asset(path, assets[img["sha256"]], out, img["sha256"])
    assert hashlib.sha256(out.getvalue()).hexdigest() == img["sha256"]  # the rebuilt picture, as stored
    assert out.getvalue() == c.get(img["content_url"], headers=op).content

    # altering the index breaks the signature
    forged = tmp_path / "forged.tar"
    with tarfile.open(path) as src, tarfile.open(forged, "w:") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()  # type: ignore[union-attr]
            if m.name == bf.INDEX_NAME:
                data = data.replace(b"offline-east", b"offline-west")
                m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    with pytest.raises(bf.BundleError, match="signature"):
        open_bundle(forged, dev.server_public_key)
    # a different server's key does not verify it either
    other = pair_device(c).server_public_key
    assert other == dev.server_public_key  # same server, same key
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = base64.b64encode(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    ).decode()
    with pytest.raises(bf.BundleError):
        open_bundle(path, stranger)
    assert c.get("/api/v1/bundles?group=nobody", headers=op).status_code == 404
