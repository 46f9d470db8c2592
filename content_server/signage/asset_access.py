"""Which stored files a paired screen may download: one rule for the fast path and the route.

A screen may download the assets of the manifest it was served last and of the one before: the
transition it is making (a screen still fetching yesterday's pictures when today's manifest
arrives finishes them). Anything else in the store, other owners' uploads included, is not its
business, even when it knows the SHA-256. Pure: the callers say what was served.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class AssetGrant:
    """The assets of a screen's current and previous manifests."""

    current: frozenset[str]
    previous: frozenset[str] = frozenset()

    @classmethod
    def of(cls, current: Iterable[str], previous: Iterable[str] = ()) -> AssetGrant:
        return cls(frozenset(current), frozenset(previous))

    def after(self, served: Iterable[str]) -> AssetGrant:
        """The grant once a manifest with assets ``served`` replaces the current one."""
        new = frozenset(served)
        return self if new == self.current else AssetGrant(new, self.current)


def may_download(grant: AssetGrant, sha256: str) -> bool:
    """The rule (see the module docstring)."""
    return sha256 in grant.current or sha256 in grant.previous
