"""The order state machine allows exactly the documented moves."""

import pytest

from content_server.kiosk.errors import IllegalTransition
from content_server.kiosk.order_states import TERMINAL, can_move, move
from schedules.protocol.kiosk import OrderState as O


def test_happy_path_and_refund() -> None:
    s = move(O.CREATED, O.AWAITING_PAYMENT)
    s = move(s, O.PAID)
    assert move(s, O.FULFILLED) is O.FULFILLED
    assert move(O.PAID, O.REFUNDED) is O.REFUNDED


@pytest.mark.parametrize(
    ("state", "target"),
    [
        (O.CREATED, O.PAID),
        (O.EXPIRED, O.PAID),
        (O.CANCELLED, O.PAID),
        (O.PAID, O.CANCELLED),
        (O.FULFILLED, O.REFUNDED),
        (O.REFUNDED, O.PAID),
        (O.AWAITING_PAYMENT, O.FULFILLED),
    ],
)
def test_illegal_moves_raise(state: O, target: O) -> None:
    with pytest.raises(IllegalTransition):
        move(state, target)


def test_terminal_states_go_nowhere() -> None:
    assert {O.FULFILLED, O.EXPIRED, O.CANCELLED, O.REFUNDED} == TERMINAL
    assert not any(can_move(t, x) for t in TERMINAL for x in O)
