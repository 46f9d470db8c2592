""" "Community pay": the built-in payment provider, running for real next to the server.

It behaves like Alipay face-to-face / WeChat Native from the server's point of view: a
pre-created trade gets a QR URL (``<public_url>/pay/<token>``); the resident's phone opens a
page showing merchant, subject and amount and confirms; the provider then POSTs a notification
signed with HMAC-SHA256 over timestamp and body to the server's notify URL over real HTTP.
Its ledger (``community_pay_trades``) is its own: the order logic reaches it only through
the :class:`~content_server.kiosk.payment.PaymentProvider` methods.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import requests
from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.delivery import services as deliveries
from content_server.core.delivery.policy import Outcome
from content_server.core.delivery.services import Message
from content_server.kiosk import signing
from content_server.kiosk.errors import NotificationRejected, ProviderError
from content_server.kiosk.models import CommunityPayTrade
from content_server.kiosk.payment import (
    PaymentCreated,
    PaymentNotification,
    PaymentRequest,
    RefundResult,
    TradeQuery,
    TradeStatus,
)

log = logging.getLogger(__name__)

NAME = "community_pay"
NOTIFY_PATH = f"/api/v1/payments/{NAME}/notify"
NOTIFY_SENDER = "community_pay.notify"  # its messages on the delivery queue


def derive_secret(server_secret: str) -> bytes:
    """The notification signing key, derived from the server secret (no extra setting to leak)."""
    return hmac.new(server_secret.encode(), b"community-pay-notify-v1", hashlib.sha256).digest()


def _by_order(s: Session, out_trade_no: str, *, lock: bool = False) -> CommunityPayTrade | None:
    query = select(CommunityPayTrade).where(CommunityPayTrade.out_trade_no == out_trade_no)
    return s.scalar(query.with_for_update() if lock else query)


class _NotificationBody(BaseModel):
    notification_id: str
    out_trade_no: str
    trade_no: str
    status: TradeStatus
    amount_minor: int
    currency: str
    paid_at: dt.datetime | None = None


class Notifier(Protocol):
    """Delivers a signed notification to the merchant's notify URL and says how it went."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome: ...


class HttpNotifier:
    """Sends notifications over HTTP with ``requests``, as a real provider would."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self._timeout = timeout_s

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        try:
            reply = requests.post(url, data=body, headers=dict(headers), timeout=self._timeout)
        except requests.RequestException as exc:
            log.warning("community pay: notification to %s failed: %s", url, exc)
            return Outcome(False, f"{type(exc).__name__}: {exc}"[:300])
        if reply.status_code != 200:
            log.warning("community pay: notify URL answered %s: %s", reply.status_code, reply.text[:200])
            return Outcome(False, f"HTTP {reply.status_code}: {reply.text[:200]}")
        return Outcome(True, "HTTP 200")


class NotificationSender:
    """Sends community pay's queued notifications (``core.delivery``), signed when sent.

    The merchant's notify URL gets the same body and notification id at every attempt, and a
    signature made at that moment (the merchant refuses one older than five minutes, and a retry
    may come hours later, after a restart). It reaches the provider's current ``notifier``.
    """

    def __init__(self, pay: CommunityPay) -> None:
        self._pay = pay

    def send(self, message: Message, now: dt.datetime) -> Outcome:
        body = base64.b64decode(message.payload["body"])
        headers = signing.signed_headers(self._pay.secret, body, now)
        return self._pay.notifier.send(message.target, body, headers)


@dataclass(frozen=True)
class TradePage:
    """What the phone page shows."""

    token: str
    out_trade_no: str  # the merchant's order id
    merchant_name: str
    subject: str
    amount_minor: int
    currency: str
    status: TradeStatus
    expires_at: dt.datetime
    expired: bool


class CommunityPay:
    """The provider. ``sessions`` opens its own short transactions, like a separate system."""

    name = NAME

    def __init__(
        self, sessions: sessionmaker[Session], secret: bytes, public_url: str, notifier: Notifier
    ) -> None:
        self._sessions = sessions
        self.secret = secret
        self._public_url = public_url.rstrip("/")
        self.notifier = notifier

    @property
    def notify_url(self) -> str:
        return self._public_url + NOTIFY_PATH

    def pay_url(self, token: str) -> str:
        return f"{self._public_url}/pay/{token}"

    # --- merchant side (PaymentProvider) ---------------------------------------------------

    def create(self, request: PaymentRequest, now: dt.datetime) -> PaymentCreated:
        if request.amount_minor <= 0:
            raise ProviderError("amount must be positive")
        with self._sessions() as s:
            trade = _by_order(s, request.out_trade_no)
            if trade is None:
                trade = CommunityPayTrade(
                    token=secrets.token_urlsafe(24),
                    out_trade_no=request.out_trade_no,
                    trade_no="CP" + secrets.token_hex(12),
                    amount_minor=request.amount_minor,
                    currency=request.currency,
                    subject=request.subject,
                    merchant_name=request.merchant_name,
                    status=TradeStatus.WAITING.value,
                    created_at=now,
                    expires_at=request.expires_at,
                )
                s.add(trade)
                try:
                    s.commit()
                except IntegrityError:  # a concurrent create for the same order won
                    s.rollback()
                    trade = _by_order(s, request.out_trade_no)
                    assert trade is not None
            if trade.amount_minor != request.amount_minor or trade.currency != request.currency:
                raise ProviderError("out_trade_no reused with another amount")
            return PaymentCreated(
                provider=NAME, qr_payload=self.pay_url(trade.token), expires_at=trade.expires_at
            )

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: dt.datetime
    ) -> PaymentNotification:
        signing.verify(self.secret, headers, body, now)
        try:
            data = _NotificationBody.model_validate_json(body)
        except ValidationError:
            raise NotificationRejected("malformed body") from None
        return PaymentNotification(
            notification_id=data.notification_id,
            out_trade_no=data.out_trade_no,
            provider_trade_no=data.trade_no,
            status=data.status,
            amount_minor=data.amount_minor,
            currency=data.currency,
            paid_at=data.paid_at,
        )

    def query(self, out_trade_no: str, now: dt.datetime) -> TradeQuery:
        with self._sessions() as s:
            return self._as_query(out_trade_no, _by_order(s, out_trade_no))

    def close(self, out_trade_no: str, now: dt.datetime) -> TradeQuery:
        with self._sessions() as s:
            s.execute(
                update(CommunityPayTrade)
                .where(
                    CommunityPayTrade.out_trade_no == out_trade_no,
                    CommunityPayTrade.status == TradeStatus.WAITING.value,
                )
                .values(status=TradeStatus.CLOSED.value)
            )
            s.commit()
            return self._as_query(out_trade_no, _by_order(s, out_trade_no))

    def refund(
        self, out_trade_no: str, refund_id: str, amount_minor: int, reason: str, now: dt.datetime
    ) -> RefundResult:
        with self._sessions() as s:
            trade = _by_order(s, out_trade_no, lock=True)
            if trade is None:
                raise ProviderError("no such trade")
            if refund_id in trade.refund_ids:
                return RefundResult(out_trade_no, refund_id, amount_minor, now)
            if trade.status not in (TradeStatus.SUCCESS.value, TradeStatus.REFUNDED.value):
                raise ProviderError(f"trade is {trade.status}, nothing to refund")
            if amount_minor <= 0 or trade.refunded_minor + amount_minor > trade.amount_minor:
                raise ProviderError("refund exceeds the amount paid")
            trade.refunded_minor += amount_minor
            trade.refund_ids = [*trade.refund_ids, refund_id]
            if trade.refunded_minor == trade.amount_minor:
                trade.status = TradeStatus.REFUNDED.value
            s.commit()
            log.info("community pay: refunded %s fen of %s (%s)", amount_minor, out_trade_no, reason)
            return RefundResult(out_trade_no, refund_id, amount_minor, now)

    @staticmethod
    def _as_query(out_trade_no: str, trade: CommunityPayTrade | None) -> TradeQuery:
        if trade is None:
            return TradeQuery(out_trade_no=out_trade_no, status=TradeStatus.NOT_FOUND)
        return TradeQuery(
            out_trade_no=out_trade_no,
            status=TradeStatus(trade.status),
            amount_minor=trade.amount_minor,
            currency=trade.currency,
            provider_trade_no=trade.trade_no,
            paid_at=trade.paid_at,
        )

    # --- payer side (the phone page) -------------------------------------------------------

    def page(self, token: str, now: dt.datetime) -> TradePage | None:
        with self._sessions() as s:
            trade = s.get(CommunityPayTrade, token)
            if trade is None:
                return None
            return TradePage(
                token=token,
                out_trade_no=trade.out_trade_no,
                merchant_name=trade.merchant_name,
                subject=trade.subject,
                amount_minor=trade.amount_minor,
                currency=trade.currency,
                status=TradeStatus(trade.status),
                expires_at=trade.expires_at,
                expired=trade.status == TradeStatus.WAITING.value and trade.expires_at <= now,
            )

    def confirm(self, token: str, now: dt.datetime) -> TradePage | None:
        """The payer confirms: take the money once, and queue the merchant's notification in the
        same transaction (``core.delivery``: retried, kept across restarts). Confirming again
        queues nothing new, but sends a notification that had become a dead letter again."""
        with self._sessions() as s:
            s.execute(
                update(CommunityPayTrade)
                .where(
                    CommunityPayTrade.token == token,
                    CommunityPayTrade.status == TradeStatus.WAITING.value,
                    CommunityPayTrade.expires_at > now,
                )
                .values(status=TradeStatus.SUCCESS.value, paid_at=now)
                .execution_options(synchronize_session=False)
            )
            trade = s.get(CommunityPayTrade, token, populate_existing=True)
            if trade is None:
                s.rollback()
                return None
            if trade.status == TradeStatus.SUCCESS.value:
                body = self.notification_for(trade)
                deliveries.enqueue(
                    s,
                    key=f"{NAME}:{trade.trade_no}-success",
                    sender=NOTIFY_SENDER,
                    target=self.notify_url,
                    payload={"body": base64.b64encode(body).decode()},
                    source="kiosk",
                    now=now,
                    topic=f"payment notification {trade.out_trade_no}",
                )
            s.commit()  # the merchant is reached by the delivery worker, with no session open here
        return self.page(token, now)

    def notification_for(self, trade: CommunityPayTrade) -> bytes:
        """The notification body for a paid trade; its id is stable, so a resend is a duplicate."""
        body = _NotificationBody(
            notification_id=f"{trade.trade_no}-success",
            out_trade_no=trade.out_trade_no,
            trade_no=trade.trade_no,
            status=TradeStatus.SUCCESS,
            amount_minor=trade.amount_minor,
            currency=trade.currency,
            paid_at=trade.paid_at,
        )
        return json.dumps(body.model_dump(mode="json"), separators=(",", ":")).encode()
