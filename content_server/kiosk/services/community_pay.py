""" "Community pay": the built-in payment provider, running for real next to the server.

It behaves like Alipay face-to-face / WeChat Native from the server's point of view: a
pre-created trade gets a QR URL (``<public_url>/pay/<token>``); the resident's phone opens a
page showing merchant, subject and amount and confirms; the provider then POSTs a notification
signed with HMAC-SHA256 over timestamp and body to the server's notify URL over real HTTP.
Its ledger (``community_pay_trades``) is its own: the order logic reaches it only through
the :class:`~content_server.kiosk.payment.PaymentProvider` methods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import requests
from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

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
    """Delivers a signed notification to the merchant's notify URL; True if acknowledged."""

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> bool: ...


class HttpNotifier:
    """Sends notifications over HTTP with ``requests``, as a real provider would."""

    def __init__(self, timeout_s: float = 5.0) -> None:
        self._timeout = timeout_s

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        try:
            reply = requests.post(url, data=body, headers=dict(headers), timeout=self._timeout)
        except requests.RequestException as exc:
            log.warning("community pay: notification to %s failed: %s", url, exc)
            return False
        if reply.status_code != 200:
            log.warning("community pay: notify URL answered %s: %s", reply.status_code, reply.text[:200])
        return reply.status_code == 200


class QueuedNotifier:
    """Delivers notifications from its own thread, retrying on a schedule, as real providers do.

    The payer's confirm answers at once instead of holding a request thread while the
    merchant's handler (often this same server process) is reached: under load that thread
    waited for a free thread of its own process. A notification still unacknowledged after the
    last retry is left to the merchant's reconciliation, as providers document. Retries stay
    well inside the signature's 5-minute tolerance, so the signed headers are sent as made.
    """

    RETRY_AFTER_S = (1.0, 5.0, 30.0)

    def __init__(self, transport: Notifier, retry_after_s: tuple[float, ...] = RETRY_AFTER_S) -> None:
        self._transport = transport
        self._retry_after = retry_after_s
        self._due: list[tuple[float, int, int, str, bytes, dict[str, str]]] = []  # heap by due time
        self._ids = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._sending = 0

    def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> bool:
        """Queue the first attempt; True means queued, not delivered."""
        with self._wake:
            if self._thread is None:  # started on first use: most test apps never pay
                self._thread = threading.Thread(target=self._run, name="community-pay-notify", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (time.monotonic(), next(self._ids), 0, url, body, dict(headers)))
            self._wake.notify()
        return True

    def pending(self) -> int:
        with self._wake:
            return len(self._due)

    def idle(self) -> bool:
        """Nothing queued and nothing being sent: no notification will go out until the next ``send``."""
        with self._wake:
            return not self._due and not self._sending

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, n, attempt, url, body, headers = heapq.heappop(self._due)
                self._sending += 1
            try:  # boundary: one failing delivery never stops the others
                delivered = self._transport.send(url, body, headers)
            except Exception:
                log.exception("community pay: notification %d failed", n)
                delivered = False
            with self._wake:
                self._sending -= 1
                if not delivered and attempt < len(self._retry_after):
                    due = time.monotonic() + self._retry_after[attempt]
                    heapq.heappush(self._due, (due, n, attempt + 1, url, body, headers))
                elif not delivered:
                    log.warning("community pay: notification %d undelivered; reconciliation settles it", n)


@dataclass(frozen=True)
class TradePage:
    """What the phone page shows."""

    token: str
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
        self._secret = secret
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
        signing.verify(self._secret, headers, body, now)
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
                merchant_name=trade.merchant_name,
                subject=trade.subject,
                amount_minor=trade.amount_minor,
                currency=trade.currency,
                status=TradeStatus(trade.status),
                expires_at=trade.expires_at,
                expired=trade.status == TradeStatus.WAITING.value and trade.expires_at <= now,
            )

    def confirm(self, token: str, now: dt.datetime) -> TradePage | None:
        """The payer confirms: take the money once, then notify the merchant (again if re-confirmed)."""
        with self._sessions() as s:
            s.execute(
                update(CommunityPayTrade)
                .where(
                    CommunityPayTrade.token == token,
                    CommunityPayTrade.status == TradeStatus.WAITING.value,
                    CommunityPayTrade.expires_at > now,
                )
                .values(status=TradeStatus.SUCCESS.value, paid_at=now)
            )
            s.commit()
            trade = s.get(CommunityPayTrade, token)
            if trade is None:
                return None
            body = self.notification_for(trade) if trade.status == TradeStatus.SUCCESS.value else None
        if body is not None:  # sent with no database session open: the merchant's handler writes
            self.notifier.send(self.notify_url, body, signing.signed_headers(self._secret, body, now))
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
