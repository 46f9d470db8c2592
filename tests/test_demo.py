"""Tests for the shared media fixture and the demo: content generator, seeding, the launcher end to end."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageChops, ImageDraw, ImageFont

from signage_demo import media as demo_media
from signage_demo.content import content
from signage_demo.launcher import free_port
from signage_demo.processes import Supervisor
from signage_demo.seed import ACCOUNTS, migrate_database, seed_accounts
from signage_demo.tofu import find_tofu
from tests.fixtures.waiting import eventually

REPO = Path(__file__).resolve().parent.parent
DEMO = content()
TOFU = "\U0010fffd"  # a private-use code point no font has: renders as the font's .notdef box


def _probe(path: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    streams: list[dict[str, object]] = json.loads(out)["streams"]
    return streams


def _distinct_levels(img: Image.Image) -> int:
    colours = img.convert("L").resize((96, 96)).getcolors(256) or []
    return len(colours)


# --------------------------------------------------------------------------- media fixture


def test_media_dir_holds_the_promised_files(media_dir: Path) -> None:
    with Image.open(media_dir / "landscape.png") as img:
        assert img.size == (1920, 1080)
        assert _distinct_levels(img) > 10
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


# --------------------------------------------------------------------------- content generator


def _glyph(font: ImageFont.FreeTypeFont, ch: str) -> Image.Image:
    img = Image.new("L", (font.size * 2, font.size * 2), 0)  # type: ignore[arg-type]
    ImageDraw.Draw(img).text((4, 4), ch, font=font, fill=255)
    return img


def _tofu_chars(texts: list[str], font: ImageFont.FreeTypeFont) -> set[str]:
    """Characters that render exactly like the .notdef (tofu) box of `font`."""
    tofu = _glyph(font, TOFU)
    chars = {ch for text in texts for ch in text if not ch.isspace()}
    return {ch for ch in chars if ImageChops.difference(_glyph(font, ch), tofu).getbbox() is None}


def _demo_texts() -> list[str]:
    slides = [*DEMO.announcements, *DEMO.fillers]
    slides += [scene for m in DEMO.merchants for scene in m.scenes]
    texts = [
        getattr(s, f)
        for s in slides
        for f in ("tag_zh", "tag_en", "title_zh", "title_en", "body_zh", "body_en", "footer_zh", "footer_en")
    ]
    texts += [label for s in slides for label, _ in s.chips]
    texts += [icon.glyph for icon in DEMO.icons.values()]
    texts += [DEMO.community_zh, DEMO.community_en]
    return texts


def test_every_demo_character_has_a_real_glyph_not_tofu() -> None:
    font = ImageFont.truetype(str(demo_media.find_cjk_font()), 40, index=2)
    # the check itself works: a code point no font has is caught, Chinese is not
    assert _tofu_chars(["停水通知", TOFU], font) == {TOFU}
    assert _tofu_chars(_demo_texts(), font) == set()


def test_a_slide_is_drawn_with_chinese_text_and_both_orientations(tmp_path: Path) -> None:
    slide = DEMO.announcements[0]
    landscape, portrait = demo_media.write_slide(slide, tmp_path)
    with Image.open(landscape) as img:
        assert img.size == demo_media.LANDSCAPE
        assert _distinct_levels(img) > 40
    with Image.open(portrait) as img:
        assert img.size == demo_media.PORTRAIT
    # idempotent: a second call finds the files and leaves them alone
    mtime = landscape.stat().st_mtime_ns
    demo_media.write_slide(slide, tmp_path)
    assert landscape.stat().st_mtime_ns == mtime


def test_wrap_text_keeps_lines_within_width() -> None:
    font = ImageFont.truetype(str(demo_media.find_cjk_font()), 40, index=2)
    text = DEMO.announcements[0].body_zh + " " + DEMO.announcements[0].body_en
    lines = demo_media.wrap_text(text, font, 600)
    assert len(lines) > 3
    assert all(font.getlength(line) <= 600 + font.size for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_committed_assets_are_the_generators_output() -> None:
    assets = REPO / "assets"
    for slide in DEMO.fillers:
        for orient, size in (("landscape", demo_media.LANDSCAPE), ("portrait", demo_media.PORTRAIT)):
            with Image.open(assets / "slides" / f"{slide.key}_{orient}.png") as img:
                assert img.size == size
    for key in DEMO.kiosk_category_icons:
        with Image.open(assets / "icons" / f"{key}.png") as img:
            assert img.size == (256, 256) and img.mode == "RGBA"


@pytest.mark.slow
def test_ad_video_is_h264_in_the_right_size(tmp_path: Path) -> None:
    merchant = DEMO.merchants[0]
    path = demo_media.make_ad_video(merchant, (540, 960), tmp_path / "ad.mp4", scene_seconds=2.0)
    streams = _probe(path)
    assert streams[0]["codec_name"] == "h264"
    assert (streams[0]["width"], streams[0]["height"]) == (540, 960)


# --------------------------------------------------------------------------- seeding


def test_seed_accounts_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    migrate_database(url)
    now = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
    accounts = ACCOUNTS[:2]  # each one costs an argon2 hash
    assert seed_accounts(url, now, accounts) == [a.username for a in accounts]
    assert seed_accounts(url, now, accounts) == []


# --------------------------------------------------------------------------- child processes


def test_supervisor_stops_a_child_and_its_grandchildren(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", grace_s=3)
    child = supervisor.start("shell", ["sh", "-c", "sleep 60 & echo $! > grandchild.pid; wait"], cwd=tmp_path)
    deadline = time.monotonic() + 5
    while not (tmp_path / "grandchild.pid").exists() or not (tmp_path / "grandchild.pid").read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    supervisor.stop_all()
    assert child.popen.returncode is not None
    eventually(lambda: not _pid_alive(grandchild) or _is_zombie(grandchild), 5, "the grandchild's end")
    assert "starting: sh -c" in (tmp_path / "logs" / "shell.log").read_text()


def test_children_die_when_the_launcher_is_killed_outright(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from signage_demo.processes import Supervisor\n"
        "c = Supervisor(Path(sys.argv[1])).start('sleeper', ['sleep', '60'])\n"
        "print(c.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _pid_alive(child_pid)
    parent.kill()  # SIGKILL: no handler runs in the launcher
    parent.wait()
    deadline = time.monotonic() + 5
    while _pid_alive(child_pid) and not _is_zombie(child_pid):
        assert time.monotonic() < deadline, "the child outlived its killed launcher"
        time.sleep(0.05)


# --------------------------------------------------------------------------- the launcher


class DemoRun:
    """A `signage-demo` child process with its output collected line by line."""

    def __init__(self, var_dir: Path, port: int) -> None:
        self.var_dir = var_dir
        self.port = port
        env = dict(os.environ)
        env.pop("DISPLAY", None)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "signage_demo.launcher",
                "--port",
                str(port),
                "--var-dir",
                str(var_dir),
                "--assets-dir",
                str(REPO / "assets"),
                "--no-videos",
                "--screenshot-interval",
                "2",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not seen in the demo's output:\n{self.output[-4000:]}")

    @property
    def run_file(self) -> dict[str, object]:
        doc: dict[str, object] = json.loads((self.var_dir / "demo" / "run.json").read_text())
        return doc

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoRun]:
    run = DemoRun(tmp_path / "var", free_port("127.0.0.1"))
    yield run
    run.kill()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_screenshot(directory: Path, timeout_s: float) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        shots = sorted(directory.glob("*.png"), key=lambda p: p.stat().st_mtime)
        for shot in reversed(shots):
            try:
                with Image.open(shot) as img:
                    img.load()
                return shot
            except OSError:
                continue  # being written
        time.sleep(0.3)
    raise AssertionError(f"no screenshot in {directory} within {timeout_s:.0f} s")


@pytest.mark.slow
def test_demo_starts_every_app_draws_and_ctrl_c_stops_everything(demo: DemoRun) -> None:
    demo.wait_for("Press Ctrl-C to stop everything.", timeout_s=85)  # the issue allows 90 s
    base = f"http://127.0.0.1:{demo.port}"
    assert f"{base}/portal/" in demo.output and f"{base}/api/v1/docs" in demo.output
    assert "operator" in demo.output and "operator-demo" in demo.output

    assert requests.get(f"{base}/api/v1/health", timeout=5).json()["status"] == "ok"
    assert requests.get(f"{base}/api/v1/docs", timeout=5).status_code == 200
    assert requests.get(f"{base}/portal/", timeout=10).status_code == 200  # the log-in page
    token = requests.post(
        f"{base}/api/v1/auth/token", json={"username": "operator", "password": "operator-demo"}, timeout=10
    )
    assert token.status_code == 200, token.text
    auth = {"Authorization": f"Bearer {token.json()['token']}"}
    screens = requests.get(f"{base}/api/v1/screens", timeout=10, headers=auth).json()
    assert {s["screen_class"] for s in screens} == {"outdoor_large", "indoor_small", "kiosk"}
    # the seeded content: every notice in both orientations, every merchant's campaigns approved
    announcements = requests.get(f"{base}/api/v1/announcements", timeout=10, headers=auth).json()
    assert len(announcements) == 2 * len(DEMO.announcements) + 1  # + a text-only notice
    assert any("停水通知" in a["title"] for a in announcements)
    campaigns = requests.get(f"{base}/api/v1/campaigns", timeout=10, headers=auth).json()
    assert len(campaigns) == 2 * len(DEMO.merchants)
    assert {c["state"] for c in campaigns} == {"approved"}
    provider = requests.post(
        f"{base}/api/v1/auth/token", json={"username": "provider", "password": "provider-demo"}, timeout=10
    ).json()["token"]
    services = requests.get(
        f"{base}/api/v1/provider/services", timeout=10, headers={"Authorization": f"Bearer {provider}"}
    ).json()
    assert [len(s["slots"]) for s in services] == [6]  # one bookable service, two slots a day for 3 days

    run = demo.run_file
    children = run["children"]
    assert isinstance(children, dict)
    apps = sorted(set(children) - {"server"})
    assert apps == ["kiosk", "lobby", "outdoor"], f"not every app started:\n{demo.output[-3000:]}"
    for app in apps:
        shot = _wait_screenshot(demo.var_dir / "demo" / "screens" / app, timeout_s=30)
        with Image.open(shot) as img:
            assert img.width >= 320 and img.height >= 320
            low, high = img.convert("L").getextrema()
            assert high - low > 60, f"{app}: screenshot {shot.name} is (almost) uniform"
            assert _distinct_levels(img) > 8, f"{app}: screenshot {shot.name} shows next to nothing"
            assert find_tofu(img) == [], f"{app}: screenshot {shot.name} shows tofu boxes, not glyphs"

    pids = [int(pid) for pid in children.values()]
    assert all(_pid_alive(pid) for pid in pids)
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(timeout=25) == 0, demo.output[-3000:]
    assert not any(_pid_alive(pid) for pid in pids), "a demo child survived Ctrl-C"
    with pytest.raises(ProcessLookupError):
        os.killpg(demo.proc.pid, 0)  # nothing left in the launcher's process group either
    assert "demo stopped" in demo.output
    assert not (demo.var_dir / "demo" / "run.json").exists()


def test_readme_configuration_reference_is_current() -> None:
    from signage_demo import config_reference

    readme = (REPO / "README.md").read_text()
    table = config_reference.render()
    assert "`SIGNAGE_SECRET_KEY`" in table and "`SIGNAGE_DEMO_PORT`" in table
    assert config_reference.splice(readme, table) == readme, (
        "README.md's configuration reference is out of date: "
        "run .venv/bin/python -m signage_demo.config_reference --write README.md"
    )


# --------------------------------------------------------------------------- tofu detector


def _qt_label_png(qtbot: object, text: str, tmp_path: Path, point_size: int) -> Image.Image:
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QLabel

    label = QLabel(text)
    label.setFont(QFont("Noto Sans CJK SC", point_size))
    label.setStyleSheet("background: #0d47a1; color: white; padding: 12px;")
    qtbot.addWidget(label)  # type: ignore[attr-defined]
    label.adjustSize()
    path = tmp_path / f"label-{point_size}.png"
    assert label.grab().save(str(path))
    return Image.open(path)


@pytest.mark.parametrize("point_size", [18, 28, 48])
def test_find_tofu_sees_qt_notdef_boxes_and_not_real_chinese(
    qtbot: object, tmp_path: Path, point_size: int
) -> None:
    clean = _qt_label_png(qtbot, "停水通知 体检 回 田 间 Water", tmp_path, point_size)
    assert find_tofu(clean) == []
    broken = _qt_label_png(qtbot, f"停水 {TOFU} 社区 {TOFU}{TOFU} W", tmp_path, point_size)
    assert len(find_tofu(broken)) == 3


def test_find_tofu_passes_a_real_slide_full_of_chinese() -> None:
    with Image.open(REPO / "assets" / "slides" / "default_services_landscape.png") as img:
        assert find_tofu(img) == []
