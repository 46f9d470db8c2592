"""The server's CSV writer: a text cell a spreadsheet would run as a formula is neutralised.

Devices, advertisers and residents put text into what operators export (names, notes, ids); a
cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return, or their full-width
forms) runs as a formula when the file is opened in Excel or LibreOffice (OWASP "CSV injection"),
so it gets a leading ``'``. Numbers the server writes itself stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

Cell = str | int | float | dt.date | None


def neutralise(value: Cell) -> str | int | float:
    """``value`` as a safe cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """The whole file as text, CRLF line ends (RFC 4180), quoted where needed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return out.getvalue()
