"""Suite-wide test set-up: Qt offscreen, shared fixtures from tests/fixtures/."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

pytest_plugins = [
    "tests.fixtures.media",
    "tests.fixtures.server",
    "tests.fixtures.postgres",
    "tests.fixtures.updates",
    "tests.fixtures.streams",
]
