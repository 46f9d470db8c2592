"""The device's TUF client against a real loopback HTTP server: releases arrive verified, attacks fail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests

from content_server.updates import keys as keyfiles
from content_server.updates import metadata as md
from schedules.protocol.release import running_platform
from signage_player.updater.fetch import FetchError, HttpFetcher, ReleaseFetcher, ReleaseNotSigned, Source
from tests.fixtures.update_attacks import ATTACKS, AttackBed, run_attack
from tests.fixtures.updates import DEVICE_KEY, RepoServer, UpdateRepo


def _source(server: RepoServer, key: str = DEVICE_KEY) -> Source:
    return Source.server(server.url, HttpFetcher(requests.Session(), {"Authorization": f"Bearer {key}"}))


@pytest.fixture
def bed(update_repo: UpdateRepo, repo_server: RepoServer, tmp_path: Path) -> AttackBed:
    return AttackBed(update_repo, _source(repo_server), tmp_path / "devices")


def test_a_wheel_that_did_not_change_is_downloaded_once(bed: AttackBed, repo_server: RepoServer) -> None:
    bed.publish("1.0.0")
    device = bed.device()
    first = bed.fetch(device, "1.0.0")
    assert sorted(first.downloaded) == [
        "community_signage-1.0.0-py3-none-any.whl",
        "shared_dep-1.0-py3-none-any.whl",
    ]
    assert all(
        p.read_bytes() == (bed.release("1.0.0") / "wheels" / n).read_bytes() for n, p in first.wheels.items()
    )
    bed.publish("1.1.0")
    repo_server.requests.clear()
    second = bed.fetch(device, "1.1.0")
    assert second.downloaded == ("community_signage-1.1.0-py3-none-any.whl",)
    assert not [r for r in repo_server.requests if "shared_dep" in r]
    # hash-prefixed target names and versioned metadata (consistent snapshots)
    assert any(
        r.startswith("/api/v1/updates/targets/wheels/") and len(r.split("/")[-1].split(".")[0]) == 64
        for r in repo_server.requests
    )
    assert "/api/v1/updates/metadata/2.root.json" in repo_server.requests  # the probe for a newer root: 404
    assert bed.fetch(device, "1.1.0").downloaded == ()  # a new Updater per cycle, nothing to fetch again


def test_unsigned_version_wrong_key_and_server_down_are_errors_not_installs(
    bed: AttackBed, repo_server: RepoServer
) -> None:
    bed.publish("1.0.0")
    device = bed.device()
    with pytest.raises(ReleaseNotSigned):
        bed.fetch(device, "9.9.9")
    with pytest.raises(FetchError) as info:
        device.fetch(_source(repo_server, key="stolen?"), "1.0.0", running_platform())
    assert not info.value.refused and "401" in str(info.value)
    repo_server.stop()
    with pytest.raises(FetchError) as info:
        bed.fetch(device, "1.0.0")
    assert not info.value.refused
    assert not list(Path(device.wheels_dir).glob("*.whl"))


EXPECTED_ERRORS = {
    "tampered_target": "LengthOrHashMismatchError",
    "rollback": "BadVersionNumberError",
    "rollback_with_online_keys": "BadVersionNumberError",
    "freeze": "ExpiredMetadataError",
    "mix_and_match": "LengthOrHashMismatchError",
    "oversized_target": "DownloadLengthMismatchError",
    "oversized_timestamp": "DownloadLengthMismatchError",
    "rogue_targets": "UnsignedMetadataError",
    "rogue_root": "UnsignedMetadataError",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_refused(attack: str, bed: AttackBed) -> None:
    result = run_attack(attack, bed)
    assert result.refused, result
    assert result.error == EXPECTED_ERRORS[attack]
    legit = {
        p.name: p.read_bytes()
        for v, d in bed.releases.items()
        if v != "6.6.6"
        for p in (d / "wheels").iterdir()
    }
    for device_dir in bed.devices_dir.iterdir():  # nothing unverified reached any device's cache
        for wheel in (device_dir / "wheels").iterdir():
            assert legit.get(wheel.name) == wheel.read_bytes(), wheel.name


def test_a_frozen_server_is_noticed_once_its_timestamp_expires(tmp_path: Path) -> None:
    """The server stopped re-signing two days ago: its last timestamp has run out."""
    ur = UpdateRepo.create(tmp_path, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2))
    ur.publish(
        ur.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}),
        now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
    )
    server = RepoServer(ur.repo).start()
    try:
        device = ReleaseFetcher(
            tmp_path / "d" / "tuf", tmp_path / "d" / "w", tmp_path / "d" / "r", ur.root_bytes()
        )
        with pytest.raises(FetchError) as info:
            device.fetch(_source(server), "1.0.0", running_platform())
        assert info.value.refused and type(info.value.__cause__).__name__ == "ExpiredMetadataError"
        ur.repo.refresh(dt.datetime.now(dt.UTC))  # the server is back and signs again
        assert device.fetch(_source(server), "1.0.0", running_platform()).index.version == "1.0.0"
    finally:
        server.stop()


def test_a_root_rotated_by_the_key_holders_is_followed(bed: AttackBed) -> None:
    bed.publish("1.0.0")
    device = bed.device()
    bed.fetch(device, "1.0.0")
    repo = bed.ur.repo
    new_root_key = keyfiles.generate()
    v2 = md.rotated_root(
        repo.root(), dt.datetime.now(dt.UTC), repo.lifetimes.root, root=[new_root_key.public_key]
    )
    md.sign(v2, [bed.ur.root_key, new_root_key])
    repo.install_root(v2.to_bytes(), dt.datetime.now(dt.UTC))
    bed.publish("1.1.0")
    assert bed.fetch(device, "1.1.0").index.version == "1.1.0"
    assert (Path(device.metadata_dir) / "root_history" / "2.root.json").exists()


def test_usb_stick_carries_the_same_signed_release(bed: AttackBed, tmp_path: Path) -> None:
    bed.publish("1.0.0")
    online = bed.device()
    bed.fetch(online, "1.0.0")
    stick = bed.ur.repo.export_usb(tmp_path / "stick", "1.0.0", running_platform(), dt.datetime.now(dt.UTC))
    offline = bed.device()
    got = offline.fetch(Source.directory(stick), "1.0.0", running_platform())
    assert sorted(got.downloaded) == sorted(got.wheels)
    # the server moved past the stick's versions: an online device still updates normally
    bed.publish("1.1.0")
    assert bed.fetch(online, "1.1.0").index.version == "1.1.0"
    # the stick's long-lived timestamp is older than what the online device trusts now: refused
    with pytest.raises(FetchError) as info:
        online.fetch(Source.directory(stick), "1.0.0", running_platform())
    assert info.value.refused
    # a tampered file on a stick is refused like one from the server
    wheel = next((stick / "targets" / "wheels").glob("*community_signage*"))
    wheel.write_bytes(wheel.read_bytes()[:-1] + b"!")
    with pytest.raises(FetchError) as info:
        bed.device().fetch(Source.directory(stick), "1.0.0", running_platform())
    assert info.value.refused
