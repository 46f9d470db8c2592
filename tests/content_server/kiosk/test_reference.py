"""Order references are short, readable and forgiving when typed."""

import re

from content_server.kiosk.reference import new_reference, normalize_reference


def test_references() -> None:
    refs = {new_reference() for _ in range(500)}
    assert len(refs) == 500
    assert all(re.fullmatch(r"[2-9A-HJKMNP-TW-Z]{3}-[2-9A-HJKMNP-TW-Z]{3}", r) for r in refs)
    assert normalize_reference(" k7q 4m2 ") == "K7Q-4M2"
    assert normalize_reference("K0Q-4M2") is None
