"""Resident identity data: GB 11643 ID-card numbers, phone numbers, and how they are masked.

Masking happens here, once, so that nothing unmasked can leave the server through a kiosk
route: names keep their first and last character (``张*三``), ID numbers their first 3 and
last 4 (``110***********1234``), phones their first 3 and last 4 (``138****5678``), rooms of a
service address their first and last character (``1**3``).
"""

from __future__ import annotations

import datetime as dt
import re

from content_server.kiosk.errors import InvalidInput
from schedules.protocol.kiosk import PHONE_PATTERN

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(PHONE_PATTERN)


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits (ISO 7064 MOD 11-2)."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalize_id_number(raw: str) -> str:
    """Return the 18-character ID number, upper-cased, or raise :class:`InvalidInput`.

    Checks the format, the birth date (YYYYMMDD at positions 7-14) and the check digit.
    """
    value = raw.strip().upper()
    if not _ID_RE.fullmatch(value):
        raise InvalidInput("id_number", "must be 17 digits followed by a digit or X")
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput("id_number", "contains an impossible birth date") from None
    if born.year < 1900:
        raise InvalidInput("id_number", "contains an impossible birth date")
    if id_check_digit(value[:17]) != value[17]:
        raise InvalidInput("id_number", "check digit does not match")
    return value


def normalize_phone(raw: str) -> str:
    """Return a mainland mobile number (11 digits, 1[3-9]…) or raise :class:`InvalidInput`."""
    value = re.sub(r"[\s-]", "", raw)
    if value.startswith("+86"):
        value = value[3:]
    if not _PHONE_RE.fullmatch(value):
        raise InvalidInput("phone", "must be an 11-digit mainland mobile number")
    return value


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``张小三`` → ``张*三``, ``欧阳小明`` → ``欧**明``."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_id_number(id_number: str) -> str:
    """``110105199001011234`` → ``110***********1234``."""
    if len(id_number) < 8:
        return "*" * len(id_number)
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``."""
    if len(phone) < 8:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_room(room: str) -> str:
    """``1203`` → ``1**3``: a service address on a page opened from a printed receipt."""
    room = room.strip()
    if len(room) <= 2:
        return "*" * len(room)
    return room[0] + "*" * (len(room) - 2) + room[-1]
