"""Tests for the shared media fixture and the demo (content generator, launcher)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image


def _probe(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    streams: list[dict[str, object]] = json.loads(out)["streams"]
    return streams


def test_media_dir_holds_the_promised_files(media_dir: Path) -> None:
    with Image.open(media_dir / "landscape.png") as img:
        assert img.size == (1920, 1080)
        assert len(set(img.convert("L").resize((64, 36)).getdata())) > 10
    with Image.open(media_dir / "portrait.png") as img:
        assert img.size == (1080, 1920)
    with Image.open(media_dir / "small.jpg") as img:
        assert img.format == "JPEG"
    streams = _probe(media_dir / "clip.mp4")
    assert {s["codec_name"] for s in streams} == {"h264", "aac"}
    assert any(s.get("width") == 320 and s.get("height") == 240 for s in streams)
    portrait = _probe(media_dir / "clip_portrait.mp4")
    assert any(s.get("width") == 240 and s.get("height") == 320 for s in portrait)
    assert (media_dir / "truncated.mp4").stat().st_size == (media_dir / "clip.mp4").stat().st_size // 2
    assert (media_dir / "zero.png").stat().st_size == 0
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(media_dir / "not_an_image.png")
    with pytest.raises(Image.DecompressionBombError):
        Image.open(media_dir / "bomb.png")
