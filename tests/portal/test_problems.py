"""The services' refusals reach a portal page in the reader's language (issue 14: "id_number:
check digit does not match" was shown to clerks reading Chinese)."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from content_server.portal import problems
from content_server.portal.i18n import TEXTS

SERVER = Path(__file__).resolve().parents[2] / "content_server"
# the modules whose refusals a portal page can show (the forms and the pages' services)
PAGE_SERVICES = [
    "kiosk/identity.py", "kiosk/case_states.py", "kiosk/order_states.py", "kiosk/services/cases.py",
    "kiosk/services/merchants.py", "signage/services/bookings.py", "signage/services/library.py",
    "signage/services/screens.py", "signage/services/bundles.py", "accounts/services.py",
    "studio/services/datasources.py", "studio/services/notices.py",
]  # fmt: skip
# raised on paths no portal page takes (the kiosks' and devices' own API), written for machines
API_ONLY = {
    "idempotency key reused with a different order",
    "could not place the order, please retry",
    "the price changed since the kiosk showed it; please order again",
    "give either the last 4 characters of the ID card or the phone number",
    "no case matches this number and answer",
    "screenshot must be a PNG image",
    "screenshot too large",
    "you cannot revoke your own approval",
    "unknown user",
    "this pairing was already completed",
    "unknown asset",
}
# raises that pass on another module's words, on a path no portal page takes: (module, expression)
API_ONLY_PASSED_ON = {
    ("signage/services/screens.py", "str(exc)"),  # screenshots.BadScreenshot: a device's upload
}
ERRORS = {
    "Invalid",
    "Conflict",
    "NotFound",
    "Forbidden",
    "InvalidInput",
    "IllegalTransition",
    "AccountExists",
}
# a value for each placeholder that looks like what the service puts there (states are codes)
SAMPLES = {"state": "pending", "action": "pause", "target": "accepted", "booking_state": "pending"}


def _value(expr: ast.expr) -> str:
    """What an expression in a message stands for: a state's code for a state, else a number."""
    name = ast.unparse(expr)
    return next((SAMPLES[part] for part in reversed(name.split(".")) if part in SAMPLES), "3")


def _sample(node: ast.expr) -> str:
    """The message a raise makes, with its f-string holes filled the way the service fills them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                value = _value(part.value)
                out.append(f"'{value}'" if part.conversion == ord("r") else value)
        return "".join(out)
    return _value(node)


def _messages() -> list[tuple[str, str]]:
    found = []
    for rel in PAGE_SERVICES:
        tree = ast.parse((SERVER / rel).read_text())
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call = node.exc
            name = call.func.id if isinstance(call.func, ast.Name) else ""
            if name not in ERRORS or not call.args:
                continue
            if (rel, ast.unparse(call.args[0])) in API_ONLY_PASSED_ON:
                continue
            parts = [_sample(a) for a in call.args]
            if name == "InvalidInput":
                message = f"{parts[0]}: {parts[1]}"
            elif name == "IllegalTransition":  # (machine, state, target), as the error words it
                message = f"{parts[0]}: cannot go from '{parts[1]}' to '{parts[2]}'"
            else:
                message = parts[0]
            if message:
                found.append((f"{rel}:{node.lineno}", message))
    return found


MESSAGES = _messages()


def test_the_scan_finds_the_services_refusals() -> None:
    assert len(MESSAGES) > 60, "the scanner found too few raises: it is broken"
    assert ("kiosk/identity.py", "id_number: check digit does not match") in {
        (where.split(":")[0], m) for where, m in MESSAGES
    }


@pytest.mark.parametrize(("where", "message"), MESSAGES, ids=[w for w, _ in MESSAGES])
def test_every_refusal_a_page_can_show_has_words_in_both_languages(where: str, message: str) -> None:
    if message in API_ONLY:
        return
    found = problems.match(message)
    assert found is not None, f"{where}: no translation for {message!r} (add it to portal/problems.py)"
    key, values = found
    assert key in TEXTS
    wanted = {f for _, f, _, _ in string.Formatter().parse(TEXTS.both(key).zh) if f}
    assert wanted <= set(values), f"{key} needs {wanted - set(values)} from {message!r}"


def test_messages_with_values_carry_them_translated() -> None:
    key, values = problems.match("cannot pause a campaign that is 'pending'") or ("", {})
    assert key == "problem.campaign_move" and values == {"action": "pause", "state": "pending"}
    key, values = problems.match("this media is used by campaigns: 冬季面包节, 春节") or ("", {})
    assert key == "problem.media_in_use" and values["names"] == "冬季面包节, 春节"
    assert problems.match("Value error, valid_until must be after valid_from") == (
        "problem.validity_order",
        {},
    )
    assert problems.match("something nobody wrote down") is None


def test_field_labels_name_real_texts() -> None:
    assert [k for k in problems.FIELD_LABELS.values() if k not in TEXTS] == []
    assert all(re.fullmatch(r"[a-z_]+", name) for name in problems.FIELD_LABELS)
