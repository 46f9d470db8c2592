"""A real HTTP server on loopback that serves feeds which change, break, stall, redirect or flood."""

from __future__ import annotations

import email.utils
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def rss(version: int, items: int = 3) -> bytes:
    entries = "".join(
        f"<item><title>社区新闻 {version}-{i}: 停水通知 Water notice {i}</title>"
        f"<link>https://news.example.org/{version}/{i}</link>"
        f"<description>&lt;p&gt;Details &lt;b&gt;{i}&lt;/b&gt;&lt;/p&gt;</description>"
        f"<pubDate>Sun, 06 Dec 2026 0{i}:00:00 GMT</pubDate></item>"
        for i in range(1, items + 1)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>幸福里新闻 v{version}</title><link>https://news.example.org/</link><description>d</description>{entries}</channel></rss>"
    ).encode()


@dataclass
class FeedSite:
    """What the server serves; tests change it between fetches."""

    version: int = 1
    redirect_to: str = ""
    json_body: bytes = b"{}"
    hits: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)  # ends stalls
    flood_sent: list[int] = field(default_factory=list)


def _handler(site: FeedSite) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/rss+xml", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            site.hits.append(self.path)
            if self.path == "/feed.xml":
                etag = f'"v{site.version}"'
                modified = email.utils.formatdate(1_796_000_000 + site.version, usegmt=True)
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self._send(200, rss(site.version), ETag=etag, Last_Modified=modified)
            elif self.path == "/broken.xml":
                self._send(200, b"<rss><channel><title>half a feed</tit")
            elif self.path == "/data.json":
                self._send(200, site.json_body, "application/json")
            elif self.path == "/error":
                self._send(500, b"oops", "text/plain")
            elif self.path == "/redirect":
                self._send(302, b"", "text/plain", Location=site.redirect_to)
            elif self.path == "/stall":
                site.release.wait(30)
                self._send(200, rss(site.version))
            elif self.path == "/drip":
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.end_headers()
                while not site.release.wait(0.05):  # a byte every 50 ms until released
                    try:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                    except OSError:
                        return
            elif self.path in ("/flood", "/flood-declared"):
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                if self.path == "/flood-declared":
                    self.send_header("Content-Length", str(50 * 1024 * 1024))
                self.end_headers()
                chunk = b"x" * 65536
                sent = 0
                try:
                    while sent < 50 * 1024 * 1024:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except OSError:
                    pass
                site.flood_sent.append(sent)
            elif self.path == "/gzip":
                self._send(200, b"\x1f\x8b...", Content_Encoding="gzip")
            else:
                self._send(404, b"", "text/plain")

    return Handler


@contextmanager
def serve(site: FeedSite, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``site`` on ``host`` (any 127.x address works on Linux); yields the base URL."""
    server = http.server.ThreadingHTTPServer((host, 0), _handler(site))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        site.release.set()
        server.shutdown()
        server.server_close()
