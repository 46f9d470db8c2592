"""The kiosk back end's domain modules stay pure: no ORM, no web framework, no HTTP client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PURE = [
    "order_states",
    "case_states",
    "case_types",
    "identity",
    "lookup_guard",
    "reference",
    "signing",
    "settlement",
    "payment",
    "offline_token",
]
FORBIDDEN = ["sqlalchemy", "fastapi", "starlette", "requests", "httpx", "alembic", "jinja2", "PySide6"]


def test_domain_modules_import_no_adapters() -> None:
    code = (
        "import sys\n"
        + "".join(f"import content_server.kiosk.{m}\n" for m in PURE)
        + "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(out.stdout.split())
    bad = [m for m in FORBIDDEN if m in loaded]
    assert bad == []
