"""Suite-wide test set-up: Qt offscreen, shared fixtures from tests/fixtures/."""

import os
import time

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox --disable-gpu")

pytest_plugins = [
    "tests.fixtures.media",
    "tests.fixtures.server",
    "tests.fixtures.postgres",
    "tests.fixtures.updates",
    "tests.fixtures.streams",
]


class _FailuresAsTheyHappen:
    """Names a failure the moment it happens: pytest names them only at the end, and a long run
    stopped early (or killed) would otherwise leave only an ``F`` in a progress line."""

    def __init__(self, terminal: pytest.TerminalReporter) -> None:
        self.terminal = terminal

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            at = time.strftime("%H:%M:%S")
            self.terminal.write_line(f"\nFAILED {report.nodeid} ({report.when}) at {at}", red=True)


@pytest.hookimpl(trylast=True)  # after the terminal reporter is registered
def pytest_configure(config: pytest.Config) -> None:
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None and not hasattr(config, "workerinput"):  # the controller, not a worker
        config.pluginmanager.register(_FailuresAsTheyHappen(terminal), "failures-as-they-happen")
