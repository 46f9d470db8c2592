"""Every data table in the portal's templates turns into cards at phone width (issue 14): the
browser sweep sees the pages it visits; this sees every template, including pages reached only
by a link inside another page."""

from __future__ import annotations

import re
from pathlib import Path

import content_server

TEMPLATES = sorted(Path(content_server.__file__).parent.rglob("templates/**/*.html"))
TABLE = re.compile(r"<table\b([^>]*)>(.*?)</table>", re.S)


def test_the_templates_are_found() -> None:
    assert len(TEMPLATES) > 40


def test_every_table_is_cards_with_a_label_on_each_cell() -> None:
    problems = []
    for template in TEMPLATES:
        for attrs, body in TABLE.findall(template.read_text(encoding="utf-8")):
            classes = re.search(r'class="([^"]*)"', attrs)
            if classes is None or "cards" not in classes.group(1).split():
                problems.append(f"{template.name}: <table{attrs}> is not cards")
            unlabelled = [td for td in re.findall(r"<td\b[^>]*>", body) if "data-label=" not in td]
            if unlabelled:
                problems.append(f"{template.name}: {len(unlabelled)} cell(s) unlabelled: {unlabelled[0]}")
    assert problems == []
