"""Which screens a campaign or announcement reaches: tag expressions and targeting rules.

A tag expression is a small boolean language over a screen's free tags::

    building:3 AND NOT floor:B1
    (district:north OR district:east) AND entrance:main

Operators are ``AND``, ``OR``, ``NOT`` (any letter case) with the usual precedence
(NOT > AND > OR) and parentheses. A tag is any run of letters, digits and ``:_-./#``.
Parsed expressions are cached, so evaluating the same rule for thousands of screens is cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from schedules.errors import ScheduleError
from schedules.model import Screen, Targeting

_TOKEN = re.compile(r"\s*(?:(\()|(\))|([A-Za-z0-9:_\-./#]+))")
_KEYWORDS = {"AND", "OR", "NOT"}
MAX_EXPR_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class Tag:
    name: str

    def evaluate(self, tags: frozenset[str]) -> bool:
        return self.name in tags


@dataclass(frozen=True, slots=True)
class Not:
    operand: TagExpr

    def evaluate(self, tags: frozenset[str]) -> bool:
        return not self.operand.evaluate(tags)


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[TagExpr, ...]

    def evaluate(self, tags: frozenset[str]) -> bool:
        return all(o.evaluate(tags) for o in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[TagExpr, ...]

    def evaluate(self, tags: frozenset[str]) -> bool:
        return any(o.evaluate(tags) for o in self.operands)


TagExpr = Tag | Not | And | Or


def _tokenize(expr: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    stripped = expr.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if m is None or m.end() == pos:
            raise ScheduleError(
                "tag_expr", f"unexpected character {stripped[pos:].lstrip()[:1]!r} in {expr!r}"
            )
        tokens.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.tokens = _tokenize(expr)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _fail(self, what: str) -> ScheduleError:
        return ScheduleError("tag_expr", f"{what} in {self.expr!r}")

    def parse(self) -> TagExpr:
        if not self.tokens:
            raise self._fail("empty expression")
        node = self._or()
        if self._peek() is not None:
            raise self._fail(f"unexpected {self._peek()!r}")
        return node

    def _or(self) -> TagExpr:
        parts = [self._and()]
        while (tok := self._peek()) is not None and tok.upper() == "OR":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def _and(self) -> TagExpr:
        parts = [self._not()]
        while (tok := self._peek()) is not None and tok.upper() == "AND":
            self.pos += 1
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def _not(self) -> TagExpr:
        tok = self._peek()
        if tok is not None and tok.upper() == "NOT":
            self.pos += 1
            return Not(self._not())
        return self._atom()

    def _atom(self) -> TagExpr:
        tok = self._peek()
        if tok is None:
            raise self._fail("expression ends too early")
        self.pos += 1
        if tok == "(":
            node = self._or()
            if self._peek() != ")":
                raise self._fail("missing ')'")
            self.pos += 1
            return node
        if tok == ")" or tok.upper() in _KEYWORDS:
            raise self._fail(f"expected a tag, found {tok!r}")
        return Tag(tok)


@lru_cache(maxsize=4096)
def parse_tag_expr(expr: str) -> TagExpr:
    """Parse a tag expression; raises ``ScheduleError(field="tag_expr")`` on bad syntax."""
    if len(expr) > MAX_EXPR_LENGTH:
        raise ScheduleError("tag_expr", f"longer than {MAX_EXPR_LENGTH} characters")
    return _Parser(expr).parse()


def required_tags(expr: TagExpr) -> frozenset[str] | None:
    """Tags of which every matching tag set holds at least one; None when no such set exists.

    Lets an index find the few rules worth testing for a screen from the screen's own tags.
    """
    if isinstance(expr, Tag):
        return frozenset((expr.name,))
    if isinstance(expr, Not):
        return None
    if isinstance(expr, And):
        options = [r for o in expr.operands if (r := required_tags(o)) is not None]
        return min(options, key=lambda r: (len(r), sorted(r))) if options else None
    out: frozenset[str] = frozenset()
    for o in expr.operands:
        r = required_tags(o)
        if r is None:
            return None
        out |= r
    return out


def matches(targeting: Targeting, screen: Screen) -> bool:
    """True when every given criterion of ``targeting`` holds for ``screen`` (empty = any)."""
    return predicate(targeting)(screen)


@lru_cache(maxsize=8192)
def predicate(targeting: Targeting) -> Callable[[Screen], bool]:
    """A fast reusable test for one targeting rule (the expression is parsed once)."""
    classes = targeting.screen_classes
    groups = targeting.groups
    ids = targeting.screen_ids
    expr = parse_tag_expr(targeting.tag_expr) if targeting.tag_expr and targeting.tag_expr.strip() else None
    tags_ok = compile_expr(expr) if expr is not None else None
    if not classes and not ids and not groups and tags_ok is not None:
        fast = tags_ok
        return lambda screen: fast(screen.tags)

    def test(screen: Screen) -> bool:
        if classes and screen.screen_class not in classes:
            return False
        if ids and screen.id not in ids:
            return False
        if groups and groups.isdisjoint(screen.groups):
            return False
        return tags_ok is None or tags_ok(screen.tags)

    return test


def _literal(expr: TagExpr) -> tuple[bool, str] | None:
    """(True, tag) for ``tag``, (False, tag) for ``NOT tag``, else None."""
    if isinstance(expr, Tag):
        return True, expr.name
    if isinstance(expr, Not) and isinstance(expr.operand, Tag):
        return False, expr.operand.name
    return None


def compile_expr(expr: TagExpr) -> Callable[[frozenset[str]], bool]:
    """A closure equivalent to ``expr.evaluate``, using set operations for the common shapes."""
    if isinstance(expr, Tag):
        name = expr.name
        return lambda tags: name in tags
    if isinstance(expr, Not) and isinstance(expr.operand, Tag):
        name = expr.operand.name
        return lambda tags: name not in tags
    if isinstance(expr, And | Or):
        literals = [lit for o in expr.operands if (lit := _literal(o)) is not None]
        if len(literals) == len(expr.operands):
            pos = frozenset(name for positive, name in literals if positive)
            neg = frozenset(name for positive, name in literals if not positive)
            if isinstance(expr, And):
                return lambda tags: pos <= tags and neg.isdisjoint(tags)
            return lambda tags: not pos.isdisjoint(tags) or not neg <= tags
    if isinstance(expr, Not):
        inner = compile_expr(expr.operand)
        return lambda tags: not inner(tags)
    parts = tuple(compile_expr(o) for o in expr.operands)
    if isinstance(expr, And):
        return lambda tags: all(p(tags) for p in parts)
    return lambda tags: any(p(tags) for p in parts)
