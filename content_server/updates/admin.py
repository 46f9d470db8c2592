"""Server-side commands for the update repository (run on the server host, next to its data dir).

python -m content_server.updates.admin --dir /var/lib/signage/updates online-keys > online-keys.json
python -m content_server.updates.admin --dir … install-root 1.root.json
python -m content_server.updates.admin --dir … current-targets > current-targets.json
python -m content_server.updates.admin --dir … publish new-targets.json --release rel-0.2.0
python -m content_server.updates.admin --dir … refresh | status
python -m content_server.updates.admin --dir … export-usb --version 0.2.0 --out /media/stick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from content_server.core.errors import ServerError
from content_server.updates.repository import TufRepository
from schedules.protocol.release import ReleaseIndex, running_platform


def release_files(release_dir: Path) -> dict[str, Path]:
    """Target path -> local file, for a directory written by ``scripts/build_release.py``."""
    index = ReleaseIndex.model_validate_json((release_dir / "release.json").read_bytes())
    files = {w.target_path: release_dir / "wheels" / w.filename for w in index.wheels}
    files[index.target_path] = release_dir / "release.json"
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m content_server.updates.admin", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--dir", type=Path, required=True, help="the repository directory (<data dir>/updates)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("online-keys", help="print the server's online public keys (made if missing)")
    c = sub.add_parser("install-root", help="accept root version N+1 (or 1)")
    c.add_argument("root", type=Path)
    sub.add_parser("current-targets", help="print the current targets metadata for the operator to sign on")
    c = sub.add_parser("publish", help="publish offline-signed targets and the release files they list")
    c.add_argument("targets", type=Path)
    c.add_argument("--release", type=Path, action="append", default=[], help="release dir (repeat)")
    sub.add_parser("refresh", help="re-sign snapshot/timestamp when due (the server does this by itself)")
    sub.add_parser("status", help="versions, expiries, releases, warnings")
    c = sub.add_parser("export-usb", help="write signage-update/ for a USB stick")
    c.add_argument("--version", required=True)
    c.add_argument("--platform", default=running_platform())
    c.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    repo = TufRepository(args.dir)
    now = dt.datetime.now(dt.UTC)
    try:
        if args.command == "online-keys":
            keys = repo.online_public_keys()
            print(json.dumps({r: {"keyid": k.keyid, "key": k.to_dict()} for r, k in keys.items()}, indent=2))
        elif args.command == "install-root":
            root = repo.install_root(args.root.read_bytes(), now)
            print(f"root version {root.version} installed")
        elif args.command == "current-targets":
            data = repo.targets_bytes()
            if data is None:
                print("no targets published yet: sign the first release without --targets", file=sys.stderr)
                return 1
            sys.stdout.buffer.write(data)
        elif args.command == "publish":
            files: dict[str, Path] = {}
            for d in args.release:
                files |= release_files(d)
            targets = repo.publish_targets(args.targets.read_bytes(), files, now)
            print(f"targets version {targets.version} published")
        elif args.command == "refresh":
            print("re-signed: " + (", ".join(repo.refresh(now)) or "nothing due"))
        elif args.command == "status":
            st = repo.status(now)
            for role, rs in st.roles.items():
                print(f"{role:9} v{rs.version:<5} expires {rs.expires.isoformat()}")
            for rel in st.releases:
                print(f"release {rel.version} for {rel.platform}")
            for w in st.warnings:
                print(f"WARNING: {w}")
        elif args.command == "export-usb":
            out = repo.export_usb(args.out, args.version, args.platform, now)
            print(f"wrote {out}")
    except (ServerError, OSError, ValueError) as exc:
        print(f"{args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
