"""Demo content made on this machine (Pillow + ffmpeg, nothing downloaded).

Produces what a real community would run: bilingual announcements (停水通知, 老年人健康体检日,
垃圾分类提醒, 冬季消防安全), three merchants' ads (bakery, pharmacy, laundry) as images and
short H.264 videos in landscape 1920x1080 and portrait 1080x1920, the community's default
filler slides, a logo and a set of service-category icons.

The small, stable artwork (filler slides, logo, icons) is committed under ``assets/``
(regenerate with ``python -m content_server.demo.media --assets assets``); the bulky
announcement slides and videos are made at demo time under ``var/`` by :func:`generate_demo_media`.
Generation is deterministic, so a second run finds the files and returns at once.
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

from content_server.core.errors import ServerError

log = logging.getLogger(__name__)

Size = tuple[int, int]
RGB = tuple[int, int, int]

LANDSCAPE: Size = (1920, 1080)
PORTRAIT: Size = (1080, 1920)
COMMUNITY_ZH = "幸福里社区"
COMMUNITY_EN = "Xingfuli Community"
ISSUER_ZH = "幸福里社区居民委员会"
ISSUER_EN = "Xingfuli Residents' Committee"

_FONT_FALLBACKS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
)
_SC_FACE_INDEX = 2  # inside NotoSansCJK-*.ttc: JP, KR, SC, TC, HK


class DemoMediaError(ServerError):
    """Demo content could not be made (no CJK font, ffmpeg missing or failing)."""


# --------------------------------------------------------------------------- content


@dataclass(frozen=True)
class Palette:
    top: RGB
    bottom: RGB
    accent: RGB
    ink: RGB = (255, 255, 255)
    soft_ink: RGB = (235, 240, 245)


@dataclass(frozen=True)
class Slide:
    """One bilingual slide: what it says and how it is coloured."""

    key: str
    tag_zh: str
    tag_en: str
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    icon: str  # a key of ICONS
    palette: Palette
    footer_zh: str = f"发布：{ISSUER_ZH}"
    footer_en: str = f"Issued by {ISSUER_EN}"
    chips: tuple[tuple[str, RGB], ...] = ()  # small labelled colour chips under the body


@dataclass(frozen=True)
class Merchant:
    """A local advertiser and the ad it runs: two scenes, shown as images and as a video."""

    key: str
    name_zh: str
    name_en: str
    category: str
    username: str
    scenes: tuple[Slide, Slide]
    ticker_zh: str = ""
    ticker_en: str = ""


@dataclass(frozen=True)
class Icon:
    glyph: str  # one CJK character drawn in a disc
    colour: RGB
    label_zh: str
    label_en: str


ICONS: dict[str, Icon] = {
    "water": Icon("水", (30, 136, 229), "停水", "Water"),
    "health": Icon("医", (229, 57, 53), "健康", "Health"),
    "sorting": Icon("分", (67, 160, 71), "分类", "Sorting"),
    "fire": Icon("防", (244, 81, 30), "消防", "Fire safety"),
    "bakery": Icon("面", (191, 112, 38), "烘焙", "Bakery"),
    "pharmacy": Icon("药", (0, 150, 110), "药房", "Pharmacy"),
    "laundry": Icon("洗", (57, 73, 171), "洗衣", "Laundry"),
    "welcome": Icon("家", (0, 121, 107), "欢迎", "Welcome"),
    # the kiosk's service categories (schedules.protocol.kiosk.ServiceCategory ids)
    "elderly_care": Icon("老", (216, 67, 21), "养老服务", "Elderly care"),
    "housekeeping": Icon("家", (0, 137, 123), "家政服务", "Housekeeping"),
    "repairs": Icon("修", (84, 110, 122), "维修服务", "Repairs"),
    "property": Icon("物", (55, 71, 79), "物业服务", "Property"),
    "merchants": Icon("商", (251, 140, 0), "周边商户", "Local shops"),
    "gov_guides": Icon("政", (198, 40, 40), "政务指南", "Gov. services"),
}
KIOSK_CATEGORY_ICONS = (
    "elderly_care",
    "housekeeping",
    "repairs",
    "property",
    "merchants",
    "health",
    "gov_guides",
)


ANNOUNCEMENTS: tuple[Slide, ...] = (
    Slide(
        key="water_outage",
        tag_zh="社区通知",
        tag_en="NOTICE",
        title_zh="停水通知",
        title_en="Water Supply Interruption",
        body_zh="因市政供水管网维修，11月28日（周六）8:00–18:00，3号、5号、7号楼暂停供水。请各位居民提前储水，关好水龙头。",
        body_en="Due to mains repair, buildings 3, 5 and 7 will have no water on Saturday 28 November, "
        "8:00–18:00. Please store water in advance and keep taps closed.",
        icon="water",
        palette=Palette((13, 71, 161), (21, 101, 192), (255, 193, 7)),
    ),
    Slide(
        key="health_check",
        tag_zh="社区通知",
        tag_en="NOTICE",
        title_zh="老年人健康体检日",
        title_en="Free Health Check for Seniors",
        body_zh="12月3日（周四）9:00–11:30，社区卫生服务站为65岁以上居民免费体检。请空腹前往，携带身份证和医保卡。",
        body_en="Thursday 3 December, 9:00–11:30 at the community health station: free check-ups "
        "for residents aged 65 and over. Please come fasting and bring your ID and insurance card.",
        icon="health",
        palette=Palette((136, 14, 79), (173, 20, 87), (255, 235, 238)),
    ),
    Slide(
        key="garbage_sorting",
        tag_zh="社区通知",
        tag_en="NOTICE",
        title_zh="垃圾分类提醒",
        title_en="Please Sort Your Waste",
        body_zh="投放时间：每天 7:00–9:00、18:00–21:00。请按四类分别投放，大件垃圾请联系物业预约清运。",
        body_en="Drop-off times: daily 7:00–9:00 and 18:00–21:00. Use the four bins; "
        "book bulky-item collection with the property office.",
        icon="sorting",
        palette=Palette((27, 94, 32), (46, 125, 50), (255, 241, 118)),
        chips=(
            ("厨余垃圾 Food", (121, 85, 72)),
            ("可回收物 Recyclable", (21, 101, 192)),
            ("有害垃圾 Hazardous", (198, 40, 40)),
            ("其他垃圾 Other", (84, 110, 122)),
        ),
    ),
    Slide(
        key="fire_safety",
        tag_zh="社区通知",
        tag_en="NOTICE",
        title_zh="冬季消防安全",
        title_en="Winter Fire Safety",
        body_zh="楼道内禁止停放电动车、禁止飞线充电。外出请关闭电暖器和燃气阀门。火警请拨打119。",
        body_en="No e-bikes or charging cables in stairwells. Switch off heaters and gas before "
        "going out. In case of fire, call 119.",
        icon="fire",
        palette=Palette((191, 54, 12), (230, 81, 0), (255, 236, 179)),
    ),
)


MERCHANTS: tuple[Merchant, ...] = (
    Merchant(
        key="bakery",
        name_zh="阳光烘焙",
        name_en="Sunshine Bakery",
        category="food",
        username="bakery",
        scenes=(
            Slide(
                key="bakery_1",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="阳光烘焙",
                title_en="Sunshine Bakery",
                body_zh="每天早上7点新鲜出炉：全麦面包、菠萝包、蛋挞。",
                body_en="Fresh from the oven every morning at 7: wholemeal loaves, pineapple buns, "
                "egg tarts.",
                icon="bakery",
                palette=Palette((121, 69, 28), (166, 98, 41), (255, 213, 79)),
                footer_zh="幸福里12号楼底商 · 7:00–20:00",
                footer_en="Building 12, ground floor",
            ),
            Slide(
                key="bakery_2",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="会员周三八折",
                title_en="Members: 20% off Wednesdays",
                body_zh="扫码加入会员，生日当月送蛋糕一份。",
                body_en="Scan to join and get a free cake in your birthday month.",
                icon="bakery",
                palette=Palette((230, 126, 34), (211, 84, 0), (255, 255, 255)),
                footer_zh="阳光烘焙 · 电话 010-6543 2101",
                footer_en="Sunshine Bakery · 010-6543 2101",
            ),
        ),
        ticker_zh="阳光烘焙：会员周三八折",
        ticker_en="Sunshine Bakery: members 20% off on Wednesdays",
    ),
    Merchant(
        key="pharmacy",
        name_zh="康宁大药房",
        name_en="Kangning Pharmacy",
        category="health",
        username="pharmacy",
        scenes=(
            Slide(
                key="pharmacy_1",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="康宁大药房",
                title_en="Kangning Pharmacy",
                body_zh="24小时营业，医保卡可用。执业药师免费用药咨询。",
                body_en="Open 24 hours, medical insurance accepted. Free advice from licensed pharmacists.",
                icon="pharmacy",
                palette=Palette((0, 105, 92), (0, 137, 123), (178, 255, 89)),
                footer_zh="幸福里东门 · 24小时",
                footer_en="East gate · open 24 h",
            ),
            Slide(
                key="pharmacy_2",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="免费测血压、血糖",
                title_en="Free Blood Pressure Checks",
                body_zh="每周二、周五上午，60岁以上居民免费测量，并建立健康档案。",
                body_en="Tuesday and Friday mornings, free for residents aged 60+, with a personal "
                "health record.",
                icon="pharmacy",
                palette=Palette((0, 77, 64), (0, 121, 107), (255, 255, 255)),
                footer_zh="康宁大药房 · 电话 010-6543 2202",
                footer_en="Kangning Pharmacy · 010-6543 2202",
            ),
        ),
        ticker_zh="康宁大药房：24小时营业，医保可用",
        ticker_en="Kangning Pharmacy: open 24 h",
    ),
    Merchant(
        key="laundry",
        name_zh="洁净洗衣",
        name_en="CleanPress Laundry",
        category="services",
        username="laundry",
        scenes=(
            Slide(
                key="laundry_1",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="洁净洗衣",
                title_en="CleanPress Laundry",
                body_zh="冬季大衣、羽绒服专业干洗，48小时取件。",
                body_en="Winter coats and down jackets dry-cleaned by experts, ready in 48 hours.",
                icon="laundry",
                palette=Palette((40, 53, 147), (57, 73, 171), (128, 222, 234)),
                footer_zh="幸福里8号楼旁 · 8:00–21:00",
                footer_en="Next to building 8",
            ),
            Slide(
                key="laundry_2",
                tag_zh="商户广告",
                tag_en="AD",
                title_zh="羽绒服干洗 ¥39",
                title_en="Down Jackets ¥39",
                body_zh="本月特惠，上门取送，满三件再减10元。",
                body_en="This month only. Free pick-up and delivery; ¥10 off three items or more.",
                icon="laundry",
                palette=Palette((0, 96, 100), (0, 131, 143), (255, 241, 118)),
                footer_zh="洁净洗衣 · 电话 010-6543 2303",
                footer_en="CleanPress · 010-6543 2303",
            ),
        ),
        ticker_zh="洁净洗衣：羽绒服干洗39元",
        ticker_en="CleanPress: down jackets ¥39",
    ),
)

FILLERS: tuple[Slide, ...] = (
    Slide(
        key="default_welcome",
        tag_zh="欢迎",
        tag_en="WELCOME",
        title_zh="欢迎回家",
        title_en="Welcome Home",
        body_zh="幸福里社区祝您生活愉快。物业服务热线 010-6543 2000，24小时值守。",
        body_en="Xingfuli Community wishes you a good day. Property hotline 010-6543 2000, staffed 24 hours.",
        icon="welcome",
        palette=Palette((0, 77, 64), (0, 105, 92), (255, 213, 79)),
        footer_zh=COMMUNITY_ZH,
        footer_en=COMMUNITY_EN,
    ),
    Slide(
        key="default_services",
        tag_zh="便民服务",
        tag_en="SERVICES",
        title_zh="自助服务终端",
        title_en="Self-Service Kiosk",
        body_zh="在大堂的自助终端上可预约家政维修、缴纳物业费、查询政务办理进度。",
        body_en="Use the lobby kiosk to book home services, pay property fees and track your applications.",
        icon="gov_guides",
        palette=Palette((38, 50, 56), (55, 71, 79), (255, 171, 64)),
        footer_zh=COMMUNITY_ZH,
        footer_en=COMMUNITY_EN,
    ),
)


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
    logo = draw_icon(int(h * 0.72), ICONS["welcome"])
    m = int(40 * scale)
    img.paste(logo, (m, (h - logo.height) // 2), logo)
    name_font = _font(int(40 * scale), bold=True)
    x = m + logo.width + int(20 * scale)
    if img.height > img.width:  # portrait: too narrow for one line beside the tag
        draw.text((x, h // 2), COMMUNITY_ZH, font=name_font, fill=slide.palette.ink, anchor="ls")
        draw.text(
            (x, h // 2 + int(6 * scale)),
            COMMUNITY_EN,
            font=_font(int(26 * scale)),
            fill=slide.palette.soft_ink,
            anchor="lt",
        )
    else:
        draw.text(
            (x, h // 2),
            f"{COMMUNITY_ZH}  {COMMUNITY_EN}",
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


def _footer(img: Image.Image, slide: Slide, scale: float) -> None:
    width, height = img.size
    portrait = height > width
    h = int((130 if portrait else 90) * scale)
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
    """Draw `slide` at `size`; landscape puts the icon left of the text, portrait above it."""
    width, height = size
    portrait = height > width
    scale = width / 1920 if not portrait else width / 1080
    img = _gradient(size, slide.palette.top, slide.palette.bottom).convert("RGBA")
    # a soft accent circle for depth
    deco = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(deco).ellipse(
        [int(width * 0.62), int(height * 0.45), int(width * 1.25), int(height * 1.4)],
        fill=(*slide.palette.accent, 38),
    )
    img = Image.alpha_composite(img, deco)
    top = _header(img, slide, scale)
    draw = ImageDraw.Draw(img)
    icon = ICONS[slide.icon]
    p = slide.palette
    if not portrait:
        icon_size = int(380 * scale)
        margin = int(100 * scale)
        badge = draw_icon(icon_size, icon)
        img.paste(badge, (margin, top + (height - top - int(90 * scale) - icon_size) // 2), badge)
        x = margin * 2 + icon_size
        text_w = width - x - margin
        y = top + int(90 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.title_zh, _font(int(112 * scale), True), text_w),
            (x, y),
            _font(int(112 * scale), True),
            p.ink,
            1.2,
        )
        y = _draw_lines(
            draw,
            wrap_text(slide.title_en, _font(int(58 * scale), True), text_w),
            (x, y),
            _font(int(58 * scale), True),
            p.accent,
            1.25,
        )
        y += int(20 * scale)
        draw.rectangle([x, y, x + int(160 * scale), y + int(8 * scale)], fill=p.accent)
        y += int(44 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.body_zh, _font(int(50 * scale)), text_w),
            (x, y),
            _font(int(50 * scale)),
            p.ink,
            1.45,
        )
        y += int(12 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.body_en, _font(int(36 * scale)), text_w),
            (x, y),
            _font(int(36 * scale)),
            p.soft_ink,
            1.4,
        )
        if slide.chips:
            _chips(draw, slide.chips, x, y + int(24 * scale), text_w, scale, centred=False)
    else:
        icon_size = int(420 * scale)
        badge = draw_icon(icon_size, icon)
        img.paste(badge, ((width - icon_size) // 2, top + int(130 * scale)), badge)
        cx = width // 2
        text_w = width - int(160 * scale)
        y = top + int(130 * scale) + icon_size + int(90 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.title_zh, _font(int(104 * scale), True), text_w),
            (0, y),
            _font(int(104 * scale), True),
            p.ink,
            1.2,
            anchor_centre=cx,
        )
        y = _draw_lines(
            draw,
            wrap_text(slide.title_en, _font(int(54 * scale), True), text_w),
            (0, y),
            _font(int(54 * scale), True),
            p.accent,
            1.25,
            anchor_centre=cx,
        )
        y += int(30 * scale)
        draw.rectangle([cx - int(80 * scale), y, cx + int(80 * scale), y + int(8 * scale)], fill=p.accent)
        y += int(60 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.body_zh, _font(int(50 * scale)), text_w),
            (0, y),
            _font(int(50 * scale)),
            p.ink,
            1.5,
            anchor_centre=cx,
        )
        y += int(20 * scale)
        y = _draw_lines(
            draw,
            wrap_text(slide.body_en, _font(int(38 * scale)), text_w),
            (0, y),
            _font(int(38 * scale)),
            p.soft_ink,
            1.45,
            anchor_centre=cx,
        )
        if slide.chips:
            _chips(draw, slide.chips, int(80 * scale), y + int(40 * scale), text_w, scale, centred=True)
    _footer(img, slide, scale)
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
        cmd = [
            ffmpeg_path(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-loop",
            "1",
            "-framerate",
            str(fps),
            "-t",
            f"{scene_seconds}",
            "-i",
            str(scenes[0]),
            "-loop",
            "1",
            "-framerate",
            str(fps),
            "-t",
            f"{scene_seconds}",
            "-i",
            str(scenes[1]),
            "-filter_complex",
            f"[0:v][1:v]xfade=transition=slideleft:duration={fade}:offset={scene_seconds - fade},"
            "format=yuv420p[v]",
            "-map",
            "[v]",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "stillimage",
            "-crf",
            "26",
            "-g",
            str(fps * 2),
            "-r",
            str(fps),
            "-movflags",
            "+faststart",
            "-an",
            str(partial),
        ]
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
        for m in MERCHANTS
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
    return {m.key: (paths[(m.key, "landscape")], paths[(m.key, "portrait")]) for m in MERCHANTS}


def write_assets(directory: Path) -> list[Path]:
    """The committed artwork: default filler slides, the community logo, kiosk category icons."""
    written: list[Path] = []
    for slide in FILLERS:
        written.extend(write_slide(slide, directory / "slides"))
    logo = directory / "logo.png"
    if not logo.exists():
        _save_png(draw_icon(512, ICONS["welcome"]), logo)
    written.append(logo)
    for key in (*KIOSK_CATEGORY_ICONS, "water", "sorting", "fire", "bakery", "pharmacy", "laundry"):
        icon_path = directory / "icons" / f"{key}.png"
        if not icon_path.exists():
            _save_png(draw_icon(256, ICONS[key]), icon_path)
        written.append(icon_path)
    return written


def generate_demo_media(directory: Path, assets_dir: Path | None = None, videos: bool = True) -> DemoMedia:
    """Make (or find) every demo file under `directory`; fillers come from `assets_dir` if present."""
    out = DemoMedia()
    filler_dir = (assets_dir / "slides") if assets_dir is not None else directory / "fillers"
    jobs = [(out.announcements, s, directory / "announcements") for s in ANNOUNCEMENTS]
    jobs += [(out.ad_images, scene, directory / "ads") for m in MERCHANTS for scene in m.scenes]
    jobs += [(out.fillers, s, filler_dir) for s in FILLERS]
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
