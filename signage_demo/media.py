"""Demo media made on this machine (Pillow + ffmpeg, nothing downloaded), from ``data/*.toml``.

What the slides say is data (:mod:`signage_demo.content`); this module draws it: bilingual
announcement slides, the merchants' ads as images and short H.264 videos in landscape 1920x1080
and portrait 1080x1920, the filler slides, a logo and the service-category icons.

The small, stable artwork (filler slides, logo, icons) is committed under ``assets/``
(regenerate with ``python -m signage_demo.media --assets assets``); the bulky announcement slides
and videos are made at demo time under ``var/`` by :func:`generate_demo_media`. Generation is
deterministic, so a second run finds the files and returns at once.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from signage_demo.content import RGB, Icon, Merchant, Slide, content, layout
from signage_demo.errors import DemoError

log = logging.getLogger(__name__)

Size = tuple[int, int]

LANDSCAPE: Size = (1920, 1080)
PORTRAIT: Size = (1080, 1920)

_FONT_FALLBACKS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
)
_SC_FACE_INDEX = 2  # inside NotoSansCJK-*.ttc: JP, KR, SC, TC, HK


class DemoMediaError(DemoError):
    """Demo content could not be made (no CJK font, ffmpeg missing or failing)."""


@dataclass
class DemoMedia:
    """Where each generated file is: keys are slide keys, values (landscape, portrait) paths."""

    announcements: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    ad_images: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    ad_videos: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    fillers: dict[str, tuple[Path, Path]] = field(default_factory=dict)


# --------------------------------------------------------------------------- drawing


def find_cjk_font(bold: bool = False) -> Path:
    """Locate Noto Sans CJK (a .ttc) through fontconfig, falling back to Debian's paths."""
    weight = "Bold" if bold else "Regular"
    fc_match = shutil.which("fc-match")
    if fc_match:
        pattern = f"Noto Sans CJK SC:{'bold' if bold else 'regular'}"
        out = subprocess.run(
            [fc_match, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        if "CJK" in out and Path(out).is_file():
            return Path(out)
    for candidate in _FONT_FALLBACKS:
        path = Path(candidate.format(weight=weight))
        if path.is_file():
            return path
    raise DemoMediaError("Noto Sans CJK not found: install the Debian package fonts-noto-cjk")


@lru_cache(maxsize=64)
def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = find_cjk_font(bold)
    index = _SC_FACE_INDEX if path.suffix == ".ttc" else 0
    return ImageFont.truetype(str(path), size, index=index)


def _px(font: ImageFont.FreeTypeFont) -> int:
    return int(font.size)


def _gradient(size: Size, top: RGB, bottom: RGB) -> Image.Image:
    mask = Image.linear_gradient("L").resize(size)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break `text` into lines no wider than `width`: by word for Latin, by character for CJK."""
    lines: list[str] = []
    line = ""
    token = ""

    def flush_token() -> None:
        nonlocal line, token
        if not token:
            return
        candidate = line + token
        if line and font.getlength(candidate.rstrip()) > width:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line = candidate
        token = ""

    for ch in text:
        if ch == " ":
            token += ch
            flush_token()
        elif ord(ch) > 0x2E80:  # CJK and full-width punctuation: a break is allowed anywhere
            flush_token()
            # keep closing punctuation with the character before it
            if ch in "，。、；：）」』！？" and line:
                line += ch
                if font.getlength(line) > width + _px(font):
                    lines.append(line[:-2])
                    line = line[-2:]
                continue
            token = ch
            flush_token()
        else:
            token += ch
    flush_token()
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    xy: tuple[int, int],
    font: ImageFont.FreeTypeFont,
    fill: RGB,
    spacing: float = 1.35,
    anchor_centre: int | None = None,
) -> int:
    """Draw lines from `xy` downwards (centred on x=`anchor_centre` if given); return the next y."""
    x, y = xy
    step = int(_px(font) * spacing)
    for text in lines:
        if anchor_centre is not None:
            draw.text((anchor_centre, y), text, font=font, fill=fill, anchor="ma")
        else:
            draw.text((x, y), text, font=font, fill=fill)
        y += step
    return y


def draw_icon(size: int, icon: Icon, ring: RGB = (255, 255, 255)) -> Image.Image:
    """A round badge: the icon's colour, a white ring, one big glyph (readable from a distance)."""
    scale = 4  # draw large and downsample for smooth edges
    big = size * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse([0, 0, big - 1, big - 1], fill=(*ring, 255))
    pad = big // 18
    draw.ellipse([pad, pad, big - 1 - pad, big - 1 - pad], fill=(*icon.colour, 255))
    draw.text(
        (big // 2, big // 2),
        icon.glyph,
        font=_font(int(big * 0.52), bold=True),
        fill=(255, 255, 255, 255),
        anchor="mm",
    )
    return img.resize((size, size), Image.Resampling.LANCZOS)


def _pill(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: RGB,
    ink: RGB,
    right_align: bool = False,
) -> int:
    """A rounded label; returns its width."""
    pad_x, pad_y = _px(font) // 2, _px(font) // 4
    w = int(font.getlength(text)) + 2 * pad_x
    h = _px(font) + 2 * pad_y
    x, y = xy
    if right_align:
        x -= w
    draw.rounded_rectangle([x, y, x + w, y + h], radius=h // 2, fill=fill)
    draw.text((x + pad_x, y + h // 2), text, font=font, fill=ink, anchor="lm")
    return w


def _header(img: Image.Image, slide: Slide, scale: float) -> int:
    """The community strip on top: logo, name, the slide's tag. Returns its height."""
    width = img.width
    h = int(120 * scale)
    band = Image.new("RGBA", (width, h), (0, 0, 0, 70))
    img.paste(band, (0, 0), band)
    draw = ImageDraw.Draw(img)
    logo = draw_icon(int(h * 0.72), content().icons["welcome"])
    m = int(40 * scale)
    img.paste(logo, (m, (h - logo.height) // 2), logo)
    name_font = _font(int(40 * scale), bold=True)
    x = m + logo.width + int(20 * scale)
    if img.height > img.width:  # portrait: too narrow for one line beside the tag
        draw.text((x, h // 2), content().community_zh, font=name_font, fill=slide.palette.ink, anchor="ls")
        draw.text(
            (x, h // 2 + int(6 * scale)),
            content().community_en,
            font=_font(int(26 * scale)),
            fill=slide.palette.soft_ink,
            anchor="lt",
        )
    else:
        draw.text(
            (x, h // 2),
            f"{content().community_zh}  {content().community_en}",
            font=name_font,
            fill=slide.palette.ink,
            anchor="lm",
        )
    tag_font = _font(int(34 * scale), bold=True)
    _pill(
        draw,
        (width - m, h // 2 - int(_px(tag_font) * 0.75)),
        f"{slide.tag_zh} {slide.tag_en}",
        tag_font,
        slide.palette.accent,
        _contrast(slide.palette.accent),
        right_align=True,
    )
    return h


def _contrast(colour: RGB) -> RGB:
    r, g, b = colour
    return (33, 33, 33) if (0.299 * r + 0.587 * g + 0.114 * b) > 150 else (255, 255, 255)


def _footer(img: Image.Image, slide: Slide, scale: float, h: int) -> None:
    width, height = img.size
    portrait = height > width
    band = Image.new("RGBA", (width, h), (0, 0, 0, 90))
    img.paste(band, (0, height - h), band)
    draw = ImageDraw.Draw(img)
    font = _font(int(32 * scale))
    if portrait:
        draw.text(
            (width // 2, height - h // 2),
            slide.footer_zh,
            font=font,
            fill=slide.palette.soft_ink,
            anchor="md",
        )
        draw.text(
            (width // 2, height - h // 2 + int(8 * scale)),
            slide.footer_en,
            font=font,
            fill=slide.palette.soft_ink,
            anchor="ma",
        )
    else:
        draw.text(
            (width // 2, height - h // 2),
            f"{slide.footer_zh}    {slide.footer_en}",
            font=font,
            fill=slide.palette.soft_ink,
            anchor="mm",
        )


def _chips(
    draw: ImageDraw.ImageDraw,
    chips: tuple[tuple[str, RGB], ...],
    x: int,
    y: int,
    width: int,
    scale: float,
    centred: bool,
) -> int:
    font = _font(int(34 * scale), bold=True)
    gap = int(18 * scale)
    widths = [int(font.getlength(label)) + _px(font) for label, _ in chips]
    rows: list[list[int]] = [[]]
    used = 0
    for i, w in enumerate(widths):
        if rows[-1] and used + w > width:
            rows.append([])
            used = 0
        rows[-1].append(i)
        used += w + gap
    h = _px(font) + _px(font) // 2
    for row in rows:
        row_w = sum(widths[i] for i in row) + gap * (len(row) - 1)
        cx = x + (width - row_w) // 2 if centred else x
        for i in row:
            label, colour = chips[i]
            _pill(draw, (cx, y), label, font, colour, (255, 255, 255))
            cx += widths[i] + gap
        y += h + gap
    return y


def render_slide(slide: Slide, size: Size) -> Image.Image:
    """Draw ``slide`` at ``size`` as ``data/layout.toml`` says: landscape puts the icon left of the
    text, portrait above it, centred."""
    width, height = size
    portrait = height > width
    spec = layout()["portrait" if portrait else "landscape"]
    scale = width / spec["reference_width"]

    def px(value: float) -> int:
        return int(value * scale)

    img = _gradient(size, slide.palette.top, slide.palette.bottom).convert("RGBA")
    deco = Image.new("RGBA", size, (0, 0, 0, 0))  # a soft accent circle for depth
    ImageDraw.Draw(deco).ellipse(
        [int(width * 0.62), int(height * 0.45), int(width * 1.25), int(height * 1.4)],
        fill=(*slide.palette.accent, 38),
    )
    img = Image.alpha_composite(img, deco)
    top = _header(img, slide, scale)
    draw = ImageDraw.Draw(img)
    icon_size = px(spec["icon"]["size"])
    badge = draw_icon(icon_size, content().icons[slide.icon])
    centre: int | None
    if portrait:
        img.paste(badge, ((width - icon_size) // 2, top + px(spec["icon"]["top"])), badge)
        x, centre, text_w = px(spec["text_margin"]), width // 2, width - 2 * px(spec["text_margin"])
        y = top + px(spec["icon"]["top"]) + icon_size + px(spec["text_top"])
    else:
        margin = px(spec["icon"]["margin"])
        img.paste(badge, (margin, top + (height - top - px(spec["text_top"]) - icon_size) // 2), badge)
        x, centre = margin * 2 + icon_size, None
        text_w, y = width - x - margin, top + px(spec["text_top"])
    colours = {"ink": slide.palette.ink, "accent": slide.palette.accent, "soft_ink": slide.palette.soft_ink}
    for line in spec["lines"]:
        y += px(line.get("before", 0))
        font = _font(px(line["size"]), line.get("bold", False))
        text = wrap_text(getattr(slide, line["field"]), font, text_w)
        y = _draw_lines(draw, text, (x, y), font, colours[line["colour"]], line["spacing"], centre)
        if line.get("rule_after"):
            rule = spec["rule"]
            y += px(rule["before"])
            left = x if centre is None else centre - px(rule["width"]) // 2
            box = [left, y, left + px(rule["width"]), y + px(rule["height"])]
            draw.rectangle(box, fill=slide.palette.accent)
            y += px(rule["after"])
    if slide.chips:
        _chips(draw, slide.chips, x, y + px(spec["chips_before"]), text_w, scale, centred=portrait)
    _footer(img, slide, scale, px(spec["footer_height"]))
    return img.convert("RGB")


# --------------------------------------------------------------------------- files


def _save_png(img: Image.Image, path: Path, compress_level: int = 6) -> Path:
    """Write atomically (temp file + rename) so a crash never leaves a half-written slide."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    img.save(tmp, format="PNG", compress_level=compress_level)
    tmp.replace(path)
    return path


def write_slide(slide: Slide, directory: Path, compress_level: int = 6) -> tuple[Path, Path]:
    """Render `slide` landscape and portrait into `directory` unless both files already exist."""
    landscape = directory / f"{slide.key}_landscape.png"
    portrait = directory / f"{slide.key}_portrait.png"
    for path, size in ((landscape, LANDSCAPE), (portrait, PORTRAIT)):
        if not path.exists():
            _save_png(render_slide(slide, size), path, compress_level)
    return landscape, portrait


def ffmpeg_path() -> str:
    found = shutil.which("ffmpeg")
    if not found:
        raise DemoMediaError("ffmpeg not found: install the Debian package ffmpeg")
    return found


def make_ad_video(
    merchant: Merchant,
    size: Size,
    path: Path,
    scene_seconds: float = 5.0,
    fps: int = 25,
    stop: threading.Event | None = None,
) -> Path:
    """An H.264 ad: scene one, a slide transition, scene two (about 2 x `scene_seconds` long).

    A set `stop` event ends a running ffmpeg at once (the demo is shutting down); the file is
    then not written.
    """
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fade = 1.0
    with tempfile.TemporaryDirectory(prefix="demo-ad-") as tmp:
        scenes = []
        for i, scene in enumerate(merchant.scenes):
            scene_path = Path(tmp) / f"scene{i}.png"
            render_slide(scene, size).save(scene_path)
            scenes.append(scene_path)
        partial = path.with_name(f".{path.stem}.partial.mp4")
        still = ["-loop", "1", "-framerate", str(fps), "-t", f"{scene_seconds}", "-i"]
        cmd = [
            ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y",
            *still, str(scenes[0]), *still, str(scenes[1]),
            "-filter_complex", f"[0:v][1:v]xfade=transition=slideleft:duration={fade}"
            f":offset={scene_seconds - fade},format=yuv420p[v]",
            "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-crf", "26",
            "-g", str(fps * 2), "-r", str(fps), "-movflags", "+faststart", "-an", str(partial),
        ]  # fmt: skip
        _run_ffmpeg(cmd, partial, stop)
        if partial.exists():
            partial.replace(path)
    return path


def _run_ffmpeg(cmd: list[str], output: Path, stop: threading.Event | None, timeout_s: float = 300) -> None:
    """Run ffmpeg; on failure or timeout raise with its last words, on `stop` kill it quietly."""
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        try:
            while proc.poll() is None:
                if (stop is not None and stop.is_set()) or time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    output.unlink(missing_ok=True)
                    if stop is not None and stop.is_set():
                        return
                    raise DemoMediaError(f"ffmpeg took longer than {timeout_s:.0f} s for {output.name}")
                time.sleep(0.1)
        finally:
            if proc.poll() is None:  # an exception above: never leave ffmpeg behind
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            output.unlink(missing_ok=True)
            errors.seek(0)
            detail = errors.read().decode(errors="replace")[-400:]
            raise DemoMediaError(f"ffmpeg failed for {output.name}: {detail}")


def make_demo_videos(
    directory: Path, stop: threading.Event | None = None, workers: int = 2
) -> dict[str, tuple[Path, Path]]:
    """Make every merchant's landscape and portrait ad video under `directory`/ads (cached).

    Runs `workers` ffmpeg processes at a time; a set `stop` event skips the ones not started yet.
    """
    jobs = {
        (m.key, orient): (m, size, directory / "ads" / f"{m.key}_{orient}.mp4")
        for m in content().merchants
        for orient, size in (("landscape", LANDSCAPE), ("portrait", PORTRAIT))
    }

    def run(job: tuple[Merchant, Size, Path]) -> Path:
        merchant, size, path = job
        if stop is not None and stop.is_set():
            return path
        made = not path.exists()
        make_ad_video(merchant, size, path, stop=stop)
        if made and path.exists():
            log.info("made ad video %s", path.name)
        return path

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ffmpeg") as pool:
        paths = dict(zip(jobs, pool.map(run, jobs.values()), strict=True))
    return {m.key: (paths[(m.key, "landscape")], paths[(m.key, "portrait")]) for m in content().merchants}


def write_assets(directory: Path) -> list[Path]:
    """The committed artwork: default filler slides, the community logo, kiosk category icons."""
    written: list[Path] = []
    icons = content().icons
    for slide in content().fillers:
        written.extend(write_slide(slide, directory / "slides"))
    logo = directory / "logo.png"
    if not logo.exists():
        _save_png(draw_icon(512, icons["welcome"]), logo)
    written.append(logo)
    for key in (*content().kiosk_category_icons, "water", "sorting", "fire", "bakery", "pharmacy", "laundry"):
        icon_path = directory / "icons" / f"{key}.png"
        if not icon_path.exists():
            _save_png(draw_icon(256, icons[key]), icon_path)
        written.append(icon_path)
    return written


def generate_demo_media(directory: Path, assets_dir: Path | None = None, videos: bool = True) -> DemoMedia:
    """Make (or find) every demo file under `directory`; fillers come from `assets_dir` if present."""
    out = DemoMedia()
    filler_dir = (assets_dir / "slides") if assets_dir is not None else directory / "fillers"
    demo = content()
    jobs = [(out.announcements, s, directory / "announcements") for s in demo.announcements]
    jobs += [(out.ad_images, scene, directory / "ads") for m in demo.merchants for scene in m.scenes]
    jobs += [(out.fillers, s, filler_dir) for s in demo.fillers]
    # Pillow drops the GIL while it filters and encodes: two threads nearly halve the first run.
    # Level-1 PNG: these files live only under var/ and are re-read by the server once.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="slides") as pool:
        paths = pool.map(lambda job: write_slide(job[1], job[2], compress_level=1), jobs)
        for (target, slide, _), pair in zip(jobs, paths, strict=True):
            target[slide.key] = pair
    if videos:
        out.ad_videos = make_demo_videos(directory)
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI: regenerate the committed assets or the demo media into a directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--assets", type=Path, help="write the committed artwork (fillers, logo, icons) here")
    parser.add_argument("--demo", type=Path, help="write the demo announcements, ads and videos here")
    parser.add_argument("--no-videos", action="store_true", help="skip the ad videos")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not args.assets and not args.demo:
        parser.error("give --assets and/or --demo")
    if args.assets:
        for path in write_assets(args.assets):
            print(path)
    if args.demo:
        media = generate_demo_media(args.demo, assets_dir=args.assets, videos=not args.no_videos)
        for group in (media.announcements, media.ad_images, media.ad_videos, media.fillers):
            for pair in group.values():
                print(*pair, sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
