"""Order service: create (idempotent by key), pay through a provider, settle notifications, reconcile.

Every change of an order's state is a compare-and-set UPDATE (``WHERE state = <old>``), so two
processes, a late notification and the reconciliation job can race without double-applying
anything, and each winning change writes one audit row in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from content_server.core.audit import services as audit
from content_server.core.errors import Conflict, Invalid, NotFound
from content_server.core.models import new_id
from content_server.kiosk import order_states
from content_server.kiosk.errors import KioskServerError, NotificationRejected
from content_server.kiosk.identity import mask_phone, normalize_phone
from content_server.kiosk.models import OrderRow, PaymentNotificationRow, ProviderRow, ServiceRow, SlotRow
from content_server.kiosk.payment import PaymentProvider, PaymentRequest, TradeQuery, TradeStatus
from content_server.kiosk.reference import new_reference
from content_server.kiosk.services import catalogue
from content_server.kiosk.settlement import OrderFacts, Outcome, decide
from schedules.protocol.kiosk import (
    LocalizedText,
    OfflineOrderClaims,
    OrderCreate,
    OrderState,
    OrderView,
    PaymentView,
    ServiceAddress,
)

log = logging.getLogger(__name__)

PAYMENT_TTL = dt.timedelta(minutes=15)
NOTIFICATION_GRACE = dt.timedelta(seconds=60)  # reconciliation leaves fresh orders to their notification


@dataclass(frozen=True)
class OrderRequest:
    """An order as the kiosk asked for it, online (OrderCreate) or offline (signed claims)."""

    kiosk_id: str
    idempotency_key: str
    service_id: str
    slot_id: str
    phone: str
    local_reference: str | None = None
    offline_nonce: str | None = None
    signed_amount_minor: int | None = None  # the amount the kiosk showed when it signed offline
    address: ServiceAddress | None = None  # where a home service happens

    @classmethod
    def online(cls, kiosk_id: str, body: OrderCreate) -> OrderRequest:
        return cls(
            kiosk_id=kiosk_id,
            idempotency_key=str(body.idempotency_key),
            service_id=body.service_id,
            slot_id=body.slot_id,
            phone=body.phone,
            local_reference=body.local_reference,
            address=body.address,
        )

    @classmethod
    def offline(cls, claims: OfflineOrderClaims) -> OrderRequest:
        return cls(
            kiosk_id=claims.kiosk_id,
            idempotency_key=str(claims.idempotency_key),
            service_id=claims.service_id,
            slot_id=claims.slot_id,
            phone=claims.phone,
            offline_nonce=claims.nonce,
            signed_amount_minor=claims.amount_minor,
            address=claims.address,
        )

    def fingerprint(self) -> str:
        """What must be equal for a retry with the same key (local_reference is cosmetic)."""
        parts: tuple[str, ...] = (self.kiosk_id, self.service_id, self.slot_id, normalize_phone(self.phone))
        if self.address is not None:  # orders of kiosks that send no address keep their fingerprint
            parts += (self.address.building, self.address.unit, self.address.room)
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _snapshot(order: OrderRow) -> dict[str, Any]:
    return {
        "state": order.state,
        "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "booking_state": order.booking_state,
    }


def transition(
    session: Session,
    order: OrderRow,
    target: OrderState,
    *,
    actor: str,
    now: dt.datetime,
    action: str,
    **values: Any,
) -> bool:
    """Move ``order`` to ``target`` if it is still in the state we read; audit it. False if we lost."""
    current = OrderState(order.state)
    order_states.move(current, target)
    before = _snapshot(order)
    result = session.execute(
        update(OrderRow)
        .where(OrderRow.id == order.id, OrderRow.state == current.value)
        .values(state=target.value, updated_at=now, **values)
        .execution_options(synchronize_session=False, **audit.RECORDED_BY_CALLER)  # recorded below
    )
    won = bool(getattr(result, "rowcount", 0))
    session.refresh(order)
    if won:
        audit.record(
            session,
            actor=actor,
            action=action,
            entity="order",
            entity_id=order.id,
            at=now,
            before=before,
            after=_snapshot(order) | {k: str(v) for k, v in values.items()},
        )
    return won


def release_slot(session: Session, slot_id: str) -> None:
    """Give a held place back (expired, cancelled, refunded orders)."""
    session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot_id, SlotRow.booked > 0)
        .values(booked=SlotRow.booked - 1)
        .execution_options(**audit.RECORDED_BY_CALLER, **catalogue.BOOKING)  # the order's record says why
    )


def address_of(order: OrderRow) -> ServiceAddress | None:
    """The order's service address, or None when the kiosk did not ask for one."""
    if not order.building and not order.room:
        return None
    return ServiceAddress(building=order.building, unit=order.unit, room=order.room)


def view(session: Session, order: OrderRow, *, status_url: str | None = None) -> OrderView:
    """The kiosk's view: phone masked, payment QR while it can still be paid, the appointment and
    its place, and the status page the receipt's QR opens."""
    slot = session.get(SlotRow, order.slot_id)
    payment = None
    if order.qr_payload and order.state == OrderState.AWAITING_PAYMENT.value:
        payment = PaymentView(
            provider=order.payment_provider, qr_payload=order.qr_payload, expires_at=order.expires_at
        )
    return OrderView(
        id=order.id,
        reference=order.reference,
        state=OrderState(order.state),
        service_id=order.service_id,
        slot_id=order.slot_id,
        subject=LocalizedText(zh=order.subject_zh, en=order.subject_en),
        merchant_name=LocalizedText(zh=order.merchant_zh, en=order.merchant_en),
        amount_minor=order.amount_minor,
        currency=order.currency,
        phone_masked=mask_phone(order.phone),
        created_at=order.created_at,
        paid_at=order.paid_at,
        payment=payment,
        local_reference=order.local_reference,
        appointment_start=slot.start if slot is not None else None,
        appointment_end=slot.end if slot is not None else None,
        address=address_of(order),
        status_url=status_url,
    )


def _existing(session: Session, request: OrderRequest) -> OrderRow | None:
    found = session.scalar(select(OrderRow).where(OrderRow.idempotency_key == request.idempotency_key))
    if found is None and request.offline_nonce:
        found = session.scalar(select(OrderRow).where(OrderRow.offline_nonce == request.offline_nonce))
    if found is not None and found.request_sha256 != request.fingerprint():
        raise Invalid("idempotency key reused with a different order")
    return found


def place_order(
    session: Session, provider: PaymentProvider, request: OrderRequest, now: dt.datetime
) -> tuple[OrderRow, bool]:
    """Create the order (or find the one this key already made) and its payment. True if new."""
    existing = _existing(session, request)
    if existing is not None:
        return ensure_payment(session, provider, existing, now), False
    phone = normalize_phone(request.phone)
    service = session.get(ServiceRow, request.service_id)
    slot = session.get(SlotRow, request.slot_id)
    if service is None or not service.active or slot is None or slot.service_id != service.id:
        raise NotFound("no such service or time slot")
    if slot.start <= now:
        raise Conflict("this time slot has already started")
    if request.signed_amount_minor is not None and request.signed_amount_minor != service.price_minor:
        raise Conflict("the price changed since the kiosk showed it; please order again")
    merchant = session.get(ProviderRow, service.provider_id)
    assert merchant is not None  # foreign key
    held = session.execute(
        update(SlotRow)
        .where(SlotRow.id == slot.id, SlotRow.booked < SlotRow.capacity)
        .values(booked=SlotRow.booked + 1)
        .execution_options(synchronize_session=False, **audit.RECORDED_BY_CALLER, **catalogue.BOOKING)
    )
    if not getattr(held, "rowcount", 0):
        session.rollback()
        raise Conflict("this time slot is fully booked")
    order = OrderRow(
        id=new_id(),
        reference=new_reference(),
        idempotency_key=request.idempotency_key,
        request_sha256=request.fingerprint(),
        kiosk_id=request.kiosk_id,
        offline_nonce=request.offline_nonce,
        service_id=service.id,
        slot_id=slot.id,
        provider_id=merchant.id,
        phone=phone,
        building=request.address.building.strip() if request.address else "",
        unit=request.address.unit.strip() if request.address else "",
        room=request.address.room.strip() if request.address else "",
        amount_minor=service.price_minor,
        currency=service.currency,
        subject_zh=service.name_zh,
        subject_en=service.name_en,
        merchant_zh=merchant.name_zh,
        merchant_en=merchant.name_en,
        local_reference=request.local_reference,
        state=OrderState.CREATED.value,
        created_at=now,
        updated_at=now,
        expires_at=now + PAYMENT_TTL,
        payment_provider=provider.name,
    )
    session.add(order)
    audit.record(
        session,
        actor=f"kiosk:{request.kiosk_id}",
        action="order.created",
        entity="order",
        entity_id=order.id,
        at=now,
        after={
            "state": order.state,
            "amount_minor": order.amount_minor,
            "slot_id": slot.id,
            "offline": bool(request.offline_nonce),
        },
    )
    try:
        session.commit()
    except IntegrityError:  # the same key (or, rarely, reference) committed concurrently
        session.rollback()
        existing = _existing(session, request)
        if existing is None:
            raise Conflict("could not place the order, please retry") from None
        return ensure_payment(session, provider, existing, now), False
    return ensure_payment(session, provider, order, now), True


def ensure_payment(
    session: Session, provider: PaymentProvider, order: OrderRow, now: dt.datetime
) -> OrderRow:
    """Give a created order its one payment; a retry reuses it, so it can never be paid twice."""
    if order.state != OrderState.CREATED.value:
        return order
    if order.amount_minor == 0:  # free services (companionship, guidance): booked without a payment
        actor = f"kiosk:{order.kiosk_id}"
        transition(session, order, OrderState.AWAITING_PAYMENT, actor=actor, now=now, action="order.free")
        transition(
            session, order, OrderState.PAID, actor=actor, now=now, action="order.free_confirmed", paid_at=now
        )
        session.commit()
        return order
    created = provider.create(
        PaymentRequest(
            out_trade_no=order.id,
            amount_minor=order.amount_minor,
            currency=order.currency,
            subject=f"{order.subject_zh} {order.subject_en}",
            merchant_name=order.merchant_zh,
            expires_at=order.expires_at,
        ),
        now,
    )
    transition(
        session,
        order,
        OrderState.AWAITING_PAYMENT,
        actor=f"provider:{provider.name}",
        now=now,
        action="order.payment_created",
        qr_payload=created.qr_payload,
    )
    session.commit()
    return order


def get_for_kiosk(
    session: Session, kiosk_id: str, *, order_id: str | None = None, reference: str | None = None
) -> OrderRow:
    """An order placed by this kiosk; another kiosk's order is 'not found' like an unknown one."""
    query = select(OrderRow).where(OrderRow.kiosk_id == kiosk_id)
    query = query.where(OrderRow.id == order_id) if order_id else query.where(OrderRow.reference == reference)
    order = session.scalar(query)
    if order is None:
        raise NotFound("no such order")
    return order


def find_by_reference(session: Session, reference: str) -> OrderRow | None:
    """Any kiosk's order by its reference (the status page checks the link's token first)."""
    return session.scalar(select(OrderRow).where(OrderRow.reference == reference))


def cancel_unpaid(
    session: Session,
    provider: PaymentProvider,
    order: OrderRow,
    *,
    actor: str,
    now: dt.datetime,
    reason: str = "",
) -> OrderRow:
    """Cancel before payment: close the trade first; if it turns out paid, the order is paid instead."""
    if order.state == OrderState.AWAITING_PAYMENT.value:
        closed = provider.close(order.id, now)
        if closed.status is TradeStatus.SUCCESS:
            _apply(session, provider, order, closed, now, source="query")
            session.commit()
            return order
    if transition(
        session,
        order,
        OrderState.CANCELLED,
        actor=actor,
        now=now,
        action="order.cancelled",
        cancel_reason=reason or None,
    ):
        release_slot(session, order.slot_id)
    session.commit()
    return order


def _apply(
    session: Session,
    provider: PaymentProvider,
    order: OrderRow,
    report: TradeQuery,
    now: dt.datetime,
    *,
    source: str,
) -> Outcome:
    """Apply what the provider reported (a verified notification or our own query)."""
    for _attempt in range(2):  # re-decide once if a concurrent change moved the order
        decision = decide(
            OrderFacts(order.id, OrderState(order.state), order.amount_minor, order.currency),
            report.out_trade_no,
            report.status,
            report.amount_minor,
            report.currency,
        )
        if decision.outcome is Outcome.MARK_PAID:
            if transition(
                session,
                order,
                OrderState.PAID,
                actor=f"provider:{provider.name}",
                now=now,
                action=f"order.paid_by_{source}",
                paid_at=report.paid_at or now,
                provider_trade_no=report.provider_trade_no,
            ):
                return decision.outcome
            continue
        if decision.outcome is Outcome.REFUND_LATE:
            _refund_late(session, provider, order, now)
        elif decision.outcome is Outcome.REJECT:
            log.warning("payment report for order %s rejected: %s", order.id, decision.reason)
            audit.record(
                session,
                actor=f"provider:{provider.name}",
                action="order.payment_rejected",
                entity="order",
                entity_id=order.id,
                at=now,
                after={"reason": decision.reason},
            )
        return decision.outcome
    return Outcome.IGNORE


def _refund_late(session: Session, provider: PaymentProvider, order: OrderRow, now: dt.datetime) -> None:
    """Money for an order we already gave up on: confirm with the provider, then give it back."""
    truth = provider.query(order.id, now)
    if truth.status is not TradeStatus.SUCCESS:
        log.warning(
            "late success notification for %s not confirmed by the provider (%s)",
            order.id,
            truth.status.value,
        )
        return
    refund_id = f"late-{order.id}"
    provider.refund(order.id, refund_id, truth.amount_minor, "paid after the order expired", now)
    log.warning("order %s was paid after it %s; refunded", order.id, order.state)
    audit.record(
        session,
        actor=f"provider:{provider.name}",
        action="order.late_payment_refunded",
        entity="order",
        entity_id=order.id,
        at=now,
        after={"refund_id": refund_id},
    )


def handle_notification(
    session: Session, provider: PaymentProvider, headers: Mapping[str, str], body: bytes, now: dt.datetime
) -> Outcome:
    """Verify and apply one provider notification. Raises NotificationRejected for a bad one."""
    try:
        note = provider.verify_notification(headers, body, now)
    except NotificationRejected as exc:
        log.warning("%s notification refused: %s", provider.name, exc.reason)
        raise
    key = f"{provider.name}:{note.notification_id}"
    if session.get(PaymentNotificationRow, key) is not None:
        log.info("duplicate notification %s ignored", key)
        return Outcome.ALREADY_PAID
    order = session.get(OrderRow, note.out_trade_no)
    if order is None or order.payment_provider != provider.name:
        log.warning("%s notification for unknown order %s", provider.name, note.out_trade_no)
        raise NotificationRejected("unknown order")
    outcome = _apply(session, provider, order, note.as_report(), now, source="notification")
    if outcome is not Outcome.REJECT:  # a rejected one must not block the genuine one with the same id
        session.add(PaymentNotificationRow(id=key, order_id=order.id, received_at=now, outcome=outcome.value))
    try:
        session.commit()
    except IntegrityError:  # the same notification delivered twice at once: the other one applied it
        session.rollback()
        return Outcome.ALREADY_PAID
    if outcome is Outcome.REJECT:
        raise NotificationRejected("does not match the order")
    return outcome


def reconcile_order(
    session: Session, provider: PaymentProvider, order: OrderRow, now: dt.datetime
) -> str | None:
    """Ask the provider about one unpaid order: mark it paid, or close and expire it once overdue.

    Returns "paid", "expired" or None (nothing changed). The caller commits.
    """
    truth = provider.query(order.id, now) if order.state == OrderState.AWAITING_PAYMENT.value else None
    if truth is not None and truth.status is TradeStatus.SUCCESS:
        return (
            "paid"
            if _apply(session, provider, order, truth, now, source="query") is Outcome.MARK_PAID
            else None
        )
    if order.expires_at > now or order.state not in (
        OrderState.CREATED.value,
        OrderState.AWAITING_PAYMENT.value,
    ):
        return None
    closed = provider.close(order.id, now) if truth is not None else None
    if closed is not None and closed.status is TradeStatus.SUCCESS:  # paid at the last second
        return (
            "paid"
            if _apply(session, provider, order, closed, now, source="query") is Outcome.MARK_PAID
            else None
        )
    if transition(session, order, OrderState.EXPIRED, actor="system", now=now, action="order.expired"):
        release_slot(session, order.slot_id)
        return "expired"
    return None


def settle_if_overdue(
    session: Session, provider: PaymentProvider, order: OrderRow, now: dt.datetime
) -> OrderRow:
    """An unpaid order a kiosk asks about after its expiry is settled now, not at the next job."""
    if order.state in order_states.UNPAID and order.expires_at <= now:
        reconcile_order(session, provider, order, now)
        session.commit()
    return order


def reconcile(
    session: Session, provider: PaymentProvider, now: dt.datetime, grace: dt.timedelta = NOTIFICATION_GRACE
) -> dict[str, int]:
    """For orders whose notification never came: ask the provider; close and expire overdue ones."""
    counts = {"paid": 0, "expired": 0, "checked": 0}
    due = session.scalars(
        select(OrderRow)
        .where(
            OrderRow.payment_provider == provider.name,
            OrderRow.state.in_([OrderState.CREATED.value, OrderState.AWAITING_PAYMENT.value]),
            OrderRow.updated_at <= now - grace,
        )
        .order_by(OrderRow.created_at)
        .limit(500)
    ).all()
    for order in due:
        counts["checked"] += 1
        try:
            outcome = reconcile_order(session, provider, order, now)
            session.commit()
        except KioskServerError:  # one bad order must not stall the others
            session.rollback()
            log.exception("reconciliation of order %s failed; will retry", order.id)
            continue
        if outcome is not None:
            counts[outcome] += 1
    if counts["paid"] or counts["expired"]:
        log.info("reconciliation: %s", counts)
    return counts


def counts(session: Session) -> tuple[dict[str, int], int]:
    """Orders per state, and payment notifications received (for the metrics)."""
    by_state = {
        str(s): int(n)
        for s, n in session.execute(select(OrderRow.state, func.count()).group_by(OrderRow.state))
    }
    notifications = session.scalar(select(func.count()).select_from(PaymentNotificationRow)) or 0
    return by_state, int(notifications)
