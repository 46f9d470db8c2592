"""Sync planning, pure: what to download, when a manifest may go live, what to evict.

No I/O here: the cache and the sync loop pass in what they know, and act on the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from schedules.protocol.device import AssetRef, Manifest


@dataclass(frozen=True)
class CachedAsset:
    sha256: str
    size: int
    last_used: float  # seconds, any monotone scale; smaller = used longer ago


@dataclass(frozen=True)
class SyncPlan:
    missing: tuple[AssetRef, ...]  # to download, smallest first so most items become playable soonest
    ready: bool  # every asset of the manifest is verified locally: it may go live

    @property
    def missing_bytes(self) -> int:
        return sum(a.size for a in self.missing)


def plan_sync(manifest: Manifest, verified: Iterable[str]) -> SyncPlan:
    have = set(verified)
    seen: set[str] = set()
    missing = []
    for ref in manifest.assets:
        if ref.sha256 not in have and ref.sha256 not in seen:
            seen.add(ref.sha256)
            missing.append(ref)
    missing.sort(key=lambda a: (a.size, a.sha256))
    return SyncPlan(tuple(missing), not missing)


def referenced(*manifests: Manifest | None) -> frozenset[str]:
    """Assets any of these manifests needs (the one in play and the one being fetched)."""
    return frozenset(a.sha256 for m in manifests if m is not None for a in m.assets)


def plan_eviction(cached: Iterable[CachedAsset], keep: frozenset[str], budget_bytes: int,
                  incoming_bytes: int = 0) -> list[str]:
    """Unreferenced assets to delete, least recently used first, so cache + incoming fits the budget.

    Referenced assets are never evicted, even when the budget cannot be met (then the caller
    reports a full cache instead of breaking playback).
    """
    entries = list(cached)
    used = sum(e.size for e in entries)
    over = used + incoming_bytes - budget_bytes
    victims: list[str] = []
    for e in sorted((e for e in entries if e.sha256 not in keep), key=lambda e: (e.last_used, e.sha256)):
        if over <= 0:
            break
        victims.append(e.sha256)
        over -= e.size
    return victims


def media_types(manifest: Manifest) -> Mapping[str, str]:
    return {a.sha256: a.media_type for a in manifest.assets}
