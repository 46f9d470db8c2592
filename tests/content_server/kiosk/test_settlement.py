"""Only a matching success pays an order; duplicates and late money are handled."""

from content_server.kiosk.payment import TradeStatus
from content_server.kiosk.settlement import OrderFacts, Outcome, decide
from schedules.protocol.kiosk import OrderState as O


def facts(state: O) -> OrderFacts:
    return OrderFacts(order_id="o1", state=state, amount_minor=3000, currency="CNY")


def test_outcomes() -> None:
    ok = TradeStatus.SUCCESS
    assert decide(facts(O.AWAITING_PAYMENT), "o1", ok, 3000, "CNY").outcome is Outcome.MARK_PAID
    assert decide(facts(O.PAID), "o1", ok, 3000, "CNY").outcome is Outcome.ALREADY_PAID
    assert decide(facts(O.EXPIRED), "o1", ok, 3000, "CNY").outcome is Outcome.REFUND_LATE
    assert decide(facts(O.AWAITING_PAYMENT), "o1", ok, 1, "CNY").outcome is Outcome.REJECT
    assert decide(facts(O.AWAITING_PAYMENT), "o1", ok, 3000, "USD").outcome is Outcome.REJECT
    assert decide(facts(O.AWAITING_PAYMENT), "o2", ok, 3000, "CNY").outcome is Outcome.REJECT
    assert decide(facts(O.AWAITING_PAYMENT), "o1", TradeStatus.CLOSED, 3000, "CNY").outcome is Outcome.IGNORE
