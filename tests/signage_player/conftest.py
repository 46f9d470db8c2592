"""Player test set-up: PySide6 refcount work-around, a fake and a real video back end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from signage_player.qtcompat import make_singletons_immortal


def pytest_configure(config: pytest.Config) -> None:
    make_singletons_immortal()


@pytest.fixture
def fake_backend(qapp: object) -> Iterator[object]:
    from signage_player.media import FakeMediaBackend

    b = FakeMediaBackend(duration_s=0.3)
    yield b
    b.close()


@pytest.fixture
def vlc_backend(qapp: object) -> Iterator[object]:
    from signage_player.media import VlcBackend

    b = VlcBackend()
    yield b
    b.close()
