"""TUF metadata rules for releases: who must sign what, versions, expiry, immutable file names. Pure."""

from __future__ import annotations

import datetime as dt

import pytest
from tuf.api.metadata import Metadata, Targets

from content_server.updates import keys as keyfiles
from content_server.updates import metadata as md
from content_server.updates.errors import MetadataRejected, ReleaseConflict
from schedules.protocol.release import ReleaseIndex, WheelRef, version_key
from tests.fixtures.updates import role_signers

NOW = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
YEAR = dt.timedelta(days=365)


_keys = role_signers


def _index(version: str, wheels: dict[str, str]) -> tuple[ReleaseIndex, bytes]:
    index = ReleaseIndex(
        package="community-signage",
        version=version,
        platform="cp311-linux_x86_64",
        built_at=NOW,
        wheels=tuple(WheelRef(filename=n, sha256=s, size=10) for n, s in wheels.items()),
    )
    return index, index.model_dump_json().encode()


def test_first_root_must_be_signed_by_its_own_root_key() -> None:
    keys, signers = _keys()
    root = md.new_root(keys, NOW, YEAR)
    with pytest.raises(MetadataRejected, match="not signed by enough root keys"):
        md.check_root(root, None, NOW)
    md.sign(root, [signers["targets"]])  # a key of another role does not count
    with pytest.raises(MetadataRejected, match="not signed by enough root keys"):
        md.check_root(root, None, NOW)
    md.sign(root, [signers["root"]])
    assert md.check_root(root, None, NOW).version == 1
    with pytest.raises(MetadataRejected, match="expired"):
        md.check_root(root, None, NOW + YEAR + dt.timedelta(seconds=1))


def test_root_rotation_needs_the_old_and_the_new_root_keys() -> None:
    keys, signers = _keys()
    v1 = md.new_root(keys, NOW, YEAR)
    md.sign(v1, [signers["root"]])
    new_root_key = keyfiles.generate()
    v2 = md.rotated_root(v1.signed, NOW, YEAR, root=[new_root_key.public_key])
    assert v2.signed.version == 2
    only_new = Metadata.from_bytes(md.sign(v2, [new_root_key]).to_bytes())
    with pytest.raises(MetadataRejected, match=r"old: 0/1, new: 1/1"):
        md.check_root(only_new, v1.signed, NOW)  # a thief of the server cannot rotate root by himself
    only_old = md.rotated_root(v1.signed, NOW, YEAR, root=[new_root_key.public_key])
    md.sign(only_old, [signers["root"]])
    with pytest.raises(MetadataRejected, match=r"old: 1/1, new: 0/1"):
        md.check_root(only_old, v1.signed, NOW)
    md.sign(v2, [signers["root"]])
    assert md.check_root(v2, v1.signed, NOW).version == 2
    with pytest.raises(MetadataRejected, match="expected 2"):
        md.check_root(v1, v1.signed, NOW)  # not sequential


def test_threshold_two_of_three_root_keys() -> None:
    keys, _ = _keys()
    three = [keyfiles.generate() for _ in range(3)]
    keys = md.RoleKeys(
        tuple(k.public_key for k in three), keys.targets, keys.snapshot, keys.timestamp, {"root": 2}
    )
    root = md.new_root(keys, NOW, YEAR)
    md.sign(root, three[:1])
    with pytest.raises(MetadataRejected):
        md.check_root(root, None, NOW)
    md.sign(root, three[2:])
    assert md.check_root(root, None, NOW).roles["root"].threshold == 2


def test_targets_are_accepted_only_from_the_targets_key_at_the_next_version() -> None:
    keys, signers = _keys()
    root = md.new_root(keys, NOW, YEAR).signed
    index, raw = _index("1.0.0", {"a-1.0-py3-none-any.whl": "a" * 64})
    targets = md.with_release(None, index, raw, NOW, dt.timedelta(days=90))
    md.sign(targets, [signers["snapshot"]])  # the server's own online key: a compromised server
    with pytest.raises(MetadataRejected, match="not signed by the targets key"):
        md.check_targets(targets, root, 0, NOW)
    md.sign(targets, [signers["targets"]])
    assert md.check_targets(targets, root, 0, NOW).version == 1
    with pytest.raises(MetadataRejected, match="expected 3"):
        md.check_targets(targets, root, 2, NOW)
    with pytest.raises(MetadataRejected, match="expired"):
        md.check_targets(targets, root, 0, NOW + dt.timedelta(days=91))
    assert [(r.version, r.platform) for r in md.releases(targets.signed)] == [("1.0.0", "cp311-linux_x86_64")]


def test_a_wheel_name_always_names_the_same_bytes_and_is_shared_between_releases() -> None:
    one, raw1 = _index(
        "1.0.0", {"dep-2.0-py3-none-any.whl": "d" * 64, "app-1.0.0-py3-none-any.whl": "1" * 64}
    )
    v1 = md.with_release(None, one, raw1, NOW, dt.timedelta(days=90)).signed
    two, raw2 = _index(
        "1.1.0", {"dep-2.0-py3-none-any.whl": "d" * 64, "app-1.1.0-py3-none-any.whl": "2" * 64}
    )
    v2 = md.with_release(v1, two, raw2, NOW, dt.timedelta(days=90)).signed
    assert v2.version == 2
    assert sorted(p for p in v2.targets if p.startswith("wheels/")) == [
        "wheels/app-1.0.0-py3-none-any.whl",
        "wheels/app-1.1.0-py3-none-any.whl",
        "wheels/dep-2.0-py3-none-any.whl",
    ]
    rebuilt, raw3 = _index("1.2.0", {"dep-2.0-py3-none-any.whl": "e" * 64})
    with pytest.raises(ReleaseConflict, match="already signed with other bytes"):
        md.with_release(v2, rebuilt, raw3, NOW, dt.timedelta(days=90))
    other_index, raw4 = _index(
        "1.0.0", {"app-1.0.0-py3-none-any.whl": "1" * 64, "x-1-py3-none-any.whl": "f" * 64}
    )
    with pytest.raises(ReleaseConflict, match=r"releases/1\.0\.0"):
        md.with_release(v2, other_index, raw4, NOW, dt.timedelta(days=90))


def test_withdrawn_release_is_gone_and_its_shared_wheels_stay() -> None:
    one, raw1 = _index("1.0.0", {"dep-2.0-py3-none-any.whl": "d" * 64})
    two, raw2 = _index("1.1.0", {"dep-2.0-py3-none-any.whl": "d" * 64})
    v2 = md.with_release(md.with_release(None, one, raw1, NOW, YEAR).signed, two, raw2, NOW, YEAR).signed
    v3 = md.without_release(v2, "1.0.0", NOW, YEAR).signed
    assert [r.version for r in md.releases(v3)] == ["1.1.0"]
    assert "wheels/dep-2.0-py3-none-any.whl" in v3.targets
    with pytest.raises(MetadataRejected, match=r"no release 9\.9"):
        md.without_release(v3, "9.9", NOW, YEAR)


def test_online_roles_are_due_for_signing_at_half_their_lifetime() -> None:
    snap = md.next_snapshot(None, b"{}", 1, NOW, dt.timedelta(days=7)).signed
    assert snap.version == 1 and snap.meta["targets.json"].version == 1
    assert not md.due(
        snap, dt.timedelta(days=7), NOW + dt.timedelta(days=3, hours=12) - dt.timedelta(seconds=1)
    )
    assert md.due(snap, dt.timedelta(days=7), NOW + dt.timedelta(days=3, hours=12, seconds=1))
    ts = md.next_timestamp(None, b"snapshot bytes", 4, NOW, dt.timedelta(days=1)).signed
    assert ts.snapshot_meta.version == 4 and ts.snapshot_meta.length == len(b"snapshot bytes")


def test_parse_refuses_the_wrong_role_and_garbage() -> None:
    with pytest.raises(MetadataRejected, match="not TUF metadata"):
        md.parse(b"<html>", "targets")
    meta = Metadata(Targets(version=1, expires=NOW))
    with pytest.raises(MetadataRejected, match="expected root metadata"):
        md.parse(meta.to_bytes(), "root")


def test_versions_sort_as_releases() -> None:
    ordered = ["0.9.9", "1.0.0.dev1", "1.0.0a1", "1.0.0rc2", "1.0.0", "1.0.0.post1", "1.0.1", "1.10.0"]
    assert sorted(reversed(ordered), key=version_key) == ordered
