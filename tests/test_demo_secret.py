"""The demo's secret key: random per installation, made once, kept private in var/demo/."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from content_server.core.settings import PUBLISHED_SECRETS, Settings
from signage_demo import secret

REPO = Path(__file__).resolve().parents[1]


def test_made_once_private_and_different_per_installation(tmp_path: Path) -> None:
    key = secret.load_or_create(tmp_path / "a")
    assert len(key) >= 64 and key not in PUBLISHED_SECRETS
    assert secret.load_or_create(tmp_path / "a") == key  # the next run keeps it (sessions survive)
    assert stat.S_IMODE((tmp_path / "a" / secret.KEY_FILE).stat().st_mode) == 0o600
    assert secret.load_or_create(tmp_path / "b") != key
    Settings(demo=True, secret_key=key)  # the server accepts it


def test_a_truncated_key_file_is_refused_not_used(tmp_path: Path) -> None:
    (tmp_path / secret.KEY_FILE).write_text("short\n")
    with pytest.raises(ValueError, match="too short"):
        secret.load_or_create(tmp_path)


def test_no_secret_key_is_written_in_the_code() -> None:
    """No source file sets a SIGNAGE_SECRET_KEY value or names a published key outside the refusal list."""
    tracked = subprocess.run(["git", "ls-files", "*.py", "*.sh", "*.toml", "*.env"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    for name in tracked:
        text = (REPO / name).read_text(encoding="utf-8", errors="replace")
        for published in PUBLISHED_SECRETS:
            if published in text:
                assert name == "content_server/core/settings.py", name
