"""Uploads rebuilt, not trusted: hostile and ordinary files of our own making through the intake."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from content_server.signage.media_intake import Intake, intake
from content_server.signage.media_rebuild import MediaRefused, is_animated
from content_server.signage.media_video import (
    TranscodeProgress,
    TranscodeStopped,
    is_variable_rate,
    parse_progress,
    playback_problems,
    probe,
    transcode,
)
from schedules.model import ScreenClass
from tests.fixtures import hostile_media
from tests.fixtures.hostile_media import PHP, SCRIPT

MAX_PIXELS = 50_000_000


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield hostile_media.generate(tmp_path_factory.mktemp("hostile"))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A work directory whose path a refusal must never show."""
    d = tmp_path / "media-store" / "incoming-7f3a"
    d.mkdir(parents=True)
    return d


def _take(corpus: Path, name: str, store: Path) -> Intake:
    return intake(corpus / name, store, max_pixels=MAX_PIXELS)


def _refused(corpus: Path, name: str, store: Path) -> MediaRefused:
    with pytest.raises(MediaRefused) as e:
        _take(corpus, name, store)
    return e.value


# --- pictures -------------------------------------------------------------------------------


def test_a_jpeg_php_polyglot_is_rebuilt_without_the_php(corpus: Path, store: Path) -> None:
    upload = (corpus / "polyglot.jpg").read_bytes()
    assert PHP in upload and upload.index(PHP) < 50 and upload.rstrip().endswith(SCRIPT)  # what we feed it
    got = _take(corpus, "polyglot.jpg", store)
    data = got.path.read_bytes()
    assert got.media_type == "image/jpeg" and (got.width, got.height) == (800, 600)
    assert PHP not in data and SCRIPT not in data and b"<?php" not in data
    assert data.endswith(b"\xff\xd9")  # nothing after the end-of-image marker
    with Image.open(got.path) as im:
        assert not im.getexif() and "comment" not in im.info and "icc_profile" not in im.info
        assert im.size == (800, 600)
    assert got.source_sha256 != got.path.name.split(".")[0]  # the upload's hash is kept for duplicates


def test_a_gif_with_a_trailing_script_becomes_a_clean_png(corpus: Path, store: Path) -> None:
    assert SCRIPT in (corpus / "trailing.gif").read_bytes()
    got = _take(corpus, "trailing.gif", store)
    data = got.path.read_bytes()
    assert got.media_type == "image/png" and SCRIPT not in data and PHP not in data
    assert data.endswith(b"IEND\xaeB`\x82")
    with Image.open(got.path) as im:
        assert "comment" not in im.info and im.size == (400, 300)


def test_png_text_chunks_and_trailing_html_are_gone(corpus: Path, store: Path) -> None:
    got = _take(corpus, "png_text.png", store)
    data = got.path.read_bytes()
    assert b"tEXt" not in data and b"iTXt" not in data and b"<html>" not in data and PHP not in data
    assert data.endswith(b"IEND\xaeB`\x82")


@pytest.mark.parametrize("name", ["phone_exif6.jpg", "phone_exif8.jpg"])
def test_an_upright_phone_photo_is_recorded_and_stored_as_people_see_it(
    corpus: Path, store: Path, name: str
) -> None:
    with Image.open(corpus / name) as raw:
        assert raw.size == (1600, 1200) and raw.getexif()[0x8825]  # stored landscape, with GPS
    got = _take(corpus, name, store)
    assert (got.width, got.height) == (1200, 1600)  # portrait, as taken
    with Image.open(got.path) as im:
        assert im.size == (1200, 1600) and not im.getexif()  # orientation applied, GPS and maker gone
        rgb = im.convert("RGB")
        top = rgb.getpixel((600, 40))
        bottom = rgb.getpixel((600, 1560))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 180 and top[2] < 80  # the scene's top (marked red) is at the top
    assert bottom[2] > 150 and bottom[0] < 80
    with Image.open(__import__("io").BytesIO(got.thumbnail_png)) as thumb:
        assert thumb.height > thumb.width


def test_slivers_and_specks_are_refused_and_small_led_pictures_suit_only_outdoor(
    corpus: Path, store: Path
) -> None:
    e = _refused(corpus, "sliver.png", store)
    assert e.code == "image_aspect" and "10000×1" in e.text.en and "10000×1" in e.text.zh
    e = _refused(corpus, "speck.png", store)
    assert e.code == "image_too_small" and "40×30" in e.text.en
    assert _take(corpus, "led_only.png", store).screen_classes == frozenset({ScreenClass.OUTDOOR_LARGE})
    assert _take(corpus, "png_text.png", store).screen_classes == frozenset(ScreenClass)


def test_sixteen_bit_greys_keep_their_tones_and_cut_files_are_refused(corpus: Path, store: Path) -> None:
    got = _take(corpus, "grey16.png", store)
    with Image.open(got.path) as im:
        lo, hi = im.convert("L").getextrema()
    assert lo < 10 and hi > 240  # a full ramp, not a white sheet
    assert _refused(corpus, "cut.jpg", store).code == "image_damaged"


def test_bombs_empty_and_unknown_files_are_refused(media_dir: Path, store: Path) -> None:
    assert _refused(media_dir, "bomb.png", store).code == "image_bomb"
    assert _refused(media_dir, "zero.png", store).code == "empty"
    e = _refused(media_dir, "not_an_image.png", store)
    assert e.code == "unsupported_type" and e.status == 415


# --- animations -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp"])
def test_an_animation_becomes_a_constant_rate_h264_video_of_whole_cycles(
    corpus: Path, store: Path, name: str
) -> None:
    assert is_animated(corpus / name, MAX_PIXELS)
    got = _take(corpus, name, store)
    assert got.kind == "video" and got.from_animation and got.media_type == "video/mp4"
    assert got.codec == "h264" and got.needs_transcode == ()  # ready for the players as it is
    # GIF: 30 frames, delays 40..200 ms in fives = 3.6 s a cycle -> 3 cycles = 10.8 s
    # WebP: 12 frames x 120 ms = 1.44 s a cycle -> 7 cycles = 10.08 s
    expected = 10.8 if name.endswith(".gif") else 10.08
    assert got.duration_s == pytest.approx(expected, abs=0.05)
    facts = probe(got.path)
    assert not is_variable_rate(facts.packets[facts.video.index])
    assert (got.width, got.height) == (320, 240)


def test_thousands_of_frames_or_minutes_of_animation_are_refused_with_a_reason(
    corpus: Path, store: Path
) -> None:
    e = _refused(corpus, "frames4000.gif", store)
    assert e.code == "animation_frames" and "1500" in e.text.en and "1500" in e.text.zh
    e = _refused(corpus, "long.gif", store)
    assert e.code == "animation_long" and "140" in e.text.en


# --- videos ---------------------------------------------------------------------------------


def test_an_ordinary_h264_video_is_kept_as_it_came(corpus: Path, store: Path) -> None:
    got = _take(corpus, "ordinary.mp4", store)
    assert got.path == corpus / "ordinary.mp4" and got.needs_transcode == ()
    assert (got.width, got.height, got.codec) == (1280, 720, "h264")
    assert got.duration_s == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize(("name", "claimed"), [("lying.mp4", "600.0"), ("truncated.mp4", "3.0")])
def test_a_container_that_claims_a_duration_its_streams_lack_is_refused(
    corpus: Path, store: Path, name: str, claimed: str
) -> None:
    e = _refused(corpus, name, store)
    assert e.code == "video_duration_mismatch" and claimed in e.text.en and claimed in e.text.zh


@pytest.mark.parametrize(
    ("name", "problems", "shown"),
    [
        ("vfr.mp4", ("variable_frame_rate",), (640, 360)),
        ("hevc4k.mp4", ("codec", "pixel_format", "resolution"), (3840, 2160)),
        ("vp9.webm", ("container", "codec", "pixel_format", "audio"), (640, 360)),
        ("rotated.mp4", ("rotation",), (720, 1280)),
        ("yuv444.mp4", ("profile", "pixel_format"), (640, 360)),
    ],
)
def test_videos_players_would_not_decode_well_are_marked_for_transcoding(
    corpus: Path, store: Path, name: str, problems: tuple[str, ...], shown: tuple[int, int]
) -> None:
    got = _take(corpus, name, store)
    assert got.needs_transcode == problems
    assert (got.width, got.height) == shown  # a phone video held upright is recorded portrait


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("hevc4k.mp4", (1920, 1080)),
        ("rotated.mp4", (720, 1280)),
        ("vfr.mp4", (640, 360)),
        ("vp9.webm", (640, 360)),
    ],
)
def test_transcoding_gives_what_players_decode_well(
    corpus: Path, tmp_path: Path, name: str, size: tuple[int, int]
) -> None:
    src = corpus / name
    facts = probe(src)
    reports: list[TranscodeProgress] = []
    out = transcode(src, tmp_path / "out.mp4", facts, on_progress=reports.append)
    assert playback_problems(out) == ()
    assert out.display_size == size and out.video.rotation == 0
    assert out.seconds == pytest.approx(facts.seconds, abs=0.2)
    assert reports and reports[-1].fraction == 1.0
    assert (tmp_path / "out.mp4").exists()


def test_transcoding_reports_progress_and_stops_when_asked(tmp_path: Path) -> None:
    src = tmp_path / "long-hevc.mp4"
    hostile_media._ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=960x540:rate=25",
        "-t",
        "12",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        str(src),
    )
    facts = probe(src)
    reports: list[TranscodeProgress] = []
    transcode(src, tmp_path / "out.mp4", facts, on_progress=reports.append)
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([f for f in fractions if 0 < f < 1]) >= 2, fractions  # progress in between, not just done

    stop = threading.Event()

    def halt(p: TranscodeProgress) -> None:
        stop.set()

    with pytest.raises(TranscodeStopped):
        transcode(src, tmp_path / "stopped.mp4", facts, on_progress=halt, stop=stop)
    assert not (tmp_path / "stopped.mp4").exists()


def test_progress_lines_parse_into_reports() -> None:
    lines = [
        "frame=10",
        "out_time_us=2000000",
        "speed=1.5x",
        "progress=continue",
        "out_time_us=N/A",
        "progress=continue",
        "out_time_ms=6000000",
        "speed=2x",
        "progress=continue",
        "out_time_us=8000000",
        "progress=end",
    ]
    got = list(parse_progress(lines, 8.0))
    assert [(r.fraction, r.done_s, r.speed) for r in got] == [
        (0.25, 2.0, 1.5),
        (0.25, 2.0, 1.5),
        (0.75, 6.0, 2.0),
        (1.0, 8.0, 2.0),
    ]


# --- refusal reasons are for people -------------------------------------------------------------

_PATHISH = re.compile(
    r"(/[\w.-]+){2,}|[A-Za-z]:\\|\\\\|0x[0-9a-fA-F]{4,}|@ ?0x|\bpytest-|\btmp\b|incoming-7f3a"
)


def test_no_refusal_reason_shows_a_path_or_decoder_internals(
    corpus: Path, media_dir: Path, store: Path, tmp_path: Path
) -> None:
    # everything refusable we have, plus files made to provoke decoder messages
    extra = tmp_path / "weird"
    extra.mkdir()
    (extra / "garbage.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    (extra / "webm-header.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 100)
    (extra / "png-head.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (extra / "gif-head.gif").write_bytes(b"GIF89a" + b"\xff" * 30)
    shutil.copy(media_dir / "bomb.png", extra / "bomb.png")
    candidates = [*corpus.iterdir(), *media_dir.iterdir(), *extra.iterdir()]
    reasons: dict[str, MediaRefused] = {}
    for f in candidates:
        try:
            intake(f, store, max_pixels=MAX_PIXELS)
        except MediaRefused as e:
            reasons[f.name] = e
    assert {
        "sliver.png",
        "speck.png",
        "cut.jpg",
        "frames4000.gif",
        "long.gif",
        "lying.mp4",
        "truncated.mp4",
        "garbage.mp4",
        "webm-header.webm",
        "png-head.png",
        "gif-head.gif",
        "bomb.png",
    } <= set(reasons)
    for name, e in reasons.items():
        for text in (e.text.en, e.text.zh, str(e)):
            assert not _PATHISH.search(text), (name, text)
            assert str(store) not in text and str(corpus) not in text and name not in text, (name, text)
        assert e.text.zh != e.text.en and e.status in (415, 422)
