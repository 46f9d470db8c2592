"""The account rules every path calls (portal sign-up, API sign-up, operator CLI): usernames and
passwords. Pure: no database; the account service checks uniqueness on :func:`username_key`.

Usernames
  NFKC-normalised first (full-width ``ＯＰ`` becomes ``OP``), then 3-64 characters of Latin letters,
  digits, Chinese characters and ``. _ @ + -``, starting with a letter, digit or Chinese character
  (so no cell that a spreadsheet would run, no markup). Other scripts are refused: a community
  portal needs no Cyrillic or Greek username, and allowing them is how ``оperator`` (Cyrillic
  ``о``) passes for ``operator``.
  Unique by *key* (``core.usernames.username_key``): the Unicode confusable skeleton (UTS #39,
  computed by ICU) of the case-folded name, case-folded again. ``Operator``, ``0perator`` and
  ``〇perator`` collide with ``operator``, ``rnodern`` with ``modern``; so would ``оperator``
  if the pattern let it in.
Passwords
  10 to 256 characters, not one of the common passwords shipped in ``common_passwords.txt``
  (case-insensitively), and not the username itself.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from content_server.core.errors import Invalid
from content_server.core.usernames import username_key
from schedules.bilingual import TextTable

USERNAME_MIN, USERNAME_MAX = 2, 64  # 2: Chinese names (张三)
PASSWORD_MIN, PASSWORD_MAX = 10, 256
_NAME_CHARS = r"A-Za-z0-9\u3400-\u4DBF\u4E00-\u9FFF"
USERNAME_RE = re.compile(rf"^[{_NAME_CHARS}][{_NAME_CHARS}._@+\-]*$")
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


class Problem(StrEnum):
    USERNAME_LENGTH = "username_length"
    USERNAME_CHARACTERS = "username_characters"
    USERNAME_TAKEN = "username_taken"  # raised by the service: the key is already someone's
    PASSWORD_LENGTH = "password_length"
    PASSWORD_COMMON = "password_common"
    PASSWORD_IS_USERNAME = "password_is_username"


TEXTS = TextTable(
    {
        Problem.USERNAME_LENGTH: (
            f"用户名需 {USERNAME_MIN} 至 {USERNAME_MAX} 个字符。",
            f"Usernames have {USERNAME_MIN} to {USERNAME_MAX} characters.",
        ),
        Problem.USERNAME_CHARACTERS: (
            "用户名只能包含字母、数字、汉字和 . _ @ + -，并以字母、数字或汉字开头。",
            "Usernames may hold letters, digits, Chinese characters and . _ @ + -, "
            "and start with a letter, digit or Chinese character.",
        ),
        Problem.USERNAME_TAKEN: (
            "该用户名（或与之相似的名称）已被使用。",
            "That username, or one that looks like it, is taken.",
        ),
        Problem.PASSWORD_LENGTH: (
            f"密码需 {PASSWORD_MIN} 至 {PASSWORD_MAX} 个字符。",
            f"Use a password of {PASSWORD_MIN} to {PASSWORD_MAX} characters.",
        ),
        Problem.PASSWORD_COMMON: (
            "这个密码太常见，很容易被猜到，请换一个。",
            "That password is too common to be safe; choose another.",
        ),
        Problem.PASSWORD_IS_USERNAME: ("密码不能与用户名相同。", "The password may not be the username."),
    }
)


class RuleBroken(Invalid):
    """A username or password breaks a rule (422); ``problem`` says which (texts in :data:`TEXTS`)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(TEXTS.text(problem, "en"))
        self.problem = problem

    @property
    def field(self) -> str:
        return "password" if self.problem.startswith("password") else "username"


@dataclass(frozen=True)
class Username:
    name: str  # what is stored and shown (NFKC, trimmed)
    key: str  # what must be unique: see :func:`username_key`


def check_username(raw: str) -> Username:
    name = unicodedata.normalize("NFKC", raw.strip())
    if not USERNAME_MIN <= len(name) <= USERNAME_MAX:
        raise RuleBroken(Problem.USERNAME_LENGTH)
    if not USERNAME_RE.fullmatch(name):
        raise RuleBroken(Problem.USERNAME_CHARACTERS)
    return Username(name, username_key(name))


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().casefold() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str, username: str = "") -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise RuleBroken(Problem.PASSWORD_LENGTH)
    folded = unicodedata.normalize("NFKC", password).strip().casefold()
    if folded in common_passwords():
        raise RuleBroken(Problem.PASSWORD_COMMON)
    if username and username_key(password) == username_key(username):
        raise RuleBroken(Problem.PASSWORD_IS_USERNAME)
