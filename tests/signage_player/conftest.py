"""Player test set-up: PySide6 refcount work-around, generated media, a fake and a real video back end."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from signage_player.qtcompat import make_singletons_immortal


def pytest_configure(config: pytest.Config) -> None:
    make_singletons_immortal()


def _make_media(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    land = Image.new("RGB", (640, 360), (30, 120, 200))
    d = ImageDraw.Draw(land)
    d.rectangle((40, 40, 600, 320), outline=(255, 255, 255), width=8)
    d.ellipse((250, 110, 390, 250), fill=(250, 200, 40))
    land.save(root / "landscape.png")
    port = Image.new("RGB", (360, 640), (200, 60, 60))
    ImageDraw.Draw(port).ellipse((60, 200, 300, 440), fill=(255, 255, 255))
    port.save(root / "portrait.png")
    (root / "zero.png").write_bytes(b"")
    if shutil.which("ffmpeg"):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
             "-f", "lavfi", "-i", "sine=frequency=440", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-shortest", str(root / "clip.mp4")],
            check=True, timeout=60,
        )
        data = (root / "clip.mp4").read_bytes()
        (root / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return root


@pytest.fixture(scope="session")
def player_media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """landscape.png, portrait.png, zero.png, clip.mp4 (3 s H.264), truncated.mp4."""
    return _make_media(tmp_path_factory.mktemp("player_media"))


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
