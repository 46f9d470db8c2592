"""The operator PIN guarding the maintenance screen: salted PBKDF2 hash, lockout after wrong tries."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from kiosk_app.errors import KioskError

_ITERATIONS = 200_000


class PinFormatError(KioskError, ValueError):
    """The configured PIN hash is not ``pbkdf2_sha256$iterations$salt$hash``."""


def hash_pin(pin: str, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """The string to put in the kiosk's settings (``KIOSK_OPERATOR_PIN_HASH``)."""
    if not (pin.isdigit() and 4 <= len(pin) <= 12):
        raise PinFormatError("an operator PIN is 4 to 12 digits")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return f"pbkdf2_sha256${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass
class OperatorPin:
    """Checks PINs against the stored hash; ``max_failures`` wrong PINs lock it for ``lockout``."""

    stored: str
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=5)
    _failures: list[dt.datetime] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            scheme, iterations, salt, digest = self.stored.split("$")
            if scheme != "pbkdf2_sha256":
                raise ValueError(scheme)
            self._iterations = int(iterations)
            self._salt, self._digest = base64.b64decode(salt), base64.b64decode(digest)
        except ValueError as exc:
            raise PinFormatError(f"operator PIN hash is malformed: {exc}") from None

    def verify(self, pin: str, now: dt.datetime) -> bool | None:
        self._failures = [t for t in self._failures if now - t < self.lockout]
        if len(self._failures) >= self.max_failures:
            return None
        candidate = hashlib.pbkdf2_hmac("sha256", pin.encode(), self._salt, self._iterations)
        if hmac.compare_digest(candidate, self._digest):
            self._failures.clear()
            return True
        self._failures.append(now)
        return False
