"""The dependency direction holds: schedules is pure; nothing imports content_server but itself."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_SCHEDULES = [
    "PySide6", "vlc", "sqlalchemy", "fastapi", "starlette", "requests", "httpx", "urllib3",
    "http.client", "urllib.request", "sqlite3", "alembic", "uvicorn", "aiohttp",
    "tarfile", "cryptography",
]
# third-party top-level modules schedules may load: the engine's two dependencies and theirs
ALLOWED_THIRD_PARTY = {
    "schedules", "dateutil", "six", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
    "typing_inspection", "tzdata",
}


def test_import_schedules_pulls_in_no_qt_db_or_network() -> None:
    code = (
        "import sys, pkgutil, importlib, schedules\n"
        "for m in pkgutil.walk_packages(schedules.__path__, 'schedules.'):\n"
        "    importlib.import_module(m.name)\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    loaded = set(out.stdout.split())
    bad = [m for m in FORBIDDEN_IN_SCHEDULES if m in loaded or any(x.startswith(m + ".") for x in loaded)]
    assert bad == [], f"schedules imports {bad}"
    tops = {m.split(".")[0] for m in loaded if not m.startswith("_")} - set(sys.stdlib_module_names)
    assert tops <= ALLOWED_THIRD_PARTY, f"schedules pulls in {sorted(tops - ALLOWED_THIRD_PARTY)}"


@pytest.mark.parametrize("package", ["schedules", "signage_player", "kiosk_app"])
def test_devices_and_engine_never_import_the_server(package: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*.py")
        if "import content_server" in p.read_text() or "from content_server" in p.read_text()
    ]
    assert offenders == []


def test_importing_packages_does_nothing_visible() -> None:
    code = "import schedules, content_server, signage_player, kiosk_app; print('quiet')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "quiet" and out.stderr == ""
