"""The server's TUF repository on disk: publish checks, online re-signing, root rotation, USB export, CLIs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root, Snapshot, Timestamp

from content_server.updates import admin, cli
from content_server.updates import keys as keyfiles
from content_server.updates import metadata as md
from content_server.updates.errors import KeyFileError, MetadataRejected
from content_server.updates.repository import TufRepository
from tests.fixtures.updates import UpdateRepo, role_signers


def _timestamp(repo: TufRepository) -> Timestamp:
    ts = repo.timestamp()
    assert ts is not None
    return ts


def test_publish_stores_each_target_once_under_its_hash_and_moves_the_chain(update_repo: UpdateRepo) -> None:
    repo = update_repo.repo
    assert repo.targets_version() == 0 and repo.timestamp() is None
    one = update_repo.fake_release(
        "1.0.0", {"dep-1-py3-none-any.whl": b"dep", "app-1.0.0-py3-none-any.whl": b"v1"}
    )
    update_repo.publish(one)
    two = update_repo.fake_release(
        "1.1.0", {"dep-1-py3-none-any.whl": b"dep", "app-1.1.0-py3-none-any.whl": b"v2"}
    )
    targets = update_repo.publish(two)
    assert targets.version == 2 and repo.targets_version() == 2
    snap = repo.snapshot()
    assert snap is not None and snap.meta["targets.json"].version == 2
    assert _timestamp(repo).snapshot_meta.version == snap.version
    stored = sorted(p.name for p in (repo.targets_dir / "wheels").iterdir())
    assert len(stored) == 3 and all(len(n.split(".", 1)[0]) == 64 for n in stored)  # dep stored once
    assert [r.version for r in repo.status(dt.datetime.now(dt.UTC)).releases] == ["1.0.0", "1.1.0"]
    index = repo.release_index("1.1.0", md.releases(targets)[0].platform)
    assert index is not None and index.version == "1.1.0"


def test_nothing_is_published_when_a_file_does_not_match_or_the_signer_is_the_server(
    update_repo: UpdateRepo, tmp_path: Path
) -> None:
    repo = update_repo.repo
    update_repo.publish(update_repo.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}))
    before = _timestamp(repo).version
    two = update_repo.fake_release("1.1.0", {"a-2-py3-none-any.whl": b"good bytes"})
    raw = (two / "release.json").read_bytes()
    index = md.ReleaseIndex.model_validate_json(raw)

    def signed_by(*signers: keyfiles.CryptoSigner) -> bytes:
        meta = md.with_release(repo.targets(), index, raw, dt.datetime.now(dt.UTC), repo.lifetimes.targets)
        return md.sign(meta, signers).to_bytes()

    meta = signed_by(update_repo.targets_key)
    (two / "wheels" / "a-2-py3-none-any.whl").write_bytes(b"evil bytes")  # swapped after signing
    with pytest.raises(MetadataRejected, match="does not match its signed hash"):
        repo.publish_targets(meta, admin.release_files(two), dt.datetime.now(dt.UTC))
    assert _timestamp(repo).version == before and repo.targets_version() == 1
    assert not list((repo.targets_dir / "wheels").glob(".upload-*"))

    (two / "wheels" / "a-2-py3-none-any.whl").write_bytes(b"good bytes")
    rogue = signed_by(repo.online_signer("snapshot"), repo.online_signer("timestamp"))  # all the server holds
    with pytest.raises(MetadataRejected, match="not signed by the targets key"):
        repo.publish_targets(rogue, admin.release_files(two), dt.datetime.now(dt.UTC))
    with pytest.raises(MetadataRejected, match="not stored here and was not uploaded"):
        repo.publish_targets(meta, {}, dt.datetime.now(dt.UTC))
    assert repo.targets_version() == 1


def test_timestamp_and_snapshot_are_re_signed_when_half_their_life_is_gone(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ur = UpdateRepo.create(tmp_path, now=now)
    ur.publish(ur.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}), now=now)
    repo = ur.repo
    ts1, snap1 = _timestamp(repo), repo.snapshot()
    assert snap1 is not None
    assert repo.refresh(now + dt.timedelta(hours=11)) == []
    assert repo.refresh(now + dt.timedelta(hours=13)) == ["timestamp"]
    assert _timestamp(repo).version == ts1.version + 1
    assert _timestamp(repo).expires > ts1.expires
    later = now + dt.timedelta(days=4)
    assert repo.refresh(later) == ["snapshot", "timestamp"]
    snap2 = repo.snapshot()
    assert snap2 is not None and snap2.version == snap1.version + 1 and snap2.expires > snap1.expires
    # the current state verifies with the root's keys, as a device would check it
    root = repo.root()
    for name, role in ((f"{snap2.version}.snapshot.json", Snapshot.type), ("timestamp.json", Timestamp.type)):
        assert md.verify_role(root, role, Metadata.from_bytes((repo.metadata_dir / name).read_bytes()))


def test_rotating_the_online_keys_re_signs_snapshot_and_timestamp_at_once(update_repo: UpdateRepo) -> None:
    repo = update_repo.repo
    update_repo.publish(update_repo.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}))
    for role in md.ONLINE_ROLES:  # the server's online keys leaked: new ones
        (repo.keys_dir / f"{role}.pem").unlink()
    online = repo.online_public_keys()
    now = dt.datetime.now(dt.UTC)
    v2 = md.rotated_root(
        repo.root(), now, repo.lifetimes.root, snapshot=[online["snapshot"]], timestamp=[online["timestamp"]]
    )
    md.sign(v2, [update_repo.root_key])
    assert repo.install_root(v2.to_bytes(), now).version == 2
    root = repo.root()
    ts_md = Metadata.from_bytes((repo.metadata_dir / "timestamp.json").read_bytes())
    assert md.verify_role(root, Timestamp.type, ts_md)
    with pytest.raises(MetadataRejected, match="expected 3"):
        repo.install_root(v2.to_bytes(), now)
    evil = md.rotated_root(root, now, repo.lifetimes.root, root=[keyfiles.generate().public_key])
    with pytest.raises(MetadataRejected, match="not signed by enough root keys"):
        repo.install_root(md.sign(evil, []).to_bytes(), now)
    assert repo.root_version() == 2


def test_root_must_list_the_servers_online_keys(tmp_path: Path) -> None:
    repo = TufRepository(tmp_path / "repo")
    keys, signers = role_signers()
    root = md.sign(md.new_root(keys, dt.datetime.now(dt.UTC), dt.timedelta(days=30)), [signers["root"]])
    with pytest.raises(MetadataRejected, match="does not list this server's snapshot key"):
        repo.install_root(root.to_bytes(), dt.datetime.now(dt.UTC))


def test_only_repository_names_are_served(update_repo: UpdateRepo) -> None:
    repo = update_repo.repo
    update_repo.publish(update_repo.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}))
    assert repo.metadata_file("1.root.json") is not None and repo.metadata_file("timestamp.json") is not None
    assert repo.metadata_file("2.root.json") is None  # the client's probe for a newer root gets 404
    for bad in ("../keys/snapshot.pem", "root.json", "1.root.json/..", "0.root.json", "x.json"):
        assert repo.metadata_file(bad) is None
    wheel = next((repo.targets_dir / "wheels").iterdir()).name
    assert repo.target_file(f"wheels/{wheel}") is not None
    for bad in ("wheels/a-1-py3-none-any.whl", "../keys/snapshot.pem", f"wheels/../wheels/{wheel}", "keys/x"):
        assert repo.target_file(bad) is None


def test_status_warns_before_the_offline_signed_roles_expire(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ur = UpdateRepo.create(tmp_path, md.Lifetimes(targets=dt.timedelta(days=20)), now=now)
    ur.publish(ur.fake_release("1.0.0", {"a-1-py3-none-any.whl": b"a"}), now=now)
    assert ur.repo.status(now).warnings == []
    warnings = ur.repo.status(now + dt.timedelta(days=7)).warnings
    assert len(warnings) == 1 and warnings[0].startswith("targets metadata expires")


def test_the_operator_cli_and_the_server_commands_make_a_working_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The documented workflow: keys and signing offline, only public keys and signed files move."""
    offline, server = tmp_path / "offline", tmp_path / "server"
    offline.mkdir()
    assert admin.main(["--dir", str(server), "online-keys"]) == 0
    (offline / "online-keys.json").write_text(capsys.readouterr().out)
    assert cli.main(["keygen", str(offline / "root.pem")]) == 0
    assert cli.main(["keygen", str(offline / "targets.pem")]) == 0
    assert cli.main(["keygen", str(offline / "targets.pem")]) == 1  # never overwrites a key
    assert (offline / "root.pem").stat().st_mode & 0o777 == 0o600
    assert (
        cli.main(
            [
                "root-new",
                "--root-key",
                str(offline / "root.pem"),
                "--targets-pub",
                str(offline / "targets.pem.pub.json"),
                "--online-pub",
                str(offline / "online-keys.json"),
                "--out",
                str(offline / "1.root.json"),
            ]
        )
        == 0
    )
    assert admin.main(["--dir", str(server), "install-root", str(offline / "1.root.json")]) == 0
    release = UpdateRepo(
        TufRepository(server), keyfiles.generate(), keyfiles.generate(), tmp_path
    ).fake_release("2.0.0", {"app-2.0.0-py3-none-any.whl": b"app"})
    assert (
        cli.main(
            [
                "release-add",
                "--release",
                str(release),
                "--sign-with",
                str(offline / "targets.pem"),
                "--out",
                str(offline / "t1.json"),
            ]
        )
        == 0
    )
    assert (
        admin.main(["--dir", str(server), "publish", str(offline / "t1.json"), "--release", str(release)])
        == 0
    )
    capsys.readouterr()
    assert admin.main(["--dir", str(server), "current-targets"]) == 0
    (offline / "current.json").write_bytes(capsys.readouterr().out.encode())
    assert (
        cli.main(
            [
                "targets-resign",
                "--targets",
                str(offline / "current.json"),
                "--sign-with",
                str(offline / "targets.pem"),
                "--out",
                str(offline / "t2.json"),
            ]
        )
        == 0
    )
    assert admin.main(["--dir", str(server), "publish", str(offline / "t2.json")]) == 0
    # a targets file signed with the root key instead is refused by the server
    assert (
        cli.main(
            [
                "targets-resign",
                "--targets",
                str(offline / "t2.json"),
                "--sign-with",
                str(offline / "root.pem"),
                "--out",
                str(offline / "t3.json"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert admin.main(["--dir", str(server), "publish", str(offline / "t3.json")]) == 1
    assert "not signed by the targets key" in capsys.readouterr().err
    assert admin.main(["--dir", str(server), "status"]) == 0
    out = capsys.readouterr().out
    assert "targets   v2" in out and "release 2.0.0" in out
    # root rotation to a second root key, signed by the old and the new one
    assert cli.main(["keygen", str(offline / "root2.pem")]) == 0
    assert (
        cli.main(
            [
                "root-rotate",
                "--current",
                str(offline / "1.root.json"),
                "--root-pub",
                str(offline / "root2.pem.pub.json"),
                "--sign-with",
                str(offline / "root.pem"),
                "--sign-with",
                str(offline / "root2.pem"),
                "--out",
                str(offline / "2.root.json"),
            ]
        )
        == 0
    )
    assert admin.main(["--dir", str(server), "install-root", str(offline / "2.root.json")]) == 0
    assert json.loads((server / "metadata" / "2.root.json").read_text())["signed"]["version"] == 2
    assert isinstance(TufRepository(server).root(), Root)


def test_passphrase_protected_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYPASS", "correct horse")
    assert cli.main(["keygen", str(tmp_path / "t.pem"), "--passphrase-env", "KEYPASS"]) == 0
    assert b"ENCRYPTED" in (tmp_path / "t.pem").read_bytes()
    with pytest.raises(KeyFileError):
        keyfiles.load_private(tmp_path / "t.pem")
    assert keyfiles.load_private(tmp_path / "t.pem", b"correct horse").public_key.keytype == "ed25519"
