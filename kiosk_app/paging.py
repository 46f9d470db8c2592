"""Lists shown a page at a time, so every item is whole on screen and reached by large buttons.

An elderly resident does not notice a thin scroll bar, and an item cut in half at the bottom of
the screen looks like the end of the list. So no kiosk list scrolls: it is cut into pages whose
size (``kiosk_app.theme``) is what fits 1080×1920 whole at that text size, with large "previous"
and "next" buttons and "page 2 of 3" between them. Pure: no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class PageOf(Generic[T]):
    """The items on page ``number`` (0-based) of ``count`` pages of at most ``per_page`` items."""

    items: tuple[T, ...]
    number: int
    count: int
    per_page: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number + 1 < self.count

    @property
    def first_index(self) -> int:
        """The position of this page's first item in the whole list."""
        return self.number * self.per_page


def page_count(total: int, per_page: int) -> int:
    """At least one page, even for an empty list (it says "nothing here" on page 1)."""
    return max(1, -(-total // max(1, per_page)))


def page_of(items: Sequence[T], number: int, per_page: int) -> PageOf[T]:
    """Page ``number`` of ``items``, clamped to the pages there are (a list that shrank meanwhile)."""
    per_page = max(1, per_page)
    count = page_count(len(items), per_page)
    number = min(max(0, number), count - 1)
    start = number * per_page
    return PageOf(tuple(items[start:start + per_page]), number, count, per_page, len(items))


def page_holding(index: int, per_page: int) -> int:
    """The page that shows item ``index`` when pages hold ``per_page`` items (text size changed)."""
    return max(0, index) // max(1, per_page)
