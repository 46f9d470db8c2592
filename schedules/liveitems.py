"""The rules for web-page and live-stream addresses, shared by the server (which refuses a bad one
with a 422) and the player (which will not open one): pure, no network.

A web page is an ``http(s)`` address whose host is on its allow-list (the page's own host is
always on it); ``*.example.org`` allows every subdomain of example.org, not itself. A live stream
is an HLS playlist over ``http(s)`` (a path ending in ``.m3u8``) or an ``rtsp(s)`` address.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from schedules.model import ItemKind

MAX_URL = 2000
MAX_HOSTS = 20
DEFAULT_LOAD_TIMEOUT_S = 15.0
MAX_LOAD_TIMEOUT_S = 120.0
STREAM_SCHEMES = frozenset({"http", "https", "rtsp", "rtsps"})


class AddressError(ValueError):
    """An address or host list that is refused; ``zh`` and ``en`` say why, for the author."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(f"{field}: {en}")
        self.field, self.zh, self.en = field, zh, en


def normalise_hosts(hosts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Lower-case host names, each once; a host with a scheme, path or port is refused."""
    out = []
    for host in hosts:
        h = host.strip().lower().rstrip(".")
        if not h or "/" in h or ":" in h or any(c.isspace() for c in h) or h in ("*", "*."):
            raise AddressError(
                "allowed_hosts", f"不是主机名：{host!r}", f"not a host name: {host!r}"
            )
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


def _split(url: str) -> urllib.parse.SplitResult:
    if not url or len(url) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in url):
        raise AddressError(
            "url", "地址为空、过长或含有空白字符。", "The address is empty, too long or has spaces in it."
        )
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        _ = parts.port  # a port that is not a number raises here
    except ValueError as exc:
        raise AddressError("url", "地址格式不正确。", "The address is not well formed.") from exc
    if not host:
        raise AddressError("url", "地址缺少主机名。", "The address has no host name.")
    return parts


def check_web_url(url: str) -> str:
    parts = _split(url)
    if parts.scheme not in ("http", "https"):
        raise AddressError(
            "url", "网页地址须以 http:// 或 https:// 开头。", "A web page's address starts with http:// or https://."
        )
    return url


def check_stream_url(url: str) -> str:
    parts = _split(url)
    if parts.scheme not in STREAM_SCHEMES:
        raise AddressError(
            "url",
            "直播地址须是 HLS 播放列表（http(s)://…/….m3u8）或 rtsp:// 地址。",
            "A live stream is an HLS playlist (http(s)://…/….m3u8) or an rtsp:// address.",
        )
    if parts.scheme in ("http", "https") and not parts.path.lower().endswith(".m3u8"):
        raise AddressError(
            "url",
            "http(s) 直播须是 HLS 播放列表（路径以 .m3u8 结尾）。",
            "An http(s) live stream is an HLS playlist (its path ends in .m3u8).",
        )
    return url


@dataclass(frozen=True)
class LiveAddress:
    """A checked web page or stream: its address, and for a page its hosts (its own first) and timeout."""

    kind: ItemKind
    url: str
    allowed_hosts: tuple[str, ...] = ()
    load_timeout_s: float | None = None


def check_live(
    kind: ItemKind,
    url: str,
    allowed_hosts: tuple[str, ...] | list[str] = (),
    load_timeout_s: float | None = None,
) -> LiveAddress:
    """The address checked for its kind; a page's own host joins its allow-list."""
    if kind is ItemKind.STREAM:  # a stream loads nothing else: hosts and timeout do not apply
        return LiveAddress(kind, check_stream_url(url.strip()))
    if kind is not ItemKind.WEB:
        raise AddressError("kind", "只能是网页或直播。", "Only a web page or a live stream has an address.")
    url = check_web_url(url.strip())
    own = (urllib.parse.urlsplit(url).hostname or "").lower().rstrip(".")
    hosts = normalise_hosts([own, *allowed_hosts])
    if len(hosts) > MAX_HOSTS:
        raise AddressError("allowed_hosts", f"最多 {MAX_HOSTS} 个主机。", f"At most {MAX_HOSTS} hosts.")
    timeout = DEFAULT_LOAD_TIMEOUT_S if load_timeout_s is None else load_timeout_s
    if not 1 <= timeout <= MAX_LOAD_TIMEOUT_S:
        raise AddressError(
            "load_timeout_s",
            f"加载时限须在 1 到 {MAX_LOAD_TIMEOUT_S:g} 秒之间。",
            f"The load timeout is between 1 and {MAX_LOAD_TIMEOUT_S:g} seconds.",
        )
    return LiveAddress(kind, url, hosts, timeout)
