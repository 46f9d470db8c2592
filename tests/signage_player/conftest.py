"""Player test set-up: PySide6 refcount work-around, a fake and a real video back end, players shut down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from signage_player.qtcompat import make_singletons_immortal

if TYPE_CHECKING:
    from signage_player.app import Player


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


@pytest.fixture
def players(qtbot: object) -> Iterator[list[Player]]:
    """Players a test builds (append them): each is shut down at the end, whatever happened."""
    made: list[Player] = []
    yield made
    for p in made:
        p.shutdown()
