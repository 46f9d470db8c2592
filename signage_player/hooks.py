"""The site's own commands for what the app cannot do itself: backlight, reboot, system volume.

Each is a command line from the settings (e.g. ``xset dpms force off``, ``systemctl reboot``,
``amixer -q sset Master {percent}%``), split like a shell would but run without one, with the
``{placeholders}`` filled in first. It is started and not waited for: a slow display server or
mixer must not hold the GUI thread.
"""

from __future__ import annotations

import logging
import shlex
import subprocess

log = logging.getLogger(__name__)


class HookError(Exception):
    """A configured command could not be started (bad quoting, missing program)."""


def run_hook(cmd: str, what: str, **values: object) -> None:
    """Start ``cmd`` with ``values`` filled in; HookError when it cannot start."""
    try:
        argv = [part.format(**values) for part in shlex.split(cmd)]
        subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        log.error("%s command %r failed: %s", what, cmd, exc)
        raise HookError(f"{what} command failed: {exc}") from exc
    log.info("%s command started: %s", what, argv[0])
