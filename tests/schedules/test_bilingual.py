"""The one bilingual text shape: (zh, en), placeholders checked, lookups by language."""

from __future__ import annotations

import pytest

from schedules.bilingual import Bilingual, MissingText, TextTable


def test_lookup_and_format_in_both_languages() -> None:
    table = TextTable({"greet": ("你好，{name}", "Hello, {name}")})
    assert table.text("greet", "zh", name="王") == "你好，王"
    assert table.text("greet", "en-GB", name="Wang") == "Hello, Wang"
    assert table.both("greet", name="A") == Bilingual("你好，A", "Hello, A")
    with pytest.raises(MissingText):
        table.text("nope", "zh")


def test_a_translation_that_drops_a_placeholder_is_refused() -> None:
    with pytest.raises(ValueError, match="greet: placeholders differ"):
        TextTable({"greet": ("你好", "Hello, {name}")})


def test_a_table_iterates_over_its_keys_in_order() -> None:
    table = TextTable({"a": ("甲", "A"), "b": ("乙", "B")})
    assert list(table) == table.keys() == ["a", "b"] and len(table) == 2
    assert [table.both(k).zh for k in table] == ["甲", "乙"]
