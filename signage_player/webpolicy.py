"""Which addresses a web-page item may load: its own page and the hosts the operator allow-listed.

The rules are :mod:`schedules.liveitems` (the server checks the same when the item is made); the
Qt WebEngine adapter (:mod:`signage_player.webpage`) asks :func:`host_allowed` for every request the
page makes (navigation, frames, images, scripts) and blocks the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from schedules.liveitems import DEFAULT_LOAD_TIMEOUT_S, host_allowed, normalise_hosts

__all__ = ["WebPagePolicy", "host_allowed", "normalise_hosts"]


@dataclass(frozen=True)
class WebPagePolicy:
    url: str
    allowed_hosts: tuple[str, ...]
    load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_hosts", normalise_hosts(self.allowed_hosts))
        if not host_allowed(self.url, self.allowed_hosts) or not self.url.startswith(("http://", "https://")):
            raise ValueError("the page's own host must be on its allow-list")
