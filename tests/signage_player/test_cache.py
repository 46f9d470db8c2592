"""Cache and sync planning: verify before use, corrupt files dropped, LRU eviction within the budget."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from schedules.protocol.device import AssetRef
from signage_player.cache import AssetCache, VerificationFailed
from signage_player.syncplan import CachedAsset, plan_eviction, plan_sync
from tests.signage_player.manifests import manifest, text_item


def _ref(data: bytes) -> AssetRef:
    digest = hashlib.sha256(data).hexdigest()
    return AssetRef(sha256=digest, size=len(data), media_type="image/png", url=f"/a/{digest}")


def _writer(data: bytes, cut: int | None = None) -> Callable[[Path], int]:
    def download(part: Path) -> int:
        have = part.stat().st_size if part.exists() else 0
        with open(part, "ab") as fh:
            fh.write(data[have:cut])
        return part.stat().st_size

    return download


def test_fetch_verifies_and_resumes(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, budget_bytes=10_000_000)
    data = os.urandom(200_000)
    ref = _ref(data)
    # a first attempt stops half-way: nothing playable, the partial file stays for resuming
    with pytest.raises(VerificationFailed):
        cache.fetch(ref, _writer(data, cut=100_000))
    assert cache.path_if_valid(ref.sha256) is None
    part = tmp_path / "partial" / f"{ref.sha256}.part"
    assert not part.exists()  # bytes that did not verify are never resumed from
    part.write_bytes(data[:100_000])  # as a killed download leaves it
    path = cache.fetch(ref, _writer(data))
    assert path.read_bytes() == data and cache.path_if_valid(ref.sha256) == path


def test_corrupt_cached_file_is_detected_and_removed(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, budget_bytes=10_000_000)
    data = os.urandom(50_000)
    ref = _ref(data)
    path = cache.fetch(ref, _writer(data))
    with open(path, "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00" * 16)
    assert cache.path_if_valid(ref.sha256) is None
    assert not path.exists()
    assert ref.sha256 not in cache.verified()
    # and a restart re-hashes everything
    cache.fetch(ref, _writer(data))
    path.write_bytes(b"x" + data[1:])
    assert AssetCache(tmp_path, 10_000_000).verify_all() == [ref.sha256]


def test_eviction_keeps_referenced_and_drops_least_recently_used(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, budget_bytes=250_000)
    blobs = [os.urandom(100_000) for _ in range(3)]
    refs = [_ref(b) for b in blobs]
    for i, (ref, blob) in enumerate(zip(refs, blobs, strict=True)):
        cache.fetch(ref, _writer(blob))
        os.utime(cache.path(ref.sha256), (1000 + i, 1000 + i))
    cache.touch(refs[0].sha256)  # used just now
    evicted = cache.evict(keep=frozenset({refs[2].sha256}), incoming_bytes=0)
    assert evicted == [refs[1].sha256]
    assert cache.path_if_valid(refs[0].sha256) and cache.path_if_valid(refs[2].sha256)
    assert cache.usage_bytes() <= 250_000


def test_eviction_never_removes_what_plays_even_over_budget() -> None:
    cached = [CachedAsset("a" * 64, 100, 1.0), CachedAsset("b" * 64, 100, 2.0)]
    assert plan_eviction(cached, frozenset({"a" * 64, "b" * 64}), budget_bytes=50) == []
    assert plan_eviction(cached, frozenset({"b" * 64}), budget_bytes=150, incoming_bytes=10) == ["a" * 64]


def test_plan_sync_waits_for_every_asset() -> None:
    a, b = _ref(b"a" * 10), _ref(b"b" * 20)
    m = manifest([(text_item("t", "文字"), None)]).model_copy(update={"assets": (b, a, a)})
    plan = plan_sync(m, verified=set())
    assert [r.sha256 for r in plan.missing] == [a.sha256, b.sha256] and not plan.ready
    assert plan.missing_bytes == 30
    assert plan_sync(m, verified={a.sha256, b.sha256}).ready


def test_verified_stamps_survive_a_restart_but_not_a_change(tmp_path: Path) -> None:
    cache = AssetCache(tmp_path, budget_bytes=10_000_000)
    data = os.urandom(10_000)
    ref = _ref(data)
    path = cache.fetch(ref, _writer(data))
    cache.save_stamps()
    again = AssetCache(tmp_path, 10_000_000)
    assert again._stamps.get(ref.sha256) is not None  # trusted without re-hashing
    path.write_bytes(data[:-1] + b"!")
    assert AssetCache(tmp_path, 10_000_000).path_if_valid(ref.sha256) is None
