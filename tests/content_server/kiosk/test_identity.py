"""GB 11643 check digits, phone format and masking."""

import pytest

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
