"""The demo's secret key: random, made on the first run, kept in ``var/demo/secret_key`` (0600).

A constant in the code would let anyone who reads it sign a payment notification (marking an order
paid) or compute a CAP feed's secret in every demo. The server refuses to start without a key.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "secret_key"


def load_or_create(demo_dir: Path) -> str:
    """The key kept in ``demo_dir``; made (64 random URL-safe characters) if there is none yet."""
    path = demo_dir / KEY_FILE
    demo_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise ValueError(f"{path}: too short to be a secret key; delete it to make a new one") from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key
