"""Short, human-readable order references (``K7Q-4M2``) a resident can read out at a counter.

Alphabet without look-alikes (no 0/O, 1/I/L, U/V): 29 symbols, 6 characters ≈ 6×10⁸ values;
uniqueness is enforced by the database, which retries on the rare collision.
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
_RE = re.compile(rf"^[{ALPHABET}]{{3}}-[{ALPHABET}]{{3}}$")


def new_reference() -> str:
    """A fresh random reference such as ``K7Q-4M2``."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(6))
    return f"{chars[:3]}-{chars[3:]}"


def normalize_reference(raw: str) -> str | None:
    """Canonical form of what a person typed (case, spaces, missing dash), or None if invalid."""
    s = re.sub(r"[\s-]", "", raw.upper())
    candidate = f"{s[:3]}-{s[3:]}"
    return candidate if _RE.fullmatch(candidate) else None
