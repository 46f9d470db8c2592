"""Read aloud: a ``Speaker`` interface, espeak-ng through a subprocess, and a fake that records.

QtTextToSpeech is not part of PySide6-Essentials, so the kiosk speaks with Debian's espeak-ng.
Speaking never blocks the UI: the process runs in the background and a new text stops the old.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from typing import Protocol

from kiosk_app.i18n import Language

log = logging.getLogger(__name__)
VOICES = {Language.ZH: "cmn", Language.EN: "en-gb"}


class Speaker(Protocol):
    def say(self, text: str, language: Language) -> None: ...
    def stop(self) -> None: ...
    def set_volume(self, percent: int) -> None: ...

    @property
    def available(self) -> bool:
        """Whether there is something to speak with (reported as the kiosk's speaker)."""
        ...

    @property
    def failing(self) -> bool:
        """Whether the last attempt to speak failed."""
        ...


class EspeakSpeaker:
    """Speaks through ``espeak-ng``; ``available`` is False when it is not installed."""

    def __init__(self, executable: str | None = None, rate_wpm: int = 140,
                 wav_path: str | None = None) -> None:
        self.executable = executable or shutil.which("espeak-ng") or shutil.which("espeak")
        self.rate_wpm = rate_wpm  # slower than the default 175 for older listeners
        self.wav_path = wav_path  # write to a file instead of the sound card (tests, diagnostics)
        self.amplitude = 100  # espeak's -a (0-200; 100 is its normal loudness)
        self.failing = False
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def available(self) -> bool:
        return self.executable is not None

    def set_volume(self, percent: int) -> None:
        """An operator's volume (0-100 %) as espeak's amplitude: 100 % is espeak's normal loudness."""
        self.amplitude = max(0, min(100, percent))

    def command(self, language: Language) -> list[str]:
        assert self.executable is not None
        out = ["-w", self.wav_path] if self.wav_path else []
        return [self.executable, "-v", VOICES[language], "-s", str(self.rate_wpm), "-a", str(self.amplitude),
                *out, "--stdin"]

    def say(self, text: str, language: Language) -> None:
        self.stop()
        if not self.available or not text.strip():
            return
        try:
            self._proc = subprocess.Popen(self.command(language), stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            assert self._proc.stdin is not None
            self._proc.stdin.write(text.encode())
            self._proc.stdin.close()
            self.failing = False
        except OSError as exc:
            log.warning("read aloud failed: %s", exc)
            self.failing = True
            self._proc = None

    def wait(self, timeout: float = 30.0) -> int | None:
        """Wait for the current utterance (tests, tools)."""
        return self._proc.wait(timeout) if self._proc is not None else None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(5)
        self._proc = None


class FakeSpeaker:
    """Remembers what it was asked to say, and at what volume."""

    def __init__(self, available: bool = True, failing: bool = False) -> None:
        self.spoken: list[tuple[str, Language]] = []
        self.volume = 100
        self.available = available
        self.failing = failing

    def say(self, text: str, language: Language) -> None:
        self.spoken.append((text, language))

    def stop(self) -> None:
        pass

    def set_volume(self, percent: int) -> None:
        self.volume = percent
