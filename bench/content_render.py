"""Benchmark: making content: a designed template, a PDF notice page, a live RSS source.

- template_render_ms_p95: one template (the merchant offer, with photo and QR) for one screen class,
  both orientations, resolve + render + PNG (target <= 300 ms);
- pdf_page_render_ms_p95: one A4 page checked-in document to a trimmed 1080x1920 slide (<= 500 ms);
- pdf_peak_rss_mb: peak RSS (VmHWM) of a fresh process rendering a 50-page notice to both
  orientations (<= 150 MB);
- feed_refresh_ms_p95: one scheduled refresh of an RSS source through the studio's service: fetch (real
  HTTP on loopback, the feed changing every time), parse, render both orientations, publish (media
  rows, the source's announcement, SQLite commit) (<= 1000 ms).

Prints one JSON line last.

    .venv/bin/python bench/content_render.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from content_server.studio.canvas import canvases  # noqa: E402
from content_server.studio.designs import resolve  # noqa: E402
from content_server.studio.fonts import FontBook  # noqa: E402
from content_server.studio.pdf_notice import PdfFacts, _open, _render_page, inspect  # noqa: E402
from content_server.studio.render import png_bytes, render  # noqa: E402
from content_server.studio.services import datasources  # noqa: E402
from schedules.model import ScreenClass  # noqa: E402
from tests.content_server.studio.feed_server import FeedSite, serve  # noqa: E402
from tests.content_server.studio.pdfs import notice  # noqa: E402
from tests.content_server.studio.samples import content, product_photo  # noqa: E402
from tests.fixtures.server import bootstrap_operator, make_app_client  # noqa: E402

TARGETS = {
    "template_render_ms_p95": 300,
    "pdf_page_render_ms_p95": 500,
    "pdf_peak_rss_mb": 150,
    "feed_refresh_ms_p95": 1000,
}

_PEAK = """
import re, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from content_server.studio.pdf_notice import render_notice
render_notice(Path({src!r}), Path({out!r}), [(1920, 1080), (1080, 1920)])
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) // 1024)
"""


def p95(samples: list[float]) -> float:
    return round(statistics.quantiles(samples, n=20)[18], 1) if len(samples) > 1 else round(samples[0], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    book = FontBook.system()
    _ = book.coverage  # loaded once per process, as in the server
    photo = product_photo()
    pair = canvases(ScreenClass.OUTDOOR_LARGE)

    template_ms, template_cpu_ms = [], []
    for i in range(args.repeat + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        resolved = resolve(content("offer", price=f"{10 + i % 7}.9"), book)
        for cv in pair:
            render(resolved, cv, book, photo)
        if i >= 2:  # the first two warm the font caches
            template_ms.append((time.perf_counter() - t0) * 1000)
            template_cpu_ms.append((time.process_time() - c0) * 1000)

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "a4.pdf"
        src.write_bytes(notice(args.repeat + 2))
        facts: PdfFacts = inspect(src)
        doc = _open(src, facts)
        pdf_ms, pdf_cpu_ms = [], []
        try:
            for index in range(facts.page_count):
                t0, c0 = time.perf_counter(), time.process_time()
                for _key, img in _render_page(doc, index, [(1080, 1920)], facts.page_count, None, book):
                    png_bytes(img)
                if index >= 2:
                    pdf_ms.append((time.perf_counter() - t0) * 1000)
                    pdf_cpu_ms.append((time.process_time() - c0) * 1000)
        finally:
            doc.close()
        fifty = Path(tmp) / "fifty.pdf"
        fifty.write_bytes(notice(50))
        out = subprocess.run(
            [sys.executable, "-c", _PEAK.format(root=str(ROOT), src=str(fifty), out=str(Path(tmp) / "out"))],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        peak_mb = int(out.stdout.split()[-1])

    site = FeedSite()
    feed_ms = []
    with serve(site) as base, tempfile.TemporaryDirectory() as tmp:
        client = make_app_client(Path(tmp) / "data")
        with client:
            bootstrap_operator(client)
            op = client.auth(client.operator)
            spec = {"name": "news", "kind": "feed", "url": base + "/feed.xml", "every_s": 600, "ttl_s": 3600}
            source = client.post(
                "/api/v1/studio/sources", json={"spec": spec, "allow_networks": ["127.0.0.1/32"]}, headers=op
            ).json()
            state = client.app.state  # type: ignore[attr-defined]
            for i in range(args.repeat + 2):
                site.version = i + 1  # a changed feed every time: a full fetch, parse, render and publish
                t0 = time.perf_counter()
                row = datasources.refresh_source(
                    state.sessions, state.store, source["id"], book, state.clock, state.settings.community_tz
                )
                if row.last_error:
                    raise SystemExit(f"feed refresh failed: {row.last_error}")
                if i >= 2:
                    feed_ms.append((time.perf_counter() - t0) * 1000)

    result = {
        "bench": "content_render",
        "template_render_ms_p95": p95(template_ms),
        "pdf_page_render_ms_p95": p95(pdf_ms),
        "pdf_peak_rss_mb": peak_mb,
        "feed_refresh_ms_p95": p95(feed_ms),
        "repeat": args.repeat,
        # the machine is shared: CPU time of this process, and the load while it ran, for comparison
        "template_render_cpu_ms_p95": p95(template_cpu_ms),
        "pdf_page_render_cpu_ms_p95": p95(pdf_cpu_ms),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    result["meets_targets"] = all(result[k] <= v for k, v in TARGETS.items())  # type: ignore[operator]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
