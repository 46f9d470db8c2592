"""The screen's backlight, switched by operating hours (or an operator) through the site's commands."""

from __future__ import annotations

import contextlib
import logging

from signage_player.hooks import HookError, run_hook

log = logging.getLogger(__name__)


class Backlight:
    """Runs ``on_cmd``/``off_cmd`` (e.g. ``xset dpms force on``) when the play loop switches power."""

    def __init__(self, on_cmd: str | None, off_cmd: str | None) -> None:
        self.on_cmd, self.off_cmd = on_cmd, off_cmd

    def set_power(self, on: bool) -> None:
        cmd = self.on_cmd if on else self.off_cmd
        if not cmd:
            return
        with contextlib.suppress(HookError):  # logged; the picture itself still goes black or comes back
            run_hook(cmd, "backlight")
