"""The screen's backlight, switched by operating hours through commands the site configures."""

from __future__ import annotations

import logging
import shlex
import subprocess

log = logging.getLogger(__name__)


class Backlight:
    """Runs ``on_cmd``/``off_cmd`` (e.g. ``xset dpms force on``) when the play loop switches power."""

    def __init__(self, on_cmd: str | None, off_cmd: str | None) -> None:
        self.on_cmd, self.off_cmd = on_cmd, off_cmd

    def set_power(self, on: bool) -> None:
        cmd = self.on_cmd if on else self.off_cmd
        if not cmd:
            return
        try:  # not waited for: a slow display server must not hold the GUI thread
            subprocess.Popen(shlex.split(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            log.error("backlight command %r failed: %s", cmd, exc)
