"""Payment provider interface, modelled on Alipay face-to-face ``precreate`` and WeChat Pay Native.

The order logic talks only to :class:`PaymentProvider`: create a payment (merchant order
number, amount, subject, expiry) and get a QR payload URL; receive an asynchronous signed
notification (the adapter verifies the provider's own signature scheme and turns it into a
:class:`PaymentNotification`); query; close; refund. An Alipay or WeChat adapter implements
the same five methods (see docs/payments.md); the order logic does not change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class TradeStatus(StrEnum):
    """A provider's view of one payment (Alipay's ``trade_status`` / WeChat's ``trade_state``)."""

    WAITING = "waiting"  # WAIT_BUYER_PAY / NOTPAY
    SUCCESS = "success"  # TRADE_SUCCESS / SUCCESS
    CLOSED = "closed"  # TRADE_CLOSED / CLOSED
    REFUNDED = "refunded"  # full refund done
    NOT_FOUND = "not_found"  # ACQ.TRADE_NOT_EXIST / ORDER_NOT_EXIST


@dataclass(frozen=True)
class PaymentRequest:
    out_trade_no: str  # our order id, unique per merchant
    amount_minor: int
    currency: str
    subject: str
    merchant_name: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class PaymentCreated:
    provider: str
    qr_payload: str  # what the QR code encodes: a URL the phone opens
    expires_at: dt.datetime


@dataclass(frozen=True)
class TradeQuery:
    out_trade_no: str
    status: TradeStatus
    amount_minor: int = 0
    currency: str = "CNY"
    provider_trade_no: str = ""
    paid_at: dt.datetime | None = None


@dataclass(frozen=True)
class PaymentNotification:
    """A notification whose provider signature and freshness were verified by the adapter."""

    notification_id: str
    out_trade_no: str
    provider_trade_no: str
    status: TradeStatus
    amount_minor: int
    currency: str
    paid_at: dt.datetime | None

    def as_report(self) -> TradeQuery:
        """The same facts as a query answer, so both are settled by one code path."""
        return TradeQuery(
            out_trade_no=self.out_trade_no,
            status=self.status,
            amount_minor=self.amount_minor,
            currency=self.currency,
            provider_trade_no=self.provider_trade_no,
            paid_at=self.paid_at,
        )


@dataclass(frozen=True)
class RefundResult:
    out_trade_no: str
    refund_id: str
    amount_minor: int
    refunded_at: dt.datetime


class PaymentProvider(Protocol):
    """What an order needs from a payment provider. ``now`` is always passed in."""

    name: str

    def create(self, request: PaymentRequest, now: dt.datetime) -> PaymentCreated:
        """Pre-create a payment; creating again for the same ``out_trade_no`` returns the same QR."""
        ...

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: dt.datetime
    ) -> PaymentNotification:
        """Check the provider's signature and timestamp; raise NotificationRejected otherwise."""
        ...

    def query(self, out_trade_no: str, now: dt.datetime) -> TradeQuery:
        """Ask the provider what happened to a payment (used when a notification never came)."""
        ...

    def close(self, out_trade_no: str, now: dt.datetime) -> TradeQuery:
        """Close an unpaid payment so it can no longer be paid; returns the final status."""
        ...

    def refund(
        self, out_trade_no: str, refund_id: str, amount_minor: int, reason: str, now: dt.datetime
    ) -> RefundResult:
        """Refund a paid payment; the same ``refund_id`` twice refunds once."""
        ...
