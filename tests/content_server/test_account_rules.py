"""Username and password rules (pure): one validation for the portal, the API and the CLI."""

from __future__ import annotations

import pytest

from content_server.accounts.rules import (
    PASSWORD_MIN,
    TEXTS,
    Problem,
    RuleBroken,
    check_password,
    check_username,
    common_passwords,
)
from content_server.core.usernames import username_key


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("оperator", Problem.USERNAME_CHARACTERS),  # Cyrillic о
        ("ορerator", Problem.USERNAME_CHARACTERS),  # Greek ο and ρ
        ("<img src=x onerror=alert(1)>", Problem.USERNAME_CHARACTERS),
        ("=cmd|'/c calc'!A1", Problem.USERNAME_CHARACTERS),
        ("-operator", Problem.USERNAME_CHARACTERS),
        ("@operator", Problem.USERNAME_CHARACTERS),
        ("oper ator", Problem.USERNAME_CHARACTERS),
        ("oper\u200bator", Problem.USERNAME_CHARACTERS),  # zero-width space
        ("operator\u202e", Problem.USERNAME_CHARACTERS),  # right-to-left override
        ("x", Problem.USERNAME_LENGTH),
        ("a" * 65, Problem.USERNAME_LENGTH),
    ],
)
def test_refused_usernames(raw: str, problem: Problem) -> None:
    with pytest.raises(RuleBroken) as caught:
        check_username(raw)
    assert caught.value.problem is problem
    assert caught.value.field == "username"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("operator", "operator"),
        (" bakery-1 ", "bakery-1"),
        ("ｏｐｅｒａｔｏｒ", "operator"),  # full-width: NFKC folds it to ASCII
        ("张三", "张三"),
        ("jo@example.com", "jo@example.com"),
    ],
)
def test_accepted_usernames_are_stored_normalised(raw: str, stored: str) -> None:
    assert check_username(raw).name == stored


LOOKALIKES = ["Operator", "OPERATOR", "0perator", "〇perator", "ｏｐｅｒａｔｏｒ", "оperator"]


@pytest.mark.parametrize("lookalike", LOOKALIKES)
def test_lookalikes_share_one_key(lookalike: str) -> None:
    """Case, width and confusable characters (UTS #39 skeletons) all fold to one key."""
    assert username_key(lookalike) == username_key("operator")


def test_different_names_keep_different_keys() -> None:
    keys = {username_key(n) for n in ("operator", "operators", "bakery", "张三", "张山", "clerk1", "clerk2")}
    assert len(keys) == 7
    assert username_key("modern") == username_key("rnodern")  # UTS #39: "rn" looks like "m"


@pytest.mark.parametrize(
    "password", ["password123", "Password123", "qwertyuiop", "woaini1314", "1qaz2wsx3edc"]
)
def test_common_passwords_are_refused(password: str) -> None:
    with pytest.raises(RuleBroken) as caught:
        check_password(password, "bakery")
    assert caught.value.problem is Problem.PASSWORD_COMMON


def test_password_length_and_username() -> None:
    with pytest.raises(RuleBroken) as caught:
        check_password("x" * (PASSWORD_MIN - 1))
    assert caught.value.problem is Problem.PASSWORD_LENGTH and caught.value.field == "password"
    with pytest.raises(RuleBroken):
        check_password("x" * 257)
    with pytest.raises(RuleBroken) as caught:
        check_password("Bakery-Shop-1", "bakery-shop-1")
    assert caught.value.problem is Problem.PASSWORD_IS_USERNAME
    check_password("correct horse battery staple", "bakery")
    check_password("operator-password-1", "operator")


def test_the_list_is_shipped_and_sizeable() -> None:
    assert len(common_passwords()) > 10_000
    assert all(p == p.casefold() for p in common_passwords())


def test_every_problem_has_both_languages() -> None:
    for problem in Problem:
        both = TEXTS.both(problem)
        assert both.zh and both.en and both.zh != both.en
