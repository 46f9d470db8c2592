"""Order state machine: created → awaiting_payment → paid → fulfilled, or expired/cancelled/refunded.

Kept pure so that every path that changes an order (kiosk, phone, provider notification,
reconciliation, provider portal) goes through the same table of legal moves.
"""

from __future__ import annotations

from content_server.kiosk.errors import IllegalTransition
from schedules.protocol.kiosk import OrderState

_ALLOWED: dict[OrderState, frozenset[OrderState]] = {
    OrderState.CREATED: frozenset({OrderState.AWAITING_PAYMENT, OrderState.EXPIRED, OrderState.CANCELLED}),
    OrderState.AWAITING_PAYMENT: frozenset({OrderState.PAID, OrderState.EXPIRED, OrderState.CANCELLED}),
    OrderState.PAID: frozenset({OrderState.FULFILLED, OrderState.REFUNDED}),
    OrderState.FULFILLED: frozenset(),
    OrderState.EXPIRED: frozenset(),
    OrderState.CANCELLED: frozenset(),
    OrderState.REFUNDED: frozenset(),
}

TERMINAL = frozenset(s for s, nxt in _ALLOWED.items() if not nxt)
UNPAID = frozenset({OrderState.CREATED, OrderState.AWAITING_PAYMENT})


def can_move(state: OrderState, target: OrderState) -> bool:
    """Whether ``state`` may change to ``target``."""
    return target in _ALLOWED[state]


def move(state: OrderState, target: OrderState) -> OrderState:
    """Return ``target`` if the move is legal, else raise :class:`IllegalTransition`."""
    if not can_move(state, target):
        raise IllegalTransition("order", state.value, target.value)
    return target
