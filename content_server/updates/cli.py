"""``signage-release``: the operator's signing tool, run on a machine that is not the server.

The root and targets keys never reach the server: this tool signs root versions and the targets
metadata (which releases exist, with their hashes) from files, and the signed files are then
uploaded to the server, which checks them before publishing. docs/updates.md has the workflow::

    signage-release keygen keys/root-1.pem
    signage-release root-new --root-key keys/root-1.pem --targets-pub keys/targets.pem.pub.json \\
        --online-pub online-keys.json --out 1.root.json
    signage-release release-add --targets current-targets.json --release rel-0.2.0 \\
        --sign-with keys/targets.pem --out new-targets.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Key
from tuf.api.metadata import Metadata, Root, Targets

from content_server.core.errors import ServerError
from content_server.updates import keys as keyfiles
from content_server.updates import metadata as md
from schedules.protocol.release import ReleaseIndex


def _passphrase(args: argparse.Namespace) -> bytes | None:
    var = getattr(args, "passphrase_env", None)
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise ServerError(f"${var} is empty: set it to the key's passphrase")
    return value.encode()


def _signers(paths: Sequence[Path], args: argparse.Namespace) -> list[CryptoSigner]:
    return [keyfiles.load_private(p, _passphrase(args)) for p in paths]


def _pubs(paths: Sequence[Path] | None) -> list[Key] | None:
    return None if not paths else [keyfiles.load_public(p) for p in paths]


def online_keys(path: Path) -> dict[str, Key]:
    """The server's snapshot and timestamp public keys, as ``signage-server updates online-keys`` prints."""
    doc = json.loads(path.read_text())
    return {role: keyfiles.parse_public(json.dumps(doc[role])) for role in md.ONLINE_ROLES}


def _write(meta: Metadata[Any], out: Path) -> None:
    out.write_bytes(meta.to_bytes())
    print(
        f"wrote {meta.signed.type} version {meta.signed.version} (expires {meta.signed.expires:%Y-%m-%d}) "
        f"to {out}"
    )


def _read(path: Path, role: str) -> Metadata[Any]:
    return md.parse(path.read_bytes(), role)


def cmd_keygen(args: argparse.Namespace) -> None:
    signer = keyfiles.generate()
    keyfiles.save_private(signer, args.out, _passphrase(args))
    pub = args.out.with_name(args.out.name + ".pub.json")
    pub.write_text(keyfiles.public_json(signer.public_key))
    keyid = signer.public_key.keyid[:16]
    print(f"private key {args.out} (keep it offline), public key {pub} (keyid {keyid})")


def cmd_root_new(args: argparse.Namespace, now: dt.datetime) -> None:
    signers = _signers(args.root_key, args)
    online = online_keys(args.online_pub)
    keys = md.RoleKeys(
        root=tuple(s.public_key for s in signers),
        targets=tuple(_pubs(args.targets_pub) or ()),
        snapshot=(online["snapshot"],),
        timestamp=(online["timestamp"],),
        thresholds={"root": args.root_threshold, "targets": args.targets_threshold},
    )
    meta = md.new_root(keys, now, dt.timedelta(days=args.expires_days))
    md.sign(meta, signers)
    _write(meta, args.out)


def cmd_root_rotate(args: argparse.Namespace, now: dt.datetime) -> None:
    current = _read(args.current, Root.type).signed
    online = online_keys(args.online_pub) if args.online_pub else None
    thresholds = {k: v for k, v in (("root", args.root_threshold), ("targets", args.targets_threshold)) if v}
    meta = md.rotated_root(
        current,
        now,
        dt.timedelta(days=args.expires_days),
        root=_pubs(args.root_pub),
        targets=_pubs(args.targets_pub),
        snapshot=[online["snapshot"]] if online else None,
        timestamp=[online["timestamp"]] if online else None,
        thresholds=thresholds,
    )
    md.sign(meta, _signers(args.sign_with, args))
    _write(meta, args.out)


def cmd_root_sign(args: argparse.Namespace, now: dt.datetime) -> None:
    meta = _read(args.root, Root.type)
    md.sign(meta, _signers(args.sign_with, args))
    _write(meta, args.out)


def _current_targets(args: argparse.Namespace) -> Targets | None:
    return _read(args.targets, Targets.type).signed if args.targets else None


def write_upload(out: Path, targets: bytes, release: Path | None) -> None:
    """The tar the portal's upload takes: the signed ``targets.json``, and the release it adds."""
    with tarfile.open(out, "w") as tar:
        info = tarfile.TarInfo("targets.json")
        info.size = len(targets)
        tar.addfile(info, io.BytesIO(targets))
        if release is not None:
            tar.add(release / "release.json", "release.json")
            for wheel in sorted((release / "wheels").glob("*.whl")):
                tar.add(wheel, f"wheels/{wheel.name}")


def _finish(meta: Metadata[Any], args: argparse.Namespace, release: Path | None = None) -> None:
    _write(meta, args.out)
    if args.upload:
        write_upload(args.upload, meta.to_bytes(), release)
        print(f"wrote {args.upload}: upload it on the portal's software update page")


def cmd_release_add(args: argparse.Namespace, now: dt.datetime) -> None:
    index_bytes = (args.release / "release.json").read_bytes()
    index = ReleaseIndex.model_validate_json(index_bytes)
    for wheel in index.wheels:  # the operator signs what they hold, not just what the index says
        path = args.release / "wheels" / wheel.filename
        if not path.is_file() or path.stat().st_size != wheel.size:
            raise ServerError(f"{path}: missing or not the size the index lists")
    lifetime = dt.timedelta(days=args.expires_days)
    meta = md.with_release(_current_targets(args), index, index_bytes, now, lifetime)
    md.sign(meta, _signers(args.sign_with, args))
    _finish(meta, args, args.release)


def cmd_release_withdraw(args: argparse.Namespace, now: dt.datetime) -> None:
    current = _current_targets(args)
    if current is None:
        raise ServerError("--targets: the current targets metadata is needed")
    meta = md.without_release(current, args.version, now, dt.timedelta(days=args.expires_days))
    md.sign(meta, _signers(args.sign_with, args))
    _finish(meta, args)


def cmd_targets_resign(args: argparse.Namespace, now: dt.datetime) -> None:
    meta = md.resigned_targets(_current_targets(args), now, dt.timedelta(days=args.expires_days))
    md.sign(meta, _signers(args.sign_with, args))
    _finish(meta, args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="signage-release", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_)
        c.add_argument("--passphrase-env", help="environment variable holding the private keys' passphrase")
        return c

    c = cmd("keygen", "make an Ed25519 key pair (OUT and OUT.pub.json)")
    c.add_argument("out", type=Path)
    c = cmd("root-new", "root version 1, signed by the root keys given")
    c.add_argument("--root-key", type=Path, action="append", required=True, help="private root key (repeat)")
    c.add_argument("--root-threshold", type=int, default=1)
    c.add_argument("--targets-pub", type=Path, action="append", required=True, help="targets public key")
    c.add_argument("--targets-threshold", type=int, default=1)
    c.add_argument("--online-pub", type=Path, required=True, help="the server's online-keys.json")
    c.add_argument("--expires-days", type=int, default=365)
    c.add_argument("--out", type=Path, required=True)
    c = cmd("root-rotate", "root version N+1 (new keys, thresholds or just a later expiry)")
    c.add_argument("--current", type=Path, required=True, help="the current N.root.json")
    c.add_argument(
        "--sign-with",
        type=Path,
        action="append",
        required=True,
        help="private key (repeat): enough old and new root keys",
    )
    c.add_argument("--root-pub", type=Path, action="append", help="new root public keys (default: keep)")
    c.add_argument("--root-threshold", type=int)
    c.add_argument("--targets-pub", type=Path, action="append", help="new targets public keys (or keep)")
    c.add_argument("--targets-threshold", type=int)
    c.add_argument("--online-pub", type=Path, help="new server online keys (default: keep)")
    c.add_argument("--expires-days", type=int, default=365)
    c.add_argument("--out", type=Path, required=True)
    c = cmd("root-sign", "add signatures to a root (threshold signing on several machines)")
    c.add_argument("--root", type=Path, required=True)
    c.add_argument("--sign-with", type=Path, action="append", required=True)
    c.add_argument("--out", type=Path, required=True)
    for name, help_ in (
        ("release-add", "targets N+1 with a release built by scripts/build_release.py"),
        ("release-withdraw", "targets N+1 without a release (devices no longer install it)"),
        ("targets-resign", "targets N+1, unchanged, with a later expiry"),
    ):
        c = cmd(name, help_)
        c.add_argument(
            "--targets",
            type=Path,
            required=name != "release-add",
            help="the current targets metadata from the server (none for the first release)",
        )
        c.add_argument("--sign-with", type=Path, action="append", required=True, help="private targets key")
        c.add_argument("--expires-days", type=int, default=90)
        c.add_argument("--out", type=Path, required=True)
        c.add_argument("--upload", type=Path, help="also write the tar to upload on the portal")
        if name == "release-add":
            c.add_argument("--release", type=Path, required=True, help="the directory build_release.py wrote")
        if name == "release-withdraw":
            c.add_argument("--version", required=True)
    return p


def main(argv: list[str] | None = None, now: dt.datetime | None = None) -> int:
    args = parser().parse_args(argv)
    now = now or dt.datetime.now(dt.UTC)
    commands = {
        "root-new": cmd_root_new,
        "root-rotate": cmd_root_rotate,
        "root-sign": cmd_root_sign,
        "release-add": cmd_release_add,
        "release-withdraw": cmd_release_withdraw,
        "targets-resign": cmd_targets_resign,
    }
    try:
        if args.command == "keygen":
            cmd_keygen(args)
        else:
            commands[args.command](args, now)
    except (ServerError, OSError, ValueError, KeyError) as exc:
        print(f"signage-release {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
