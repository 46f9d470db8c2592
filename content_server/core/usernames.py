"""The canonical form of a username: what must be unique, and what log-in counters are keyed by.

The Unicode confusable skeleton (UTS #39, computed by ICU through PyICU) of the NFKC-normalised,
case-folded name, case-folded again: ``Operator``, ``0perator``, ``〇perator``, ``ｏｐｅｒａｔｏｒ``
and ``оperator`` (Cyrillic о) are all ``operator``. In ``core`` because log-in (``core.auth``)
finds accounts by it; the username *rules* are the accounts feature's (``accounts/rules.py``).
"""

from __future__ import annotations

import functools
import unicodedata

import icu


@functools.cache
def _spoof_checker() -> icu.SpoofChecker:
    return icu.SpoofChecker()


def username_key(raw: str) -> str:
    """Works for any string (a valid username or not), so unknown names cost the same."""
    folded = unicodedata.normalize("NFKC", raw.strip()).casefold()
    skeleton: str = _spoof_checker().getSkeleton(0, folded)
    return unicodedata.normalize("NFKC", skeleton).casefold()
