"""PDF notices: ordinary ones become page slides in order; hostile ones are refused and leave nothing."""

from __future__ import annotations

import http.server
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader, PdfWriter

from content_server.studio import pdf_notice
from content_server.studio.errors import NotAPdf, PdfRefused, PdfTooLarge
from content_server.studio.fonts import FontBook
from content_server.studio.pdf_notice import PdfLimits, inspect, render_notice, suggested_dwell_s
from tests.content_server.studio.pdfs import A4, PdfPage, RawPdf, notice, text_page, with_object_stream

SIZES = [(1920, 1080), (1080, 1920)]
ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, data: bytes, name: str = "notice.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _refused(tmp_path: Path, data: bytes, error: type[Exception] = PdfRefused) -> str:
    """Render ``data``; it must be refused with ``error`` and leave no staging folder behind."""
    staging = tmp_path / "staging"
    with pytest.raises(error) as err:
        render_notice(_write(tmp_path, data), staging, SIZES)
    assert not staging.exists()
    assert str(tmp_path) not in str(err.value)  # reasons are for people: no server paths
    return str(err.value)


# --------------------------------------------------------------------------- ordinary notices


def test_pages_become_slides_in_order_with_thumbnails_and_dwell(tmp_path: Path) -> None:
    result = render_notice(_write(tmp_path, notice(4)), tmp_path / "out", SIZES)
    assert [p.number for p in result.pages] == [1, 2, 3, 4]
    reds = []
    for page in result.pages:
        assert set(page.slides) == {"1920x1080", "1080x1920"}
        for key, name in page.slides.items():
            img = Image.open(tmp_path / "out" / name)
            assert f"{img.width}x{img.height}" == key
        thumb = Image.open(tmp_path / "out" / page.thumbnail)
        assert max(thumb.size) <= 240
        assert page.dwell_s >= 8 and page.text_chars > 40
        # the page's own colour block tells the pages apart: red grows with the page number
        rgb = Image.open(tmp_path / "out" / page.slides["1080x1920"]).convert("RGB")
        colours = sorted(rgb.getcolors(5_000_000) or [], reverse=True)
        block = next(c for _n, c in colours if c[2] - c[1] > 40)  # type: ignore[index]
        reds.append(block[0])  # type: ignore[index]
    assert reds == sorted(reds) and len(set(reds)) == 4
    manifest = json.loads((tmp_path / "out" / "notice.json").read_text())
    assert manifest["page_count"] == 4


def test_white_margins_are_trimmed(tmp_path: Path) -> None:
    """A small block in the middle of an A4 page fills most of the slide's width after trimming."""
    small = RawPdf([PdfPage(text_page(["x"], box=(250, 380, 100, 80)))]).build()
    result = render_notice(_write(tmp_path, small), tmp_path / "out", [(1080, 1920)])
    img = Image.open(tmp_path / "out" / result.pages[0].slides["1080x1920"]).convert("RGB")
    red, _green, blue = img.split()
    block = ImageChops.multiply(
        red.point(lambda v: 255 if v < 120 else 0), blue.point(lambda v: 255 if v > 100 else 0)
    )
    bbox = block.getbbox()
    assert bbox is not None
    assert bbox[2] - bbox[0] > 0.6 * img.width  # untrimmed it would be 100/595 of the width, ~17 %


def test_a_landscape_page_on_a_portrait_screen_and_back(tmp_path: Path) -> None:
    result = render_notice(_write(tmp_path, notice(1, size=(842.0, 595.0))), tmp_path / "out", SIZES)
    assert set(result.pages[0].slides) == {"1920x1080", "1080x1920"}


def test_dwell_follows_the_amount_of_text() -> None:
    assert suggested_dwell_s(0) == 8
    assert suggested_dwell_s(120) == 20
    assert suggested_dwell_s(5000) == 30


# --------------------------------------------------------------------------- hostile files


def test_a_file_that_is_really_something_else_is_refused(tmp_path: Path) -> None:
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    for data in (png.getvalue(), b"<html><body>%PDF-1.7</body></html>", b"PK\x03\x04" + b"\0" * 100, b""):
        assert "not a PDF" in _refused(tmp_path, data, NotAPdf) or "empty" in _refused(
            tmp_path, data, NotAPdf
        )


def test_encrypted_pdfs_are_refused(tmp_path: Path) -> None:
    for user_password in ("", "secret"):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(notice(1))))
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        assert "encrypted" in _refused(tmp_path, out.getvalue())


def test_a_malformed_cross_reference_table_is_refused(tmp_path: Path) -> None:
    good = notice(2)
    # every object offset in the table is 7 bytes off
    head, _, rest = good.partition(b"xref\n")
    lines = rest.split(b"\n")
    shifted = [b"%010d 00000 n " % (int(line[:10]) + 7) if line.endswith(b" n ") else line for line in lines]
    assert "damaged" in _refused(tmp_path, head + b"xref\n" + b"\n".join(shifted))
    # startxref points into the middle of an object
    cut = good.rfind(b"startxref\n")
    bad_start = good[:cut] + b"startxref\n123\n%%EOF\n"
    assert "damaged" in _refused(tmp_path, bad_start)
    # cut in half: no end marker
    assert "incomplete" in _refused(tmp_path, good[: len(good) // 2])


def test_too_many_pages_is_refused_before_anything_is_rendered(tmp_path: Path) -> None:
    many = RawPdf([PdfPage(b"") for _ in range(500)]).build()
    reason = _refused(tmp_path, many, PdfTooLarge)
    assert "500 pages" in reason


def test_huge_pages_strips_and_giant_pictures_are_refused(tmp_path: Path) -> None:
    assert "inches" in _refused(tmp_path, RawPdf([PdfPage(b"", size=(100000, 100000))]).build(), PdfTooLarge)
    assert "strip" in _refused(tmp_path, RawPdf([PdfPage(b"", size=(14000, 50))]).build())
    giant = RawPdf(
        [PdfPage(b"q 500 0 0 500 0 0 cm /Im1 Do Q", resources="<< /XObject << /Im1 6 0 R >> >>")],
        objects=[
            "<< /Type /XObject /Subtype /Image /Width 60000 /Height 60000 /ColorSpace /DeviceRGB "
            "/BitsPerComponent 8 /Length 0 >>\nstream\n\nendstream"
        ],
    ).build()
    assert "60000 x 60000" in _refused(tmp_path, giant, PdfTooLarge)


HIT_JS = "app.launchURL('http://127.0.0.1:{port}/js-ran', true);"


@pytest.fixture
def hit_server() -> Iterator[tuple[int, list[str]]]:
    """A loopback server that records every request: a PDF's script would call it if it ran."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], hits
    server.shutdown()
    server.server_close()


def _active_pdfs(port: int, marker: Path) -> dict[str, bytes]:
    js = HIT_JS.format(port=port)
    page = PdfPage(text_page(["Harmless looking notice"]))
    return {
        "open action": RawPdf([page], catalog_extra=f"/OpenAction << /S /JavaScript /JS ({js}) >>").build(),
        "names tree": RawPdf(
            [page],
            catalog_extra="/Names << /JavaScript << /Names [(a) 6 0 R] >> >>",
            objects=[f"<< /S /JavaScript /JS ({js}) >>"],
        ).build(),
        "page action": RawPdf(
            [PdfPage(page.content, extra=f"/AA << /O << /S /JavaScript /JS ({js}) >> >>")]
        ).build(),
        "launch": RawPdf(
            [page],
            catalog_extra=f"/OpenAction << /S /Launch /F ({marker}) "
            f"/Win << /F (cmd.exe) /P (/c echo > {marker}) >> >>",
        ).build(),
        "escaped name": RawPdf(
            [page], catalog_extra=f"/OpenAction << /S /J#61vaScript /JS ({js}) >>"
        ).build(),
        "link annotation": RawPdf(
            [PdfPage(page.content, extra="/Annots [6 0 R]")],
            objects=[
                f"<< /Type /Annot /Subtype /Link /Rect [0 0 600 800] /A << /S /JavaScript /JS ({js}) >> >>"
            ],
        ).build(),
        "submit form": RawPdf(
            [page], catalog_extra=f"/OpenAction << /S /SubmitForm /F (http://127.0.0.1:{port}/f) >>"
        ).build(),
    }


def test_javascript_hidden_in_a_compressed_object_stream_is_found(tmp_path: Path) -> None:
    data = with_object_stream("app.alert(1);")
    assert b"JavaScript" not in data  # invisible to a byte scan
    assert "active content (JavaScript)" in _refused(tmp_path, data)
    # the same layout without the script is accepted and rendered: the refusal is the script's
    result = render_notice(_write(tmp_path, with_object_stream(None)), tmp_path / "out", SIZES)
    assert result.page_count == 1 and set(result.pages[0].slides) == {"1920x1080", "1080x1920"}


def test_javascript_and_launch_actions_are_refused(tmp_path: Path, hit_server: tuple[int, list[str]]) -> None:
    port, hits = hit_server
    marker = tmp_path / "launched"
    for name, data in _active_pdfs(port, marker).items():
        reason = _refused(tmp_path, data)
        assert "active content" in reason, name
    assert hits == [] and not marker.exists()


def test_pdfium_never_runs_a_pdfs_script_even_when_rendering_it(
    tmp_path: Path, hit_server: tuple[int, list[str]]
) -> None:
    """Past the checks (called directly), PDFium draws the pages and the scripts stay inert."""
    port, hits = hit_server
    marker = tmp_path / "launched"
    book = FontBook.system()
    for name, data in _active_pdfs(port, marker).items():
        path = _write(tmp_path, data, f"{name.replace(' ', '_')}.pdf")
        facts = pdf_notice.PdfFacts(1, (A4,))
        doc = pdf_notice._open(path, facts)
        try:
            out = dict(pdf_notice._render_page(doc, 0, SIZES, 1, None, book))
        finally:
            doc.close()
        assert set(out) == {"thumb", "1920x1080", "1080x1920"}, name
    assert hits == [], hits
    assert not marker.exists()


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (pytest, ~200 MB) across exec.
_PEAK_SCRIPT = """
import re, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from content_server.studio.pdf_notice import render_notice
from tests.content_server.studio.pdfs import notice
src = Path({tmp!r}) / "fifty.pdf"
src.write_bytes(notice(50))
result = render_notice(src, Path({tmp!r}) / "out", [(1920, 1080), (1080, 1920)])
assert result.page_count == 50
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)) // 1024)
"""


@pytest.mark.slow
def test_a_fifty_page_notice_renders_in_bounded_memory(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT.format(root=str(ROOT), tmp=str(tmp_path))],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=ROOT,
    )
    peak_mb = int(out.stdout.split()[-1])
    assert peak_mb <= 150, peak_mb
    assert len(list((tmp_path / "out").glob("p*-1080x1920.png"))) == 50


def test_limits_are_settings_not_constants(tmp_path: Path) -> None:
    with pytest.raises(PdfTooLarge):
        inspect(_write(tmp_path, notice(3)), PdfLimits(max_pages=2))
    assert inspect(_write(tmp_path, notice(3))).page_count == 3
