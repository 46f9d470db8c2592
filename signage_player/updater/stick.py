"""Software updates from a USB stick, for screens without network: the same TUF checks, from a directory.

The server writes ``signage-update/`` onto the stick (``TufRepository.export_usb``): the signed
metadata, one release's files and ``bundle.json`` naming that release. Only the names come from
``bundle.json``; every byte is verified by the same TUF client against the device's trusted root,
as a download from the server would be. A stick never downgrades: going back to an older version
is an operator's decision, made in the portal.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from schedules.protocol.release import version_key
from signage_player.updater.agent import Outcome, UpdateAgent, UpdateResult
from signage_player.updater.fetch import Source

log = logging.getLogger(__name__)
STICK_DIR = "signage-update"
UPDATE_MARKER = "bundle.json"  # names the release on the stick; every byte is checked by TUF


def find_update(root: Path) -> Path | None:
    """The ``signage-update`` directory at the top of a mounted stick (or its ``signage/`` folder)."""
    for d in (root / STICK_DIR, root / "signage" / STICK_DIR):
        if (d / UPDATE_MARKER).is_file():
            return d
    return None


def update_from_stick(agent: UpdateAgent, root: Path) -> UpdateResult:
    found = find_update(root)
    if found is None:
        return UpdateResult(Outcome.SKIPPED, "no software update on this stick")
    try:
        hint = json.loads((found / UPDATE_MARKER).read_text())
        version, platform = str(hint["version"]), str(hint["platform"])
        newer = version_key(version) > version_key(agent.own_version)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return UpdateResult(Outcome.REFUSED, f"bundle.json is unreadable: {exc}")
    if platform != agent.platform:
        return UpdateResult(Outcome.SKIPPED, f"the stick is for {platform}, not {agent.platform}")
    if not newer:
        return UpdateResult(Outcome.SKIPPED, f"the stick holds {version}, not newer than {agent.own_version}")
    log.info("update: installing %s from the stick at %s", version, root)
    return agent.update_to(version, Source.directory(found))
