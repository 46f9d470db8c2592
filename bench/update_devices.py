"""Software updates on real devices: a real player and a real kiosk through a good and a broken release.

The run of ``tests/fixtures/update_e2e.py`` (as ``tests/integration/test_update_rollout.py`` does),
timed: three releases of this checkout built with every dependency wheel (1.0.0, 2.0.0 with
another welcome text, 3.0.0 that exits at start), published through the update API of ``signage-server serve``
on loopback; a player and a kiosk on 1.0.0 under the update guard, offscreen. Rolling out 2.0.0
brings both to it (the player paints the new text); rolling out 3.0.0 crashes both at start, each
returns to 2.0.0 by itself and the rollout pauses. Every step is asserted; a failure exits 1.

The last line is one JSON object::

    {"bench": "update_devices", "real_devices": 2, "build_s": …, "provision_s": …, "update_s": …,
     "rollback_s": …, "total_s": …, "ok": true}

Usage: ``QT_QPA_PLATFORM=offscreen .venv/bin/python bench/update_devices.py [--apps player,kiosk]``
(the machine may be shared with other work: the timings are of this run, on this machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.server import LiveServer, free_port  # noqa: E402
from tests.fixtures.update_e2e import APPS, update_and_roll_back  # noqa: E402
from tests.fixtures.updates import FullReleaseFactory  # noqa: E402


def run(apps: tuple[str, ...]) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    qt = QApplication.instance() or QApplication([])
    work = Path(tempfile.mkdtemp(prefix="bench-update-devices-"))
    result: dict[str, Any] = {"bench": "update_devices", "real_devices": len(apps), "apps": list(apps)}
    views: list[Any] = []
    try:
        (work / "server").mkdir()
        env = {"SIGNAGE_UPDATE_CHECK_S": "1"}
        server = LiveServer(data_dir=work / "server", port=free_port(), extra_env=env)
        server.create_operator()
        server.start()
        try:
            result |= update_and_roll_back(
                server, FullReleaseFactory(work / "releases"), work / "devices", apps, keep=views.append
            )
            result["ok"] = True
        except AssertionError as exc:
            traceback.print_exc()
            result |= {"ok": False, "failed": str(exc)}
        finally:
            server.stop()
    finally:
        for view in views:
            view.close()
        del qt
        shutil.rmtree(work, ignore_errors=True)
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", default=",".join(APPS), help="player and/or kiosk (the player is required)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = run(tuple(a for a in args.apps.split(",") if a))
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
