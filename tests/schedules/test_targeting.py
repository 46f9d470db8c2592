"""Tag expressions and targeting rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schedules.errors import ScheduleError
from schedules.model import ScreenClass, Targeting
from schedules.targeting import (
    And,
    Not,
    Or,
    Tag,
    TagExpr,
    compile_expr,
    matches,
    parse_tag_expr,
    required_tags,
)
from tests.schedules.factories import screen

TAGS = ["building:3", "floor:B1", "floor:2", "district:north", "entrance:main"]


def test_precedence_not_and_or_and_parentheses() -> None:
    e = parse_tag_expr("building:3 AND NOT floor:B1")
    assert e.evaluate(frozenset({"building:3", "floor:2"}))
    assert not e.evaluate(frozenset({"building:3", "floor:B1"}))
    e = parse_tag_expr("a OR b AND c")  # AND binds tighter
    assert e.evaluate(frozenset({"a"})) and not e.evaluate(frozenset({"b"}))
    e = parse_tag_expr("(a OR b) and not c")  # keywords in any case
    assert e.evaluate(frozenset({"b"})) and not e.evaluate(frozenset({"b", "c"}))


@pytest.mark.parametrize(
    "bad", ["", "   ", "AND a", "a AND", "(a OR b", "a OR b)", "a b", "NOT", "a && b", "building:3 AND NOT"]
)
def test_bad_syntax_names_the_field(bad: str) -> None:
    with pytest.raises(ScheduleError) as e:
        parse_tag_expr(bad)
    assert e.value.field == "tag_expr" and str(e.value).startswith("tag_expr:")


def test_targeting_criteria_all_must_hold() -> None:
    s = screen(groups=frozenset({"g1"}), tags=frozenset({"building:3", "floor:2"}))
    assert matches(Targeting(), s)
    assert matches(Targeting(groups=frozenset({"g1", "g9"}), tag_expr="building:3"), s)
    assert not matches(Targeting(groups=frozenset({"g2"})), s)
    assert not matches(Targeting(screen_classes=frozenset({ScreenClass.KIOSK})), s)
    assert not matches(Targeting(screen_ids=frozenset({"other"})), s)
    assert not matches(Targeting(tag_expr="building:3 AND floor:B1"), s)


def exprs() -> st.SearchStrategy[TagExpr]:
    leaf = st.sampled_from(TAGS).map(Tag)
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            inner.map(Not),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        ),
        max_leaves=8,
    )


def render(e: TagExpr) -> str:
    if isinstance(e, Tag):
        return e.name
    if isinstance(e, Not):
        return f"NOT ({render(e.operand)})"
    op = " AND " if isinstance(e, And) else " OR "
    return op.join(f"({render(o)})" for o in e.operands)


def truth(e: TagExpr, tags: frozenset[str]) -> bool:
    if isinstance(e, Tag):
        return e.name in tags
    if isinstance(e, Not):
        return not truth(e.operand, tags)
    results = [truth(o, tags) for o in e.operands]
    return all(results) if isinstance(e, And) else any(results)


@settings(max_examples=150, deadline=None)
@given(exprs(), st.frozensets(st.sampled_from(TAGS)))
def test_parsed_expressions_evaluate_like_the_tree_and_index_soundly(
    e: TagExpr, tags: frozenset[str]
) -> None:
    parsed = parse_tag_expr(render(e))
    assert parsed.evaluate(tags) == truth(e, tags) == compile_expr(parsed)(tags)
    req = required_tags(parsed)
    if req is not None and parsed.evaluate(tags):
        assert req & tags  # the engine's tag index may skip a rule only when it cannot match
