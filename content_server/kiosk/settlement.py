"""What a verified payment notification (or a provider query) does to an order.

Pure: given the order's facts and what the provider says, decide. Only a notification whose
order number, amount and currency all match can pay an order; a duplicate changes nothing;
money arriving for an order that already expired or was cancelled is refunded, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from content_server.kiosk.order_states import UNPAID
from content_server.kiosk.payment import TradeStatus
from schedules.protocol.kiosk import OrderState


class Outcome(StrEnum):
    MARK_PAID = "mark_paid"
    ALREADY_PAID = "already_paid"  # duplicate: acknowledge, change nothing
    REFUND_LATE = "refund_late"  # paid after the order expired/was cancelled: give the money back
    IGNORE = "ignore"  # the provider reports no payment (waiting/closed)
    REJECT = "reject"  # does not match the order: change nothing, log


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    state: OrderState
    amount_minor: int
    currency: str


def decide(
    order: OrderFacts, out_trade_no: str, status: TradeStatus, amount_minor: int, currency: str
) -> Decision:
    """Decide the effect of a provider's report on ``order``."""
    if out_trade_no != order.order_id:
        return Decision(Outcome.REJECT, "order number mismatch")
    if status is not TradeStatus.SUCCESS:
        return Decision(Outcome.IGNORE, f"provider reports {status.value}")
    if amount_minor != order.amount_minor:
        return Decision(Outcome.REJECT, f"amount {amount_minor} != {order.amount_minor}")
    if currency.upper() != order.currency.upper():
        return Decision(Outcome.REJECT, f"currency {currency} != {order.currency}")
    if order.state in UNPAID:
        return Decision(Outcome.MARK_PAID)
    if order.state in (OrderState.EXPIRED, OrderState.CANCELLED):
        return Decision(Outcome.REFUND_LATE, f"payment arrived for a {order.state.value} order")
    return Decision(Outcome.ALREADY_PAID)
