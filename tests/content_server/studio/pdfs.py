"""PDFs written byte by byte for the tests: ordinary notices and hostile ones.

Raw PDF syntax keeps every hostile variant exact (an action where we put it, an xref offset that
is wrong by design) without a PDF library deciding to repair it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

A4 = (595.0, 842.0)


@dataclass
class PdfPage:
    content: bytes
    size: tuple[float, float] = A4
    extra: str = ""  # extra entries in the page dictionary
    resources: str = "<< /Font << /F1 3 0 R >> >>"


@dataclass
class RawPdf:
    pages: list[PdfPage]
    catalog_extra: str = ""
    objects: list[str] = field(default_factory=list)  # extra objects, numbered after the pages

    def build(self) -> bytes:
        """Objects 1 catalog, 2 page tree, 3 font, then per page (page, content), then ``objects``."""
        n_pages = len(self.pages)
        first_extra = 4 + 2 * n_pages
        kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
        bodies: list[bytes] = [
            f"<< /Type /Catalog /Pages 2 0 R {self.catalog_extra} >>".encode(),
            f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        for i, page in enumerate(self.pages):
            w, h = page.size
            bodies.append(
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w:g} {h:g}] /Contents {5 + 2 * i} 0 R "
                f"/Resources {page.resources} {page.extra} >>".encode()
            )
            data = zlib.compress(page.content)
            bodies.append(
                b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"
            )
        for extra in self.objects:
            bodies.append(extra.encode())
        assert len(bodies) == first_extra - 1 + len(self.objects)
        out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(bodies, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
        for off in offsets:
            out += b"%010d 00000 n \n" % off
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, xref)
        return bytes(out)


def text_page(
    lines: list[str],
    colour: tuple[float, float, float] = (0.1, 0.3, 0.6),
    box: tuple[float, float, float, float] = (150, 500, 300, 200),
) -> bytes:
    """A coloured block (the page's own colour, for order checks) and lines of Helvetica text."""
    x, y, w, h = box
    ops = [
        f"{colour[0]:g} {colour[1]:g} {colour[2]:g} rg {x:g} {y:g} {w:g} {h:g} re f",
        "0 0 0 rg",
        "BT /F1 14 Tf",
    ]
    ty = y - 30
    for line in lines:
        ops.append(f"1 0 0 1 {x:g} {ty:g} Tm ({line}) Tj")
        ty -= 18
    ops.append("ET")
    return "\n".join(ops).encode()


def notice(pages: int = 3, size: tuple[float, float] = A4) -> bytes:
    """A plain notice: page i has a block whose red channel is i/pages and a few lines of text."""
    return RawPdf(
        [
            PdfPage(
                text_page(
                    [
                        f"Notice page {i + 1}",
                        "Water supply interruption on Saturday.",
                        "Please store water in advance.",
                    ],
                    colour=((i + 1) / pages, 0.2, 0.5),
                ),
                size,
            )
            for i in range(pages)
        ]
    ).build()


def with_object_stream(js: str | None) -> bytes:
    """A PDF 1.5 file whose catalog, page tree and a names-tree JavaScript action sit compressed in an
    object stream, indexed by a cross-reference stream: nothing active is visible in the raw bytes."""
    content = zlib.compress(text_page(["Compressed objects"]))
    packed = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /JavaScript << /Names [(a) 3 0 R] >> >> >>"
        if js is not None
        else b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /S /JavaScript /JS (" + js.encode() + b") >>" if js is not None else b"<< /Note (nothing) >>",
    ]
    header, body, offset = b"", b"", 0
    for number, obj in enumerate(packed, start=1):
        header += b"%d %d " % (number, offset)
        body += obj + b"\n"
        offset += len(obj) + 1
    objstm = zlib.compress(header + body)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    offsets[4] = len(out)
    out += (
        b"4 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R "
        b"/Resources << /Font << /F1 8 0 R >> >> >>\nendobj\n"
    )
    offsets[5] = len(out)
    out += (
        b"5 0 obj\n<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream\nendobj\n"
    )
    offsets[6] = len(out)
    out += (
        b"6 0 obj\n<< /Type /ObjStm /N 3 /First %d /Length %d /Filter /FlateDecode >>\nstream\n"
        % (len(header), len(objstm))
        + objstm
        + b"\nendstream\nendobj\n"
    )
    offsets[8] = len(out)
    out += b"8 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n"
    offsets[7] = len(out)
    rows = [b"\x00" + (0).to_bytes(4, "big") + (65535).to_bytes(2, "big")]
    for number in range(1, 9):
        if number <= 3:
            rows.append(b"\x02" + (6).to_bytes(4, "big") + (number - 1).to_bytes(2, "big"))
        else:
            rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + (0).to_bytes(2, "big"))
    table = zlib.compress(b"".join(rows))
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 9 /W [1 4 2] /Root 1 0 R /Length %d /Filter /FlateDecode >>\n"
        b"stream\n" % len(table) + table + b"\nendstream\nendobj\n"
    )
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[7]
    return bytes(out)
