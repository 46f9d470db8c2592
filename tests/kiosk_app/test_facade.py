"""The kiosk reaches the player's code through one door, the package's public surface; the door is light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import signage_player as facade

ROOT = Path(__file__).resolve().parents[2]


def test_the_kiosk_imports_only_the_device_facade_from_the_player() -> None:
    found: dict[str, set[str]] = {}
    for path in (ROOT / "kiosk_app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                       else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for module in modules:
                if module.split(".")[0] == "signage_player":
                    found.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert set(found) == {"signage_player"}, found


def test_every_name_the_facade_offers_resolves() -> None:
    assert sorted(facade.__all__) == sorted(facade._HOME)
    for name in facade.__all__:
        assert getattr(facade, name).__name__ == name, name
    with pytest.raises(AttributeError):
        facade.NoSuchThing  # noqa: B018


def test_the_facade_loads_no_qt_and_no_http_until_asked() -> None:
    """The kiosk's pure modules (flow, stores) use it, and must stay free of Qt and requests."""
    code = ("import sys, signage_player, kiosk_app.store; signage_player.Device;"
            "print([m for m in ('PySide6', 'requests') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]" and out.stderr == ""
