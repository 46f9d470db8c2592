"""A small HTTP/1.1 keep-alive client for the load fleet: one connection per device, as a real one has.

The fleet drives thousands of devices from one process on the same two cores as the servers, so
its own cost per request decides how much of the machine is left for what is measured. httpx
(an ``AsyncClient`` per device) cost about 3 ms of CPU per request here, a third of a core for
the 2,000-screen fleet; this client writes the request bytes itself and parses the answer with
httptools (the C parser uvicorn uses), about a tenth of that. It speaks only what the fleet
needs: plain http on loopback, one request at a time per connection (callers queue), ``Content-Length`` or
chunked answers, reconnecting when the other side closed an idle connection.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httptools


class ClientError(Exception):
    """The request got no answer: refused, cut, timed out or garbled (no status to count)."""


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    content: bytes = b""

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Protocol(asyncio.Protocol):
    """Feeds the socket's bytes to httptools; completes ``waiter`` with each whole answer."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self.waiter: asyncio.Future[Reply] | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self.keep_alive = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a TCP transport writes

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ClientError(f"connection closed before the answer ({exc or 'EOF'})"))

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ClientError(f"garbled answer: {exc}"))
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._headers = {}
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self._parser.should_keep_alive()
        reply = Reply(self._parser.get_status_code(), self._headers, b"".join(self._body))
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(reply)


class Connection:
    """One device's keep-alive connection to ``base_url`` (http, loopback); not shared by tasks."""

    def __init__(self, base_url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the fleet client speaks plain http only: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._host_header = f"{self.host}:{self.port}".encode()
        self._proto: _Protocol | None = None
        self._busy = asyncio.Lock()  # one request at a time: a second caller waits its turn

    async def _connected(self) -> _Protocol:
        proto = self._proto
        if proto is not None and proto.transport is not None and proto.keep_alive:
            return proto
        if proto is not None and proto.transport is not None:
            proto.transport.close()
        loop = asyncio.get_running_loop()
        try:
            _, proto = await loop.create_connection(_Protocol, self.host, self.port)
        except OSError as exc:
            raise ClientError(f"cannot connect: {exc}") from None
        self._proto = proto
        return proto

    async def request(
        self,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        *,
        json_body: Any = None,
        content: bytes | None = None,
    ) -> Reply:
        """Send one request and wait for its whole answer (``target``: path and query)."""
        async with self._busy:
            return await self._request(method, target, headers, json_body, content)

    async def _request(
        self, method: str, target: str, headers: dict[str, str] | None, json_body: Any, content: bytes | None
    ) -> Reply:
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + self._host_header]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}".encode("latin-1"))
        if content is not None:
            if json_body is not None:
                lines.append(b"Content-Type: application/json")
            lines.append(b"Content-Length: %d" % len(content))
        head = b"\r\n".join(lines) + b"\r\n\r\n"
        proto = await self._connected()
        assert proto.transport is not None
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        proto.waiter = waiter
        proto.transport.write(head + content if content else head)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await waiter
        except TimeoutError:
            self.close()
            raise ClientError(f"no answer within {self.timeout_s:g} s") from None
        finally:
            proto.waiter = None

    def close(self) -> None:
        if self._proto is not None and self._proto.transport is not None:
            self._proto.transport.close()
        self._proto = None

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
