"""Which addresses a web-page item may load: its own page and the hosts the operator allow-listed.

Pure: the Qt WebEngine adapter (:mod:`signage_player.webpage`) asks :func:`host_allowed` for every
request the page makes (navigation, frames, images, scripts) and blocks the rest.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass


def normalise_hosts(hosts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Lower-case host names; ``*.example.org`` allows every subdomain of example.org (not itself)."""
    out = []
    for host in hosts:
        h = host.strip().lower().rstrip(".")
        if not h or "/" in h or ":" in h:  # host names and IPv4 addresses, no ports
            raise ValueError(f"not a host name: {host!r}")
        out.append(h)
    return tuple(dict.fromkeys(out))


def host_allowed(url: str, allowed: tuple[str, ...]) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return parts.scheme in ("data", "blob")  # inline content the allowed page made itself
    host = (parts.hostname or "").lower().rstrip(".")
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith(entry[1:]) and host != entry[2:]:
                return True
        elif host == entry:
            return True
    return False


@dataclass(frozen=True)
class WebPagePolicy:
    url: str
    allowed_hosts: tuple[str, ...]
    load_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_hosts", normalise_hosts(self.allowed_hosts))
        if not host_allowed(self.url, self.allowed_hosts) or not self.url.startswith(("http://", "https://")):
            raise ValueError("the page's own host must be on its allow-list")
