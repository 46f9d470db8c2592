"""The one way the server writes CSV: every text cell that a spreadsheet would run as a formula
is neutralised (OWASP "CSV injection": prefix a single quote).

Devices, advertisers and residents put text into what operators export (ids, names, notes);
``=cmd|'/c calc'!A1`` or ``=HYPERLINK(...)`` in such a cell runs when the file is opened in Excel
or LibreOffice. Numbers written by the server itself (``int``/``float``) stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence

# OWASP's list, plus the full-width forms some spreadsheets fold to ASCII
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")

Cell = str | int | float | dt.date | None


def neutralise(value: Cell) -> str | int | float:
    """``value`` as a cell: text that could start a formula gets a leading ``'``."""
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
    """The whole file as text (CRLF line ends as RFC 4180 has them; quoted where needed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180: and a bare CR in a cell is quoted
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return out.getvalue()
