"""Fetching a data source over HTTP without becoming a way into the server's own network.

Every hop (the first URL and each redirect) is checked the same way: http or https only, the
host name resolved once, every answer checked against the address rule, and the connection made to
the checked address itself (so a second DNS answer, a rebinding, is never used); once connected,
the socket's peer is checked again. Loopback, private, link-local, multicast and reserved
addresses are refused unless the operator allow-lists their network. A whole fetch has one
deadline (a server that drips a byte a second does not get around it), bodies are read in chunks
and dropped past the size limit, compressed bodies are refused (no decompression bombs), and
``ETag`` / ``Last-Modified`` make an unchanged source cost one small answer.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from content_server.studio.errors import FetchFailed, FetchRefused
from schedules.clock import Clock, SystemClock

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose blocks Python's is_global still calls global (IETF protocol assignments, e.g. 192.0.0.8).
_ALSO_FORBIDDEN = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("64:ff9b:1::/48"))


def address_allowed(ip: str, allow: Sequence[Network] = ()) -> bool:
    """Whether a connection to ``ip`` is allowed: public unicast, or inside an allow-listed network.

    IPv6 forms that carry an IPv4 address (mapped, 6to4, NAT64) are judged by that address.
    """
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped or addr.sixtofour
        if inner is None and addr in _NAT64:
            inner = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if inner is not None:
            addr = inner
    if any(addr.version == net.version and addr in net for net in allow):
        return True
    if any(addr.version == net.version and addr in net for net in _ALSO_FORBIDDEN):
        return False
    return addr.is_global and not addr.is_multicast and not addr.is_reserved


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[str]: ...


class SystemResolver:
    """The system's resolver (getaddrinfo), TCP answers only."""

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise FetchFailed(f"the host name {host!r} cannot be resolved") from exc
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class StaticResolver:
    """Answers from a table; a host with several answer lists gives the next one each time (rebinding)."""

    answers: dict[str, list[list[str]]]
    asked: list[str] = field(default_factory=list)

    def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        try:
            ip = ipaddress.ip_address(host)
            return [str(ip)]
        except ValueError:
            pass
        lists = self.answers.get(host)
        if not lists:
            raise FetchFailed(f"the host name {host!r} cannot be resolved")
        return lists[(self.asked.count(host) - 1) % len(lists)]


@dataclass(frozen=True)
class FetchPolicy:
    allow: tuple[Network, ...] = ()  # networks the operator trusts despite being private/loopback
    max_bytes: int = 2 * 1024 * 1024
    timeout_s: float = 10.0  # the whole fetch, redirects included
    max_redirects: int = 5
    user_agent: str = "community-signage-studio/1"

    @classmethod
    def with_allow(cls, networks: Sequence[str], **kw: float | int | str) -> FetchPolicy:
        return cls(allow=tuple(ipaddress.ip_network(n, strict=False) for n in networks), **kw)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified: body is None)
    body: bytes | None
    content_type: str
    validators: Validators
    peer: str  # the address actually connected to

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _Pinned(http.client.HTTPConnection):
    """HTTP to an address checked beforehand, with the host name kept for the Host header."""

    def __init__(self, host: str, port: int, ip: str, timeout: float, allow: Sequence[Network]) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip, self.allow = ip, allow

    def _open(self) -> socket.socket:
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        peer = str(sock.getpeername()[0])
        if not address_allowed(peer, self.allow):  # what we are connected to, whatever DNS said
            sock.close()
            raise FetchRefused(f"the connection went to a forbidden address ({peer})")
        return sock

    def connect(self) -> None:
        self.sock = self._open()


class _PinnedTLS(_Pinned):
    def __init__(self, host: str, port: int, ip: str, timeout: float, allow: Sequence[Network]) -> None:
        super().__init__(host, port, ip, timeout, allow)
        self.context = ssl.create_default_context()

    def connect(self) -> None:
        self.sock = self.context.wrap_socket(self._open(), server_hostname=self.host)


class Fetcher:
    """One fetch at a time per call; holds no connections between calls."""

    def __init__(
        self, policy: FetchPolicy, resolver: Resolver | None = None, clock: Clock | None = None
    ) -> None:
        self.policy = policy
        self.resolver = resolver or SystemResolver()
        self.clock = clock or SystemClock()

    def _target(self, url: str) -> tuple[urllib.parse.SplitResult, str]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused("only http:// and https:// sources can be fetched")
        if not parts.hostname:
            raise FetchRefused("the address names no host")
        if parts.username or parts.password:
            raise FetchRefused("addresses with a user name or password are not fetched")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        answers = self.resolver.resolve(parts.hostname, port)
        if not answers:
            raise FetchFailed(f"the host name {parts.hostname!r} has no address")
        forbidden = [ip for ip in answers if not address_allowed(ip, self.policy.allow)]
        if forbidden:
            raise FetchRefused(
                f"{parts.hostname} resolves to a forbidden address ({forbidden[0]}); "
                "an operator can allow-list its network"
            )
        return parts, answers[0]

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        deadline = self.clock.monotonic() + self.policy.timeout_s
        for _hop in range(self.policy.max_redirects + 1):
            parts, ip = self._target(url)
            result_or_next = self._one(url, parts, ip, validators or Validators(), deadline)
            if isinstance(result_or_next, FetchResult):
                return result_or_next
            url = result_or_next
        raise FetchRefused(f"more than {self.policy.max_redirects} redirects")

    def _remaining(self, deadline: float) -> float:
        left = deadline - self.clock.monotonic()
        if left <= 0:
            raise FetchFailed(f"the source did not answer within {self.policy.timeout_s:g} s")
        return left

    def _one(
        self, url: str, parts: urllib.parse.SplitResult, ip: str, validators: Validators, deadline: float
    ) -> FetchResult | str:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        cls = _PinnedTLS if parts.scheme == "https" else _Pinned
        conn = cls(parts.hostname or "", port, ip, self._remaining(deadline), self.policy.allow)
        path = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        headers = {"User-Agent": self.policy.user_agent, "Accept-Encoding": "identity", "Accept": "*/*"}
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            conn.request("GET", path, headers=headers)
            sock = conn.sock  # kept: http.client drops conn.sock for responses that end with the connection
            assert sock is not None
            peer = str(sock.getpeername()[0])
            sock.settimeout(self._remaining(deadline))
            resp = conn.getresponse()
            if resp.status in REDIRECTS:
                location = resp.getheader("Location")
                if not location:
                    raise FetchFailed(f"the source answered {resp.status} without a new address")
                return urllib.parse.urljoin(url, location)
            got = Validators(resp.getheader("ETag"), resp.getheader("Last-Modified"))
            if resp.status == 304:
                return FetchResult(
                    url,
                    304,
                    None,
                    "",
                    Validators(got.etag or validators.etag, got.last_modified or validators.last_modified),
                    peer,
                )
            if resp.status != 200:
                raise FetchFailed(f"the source answered {resp.status} {resp.reason}".strip())
            encoding = (resp.getheader("Content-Encoding") or "identity").lower()
            if encoding != "identity":
                raise FetchFailed(f"the source sent compressed data ({encoding}) although asked not to")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.policy.max_bytes:
                raise FetchFailed(
                    f"the source is {int(declared)} bytes, over the limit of {self.policy.max_bytes}"
                )
            body = bytearray()
            while True:
                sock.settimeout(self._remaining(deadline))  # one deadline for the whole body
                chunk = resp.read1(65536)
                if not chunk:
                    break
                body += chunk
                if len(body) > self.policy.max_bytes:
                    raise FetchFailed(f"the source sent more than {self.policy.max_bytes} bytes")
            return FetchResult(url, 200, bytes(body), resp.getheader("Content-Type") or "", got, peer)
        except TimeoutError:
            raise FetchFailed(f"the source did not answer within {self.policy.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, FetchFailed | FetchRefused):
                raise
            raise FetchFailed(f"the source could not be fetched ({type(exc).__name__})") from None
        finally:
            conn.close()
