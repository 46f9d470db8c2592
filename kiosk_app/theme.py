"""Colours, sizes and fonts for residents of every age: normal and large-text/high-contrast themes.

Pure data plus the WCAG contrast formula, so a test can prove every text/background pair in
both palettes reaches 4.5:1 and every touch target is at least 60 px at 1080p.
"""

from __future__ import annotations

from dataclasses import dataclass

FONT_FAMILY = "Noto Sans CJK SC"
MIN_TOUCH_PX = 60
MIN_TEXT_PT = 18


@dataclass(frozen=True)
class Palette:
    background: str
    surface: str  # cards, tiles
    text: str
    muted_text: str
    primary: str  # main action buttons
    on_primary: str
    secondary: str
    on_secondary: str
    danger: str  # cancel: also labelled with a word and an icon, never colour alone
    on_danger: str
    banner: str  # offline banner
    on_banner: str
    highlight: str  # current step of the case timeline (also marked with a word)
    on_highlight: str
    focus: str  # outline of the field being edited

    def text_pairs(self) -> dict[str, tuple[str, str]]:
        """Every (foreground, background) combination the widgets draw text with."""
        return {
            "text/background": (self.text, self.background),
            "text/surface": (self.text, self.surface),
            "muted/background": (self.muted_text, self.background),
            "muted/surface": (self.muted_text, self.surface),
            "primary": (self.on_primary, self.primary),
            "secondary": (self.on_secondary, self.secondary),
            "disabled": (self.muted_text, self.secondary),
            "pressed": (self.background, self.focus),
            "danger": (self.on_danger, self.danger),
            "banner": (self.on_banner, self.banner),
            "highlight": (self.on_highlight, self.highlight),
        }


@dataclass(frozen=True)
class Theme:
    palette: Palette
    body_pt: int
    title_pt: int
    button_pt: int
    small_pt: int  # the smallest text shown anywhere
    touch_px: int  # minimum height/width of anything tappable
    key_px: int  # keypad keys
    icon_px: int  # a category tile's icon
    # How many items a list page holds: what fits whole on 1080x1920 at this text size
    # (kiosk_app.paging; the window tests check nothing is cut off with these numbers).
    grid_columns: int  # home: category tiles per row
    grid_rows: int
    service_rows: int  # service cards in a category
    slot_rows: int  # bookable times
    order_rows: int  # "my orders" cards
    event_rows: int  # a case's timeline events

    @property
    def grid_size(self) -> int:
        return self.grid_columns * self.grid_rows


NORMAL = Theme(
    Palette(
        background="#F6F3EC", surface="#FFFFFF", text="#1B1B1B", muted_text="#4A4A4A",
        primary="#0B5394", on_primary="#FFFFFF", secondary="#E3E8EF", on_secondary="#102A43",
        danger="#A61B1B", on_danger="#FFFFFF", banner="#7A4B00", on_banner="#FFFFFF",
        highlight="#0B5394", on_highlight="#FFFFFF", focus="#0B5394",
    ),
    body_pt=20, title_pt=30, button_pt=22, small_pt=18, touch_px=88, key_px=96, icon_px=144,
    grid_columns=3, grid_rows=3, service_rows=5, slot_rows=10, order_rows=3, event_rows=4,
)

LARGE = Theme(
    Palette(
        background="#000000", surface="#1A1A1A", text="#FFFFFF", muted_text="#E6E6E6",
        primary="#FFD400", on_primary="#000000", secondary="#262626", on_secondary="#FFFFFF",
        danger="#FF8A80", on_danger="#000000", banner="#FFD400", on_banner="#000000",
        highlight="#FFD400", on_highlight="#000000", focus="#FFD400",
    ),
    body_pt=28, title_pt=40, button_pt=30, small_pt=24, touch_px=110, key_px=116, icon_px=120,
    grid_columns=2, grid_rows=4, service_rows=3, slot_rows=8, order_rows=2, event_rows=3,
)


def theme_for(large_text: bool) -> Theme:
    return LARGE if large_text else NORMAL


def _channel(c: int) -> float:
    s = c / 255
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    """WCAG 2.x relative luminance of ``#RRGGBB``."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(fg: str, bg: str) -> float:
    """WCAG contrast ratio between two colours (1 to 21)."""
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def stylesheet(theme: Theme) -> str:
    """The Qt style sheet for the whole window; widgets pick roles through object names."""
    p = theme.palette
    return f"""
    QWidget#kioskRoot, QStackedWidget, QWidget#page, QScrollArea {{ background: {p.background}; }}
    QWidget {{ color: {p.text}; font-family: "{FONT_FAMILY}"; font-size: {theme.body_pt}pt; }}
    QLabel#title {{ font-size: {theme.title_pt}pt; font-weight: bold; }}
    QLabel#muted {{ color: {p.muted_text}; font-size: {theme.small_pt}pt; }}
    QLabel#field {{ background: {p.surface}; border: 3px solid {p.focus}; border-radius: 8px;
                    padding: 8px 16px; font-size: {theme.title_pt}pt; min-height: {theme.touch_px}px; }}
    QLabel#fieldIdle {{ background: {p.surface}; border: 2px solid {p.muted_text}; border-radius: 8px;
                    padding: 8px 16px; font-size: {theme.title_pt}pt; min-height: {theme.touch_px}px; }}
    QLabel#banner {{ background: {p.banner}; color: {p.on_banner}; padding: 8px 16px;
                     font-size: {theme.body_pt}pt; font-weight: bold; }}
    QLabel#notice {{ color: {p.text}; background: {p.surface}; border-left: 8px solid {p.danger};
                     padding: 8px 16px; }}
    QFrame#card {{ background: {p.surface}; border-radius: 12px; }}
    QLabel#current {{ background: {p.highlight}; color: {p.on_highlight}; padding: 6px 12px;
                      border-radius: 6px; font-weight: bold; }}
    QPushButton {{ min-height: {theme.touch_px}px; min-width: {theme.touch_px}px; padding: 8px 20px;
                   border-radius: 12px; font-size: {theme.button_pt}pt;
                   background: {p.secondary}; color: {p.on_secondary}; border: 2px solid {p.on_secondary}; }}
    QPushButton:pressed {{ background: {p.focus}; color: {p.background}; }}
    QPushButton#primary {{ background: {p.primary}; color: {p.on_primary}; border: 2px solid {p.primary};
                           font-weight: bold; }}
    QPushButton#danger {{ background: {p.danger}; color: {p.on_danger}; border: 2px solid {p.danger}; }}
    QPushButton#key {{ min-height: {theme.key_px}px; min-width: {theme.key_px}px; padding: 0;
                       font-size: {theme.title_pt}pt; font-weight: bold; }}
    QPushButton#tile, QPushButton#card {{ min-height: {theme.touch_px}px; padding: 0;
                        background: {p.surface}; color: {p.text}; border: 2px solid {p.muted_text}; }}
    QPushButton#tile:pressed, QPushButton#card:pressed {{ border: 6px solid {p.focus}; }}
    QLabel#tileName {{ font-size: {theme.title_pt}pt; font-weight: bold; }}
    QLabel#action {{ font-size: {theme.button_pt}pt; font-weight: bold; }}
    QFrame#dialog {{ background: {p.surface}; border: 4px solid {p.focus}; border-radius: 16px; }}
    QLabel#dialogTitle {{ font-size: {theme.title_pt}pt; font-weight: bold; }}
    QPushButton:disabled {{ color: {p.muted_text}; border-style: dashed; }}
    """
