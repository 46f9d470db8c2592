"""GB 11643 check digits, phone format and masking."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from content_server.kiosk.errors import InvalidInput
from content_server.kiosk.identity import (
    id_check_digit,
    mask_id_number,
    mask_name,
    mask_phone,
    normalize_id_number,
    normalize_phone,
)


def test_known_valid_numbers() -> None:
    # 11010519491231002X is the standard's own example; 110105199001011234 is not valid.
    assert normalize_id_number("11010519491231002x") == "11010519491231002X"
    assert id_check_digit("32010619850512341") == "5"
    assert normalize_id_number(" 320106198505123415 ") == "320106198505123415"


@pytest.mark.parametrize(
    "bad",
    [
        "110105194912310021",
        "1101051949123100",
        "11010519491331002X",
        "abcdefghijklmnopqr",
        "11010518000101001X",
    ],
)
def test_invalid_numbers_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_id_number(bad)


def test_phone_normalisation() -> None:
    assert normalize_phone("+86 138-1234-5678") == "13812345678"
    for bad in ("12812345678", "1381234567", "phone"):
        with pytest.raises(InvalidInput):
            normalize_phone(bad)


def test_masks() -> None:
    assert mask_name("张小三") == "张*三"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(first17: str, position: int, shift: int) -> None:
    """MOD 11-2 detects every single-digit substitution; the birth date is fixed to stay valid."""
    first17 = first17[:6] + "19850512" + first17[14:]
    number = first17 + id_check_digit(first17)
    assert normalize_id_number(number) == number
    wrong = str((int(number[position]) + shift) % 10)
    typo = number[:position] + wrong + number[position + 1 :]
    with pytest.raises(InvalidInput):
        normalize_id_number(typo)


@given(st.text(min_size=2, max_size=8).filter(lambda s: s.strip() == s and len(s) >= 2))
def test_masked_names_keep_only_the_first_and_last_character(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name) and masked[0] == name[0]
    assert set(masked[1:-1]) <= {"*"} and "*" in masked
