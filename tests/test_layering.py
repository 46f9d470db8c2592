"""The dependency direction holds: schedules is pure and loads no Qt, database or network library.

Which of *our* packages may import which is declared as import-linter contracts in pyproject.toml
(``[tool.importlinter]``, run by scripts/test.sh); the tool does not see third-party imports at
run time, so that part is checked here.
"""

import subprocess
import sys
from pathlib import Path

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


def test_importing_packages_does_nothing_visible() -> None:
    code = "import schedules, content_server, signage_player, kiosk_app, signage_demo; print('quiet')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "quiet" and out.stderr == ""
