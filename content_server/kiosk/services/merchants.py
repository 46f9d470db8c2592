"""Service providers (merchants): their profile, services, time slots and bookings.

A provider only ever sees its own services and orders (another's are 'not found', like an
unknown id). Cancelling a paid booking refunds it through the payment provider first.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from content_server.core.audit import services as audit
from content_server.core.errors import Conflict, Forbidden, Invalid, NotFound
from content_server.kiosk.models import OrderRow, ProviderRow, ServiceCategoryRow, ServiceRow, SlotRow
from content_server.kiosk.payment import PaymentProvider
from content_server.kiosk.schemas import ServiceBody
from content_server.kiosk.services import orders
from content_server.signage.models import Media
from schedules.protocol.kiosk import OrderState


class BookingAction(StrEnum):
    ACCEPT = "accept"
    DONE = "done"
    CANCEL = "cancel"


def upsert_profile(
    session: Session, user_id: str, name_zh: str, name_en: str, phone: str, now: dt.datetime
) -> ProviderRow:
    """Create or update the provider profile behind a ``provider`` account."""
    if not name_zh.strip() or not name_en.strip():
        raise Invalid("merchant name is needed in Chinese and English")
    row = session.scalar(select(ProviderRow).where(ProviderRow.user_id == user_id))
    if row is None:
        row = ProviderRow(user_id=user_id, name_zh="", name_en="", created_at=now)
        session.add(row)
    row.name_zh, row.name_en, row.phone = name_zh.strip(), name_en.strip(), phone.strip()
    session.flush()
    audit.record(
        session,
        actor=f"user:{user_id}",
        action="provider.profile",
        entity="provider",
        entity_id=row.id,
        at=now,
        after={"name_zh": row.name_zh, "name_en": row.name_en},
    )
    session.commit()
    return row


def profile_of(session: Session, user_id: str) -> ProviderRow:
    row = session.scalar(select(ProviderRow).where(ProviderRow.user_id == user_id))
    if row is None:
        raise Forbidden("create your merchant profile first")
    return row


def _check_fields(session: Session, provider: ProviderRow, f: ServiceBody) -> None:
    if session.get(ServiceCategoryRow, f.category_id) is None:
        raise Invalid(f"unknown category {f.category_id!r}")
    if not f.name_zh.strip() or not f.name_en.strip():
        raise Invalid("service name is needed in Chinese and English")
    if not 0 <= f.price_minor <= 10_000_000:
        raise Invalid("price_minor must be between 0 and 100000.00 yuan, in fen")
    if not 5 <= f.duration_minutes <= 24 * 60:
        raise Invalid("duration_minutes must be between 5 and 1440")
    if f.image_sha256 is not None:
        own_image = select(Media.id).where(
            Media.sha256 == f.image_sha256, Media.owner_id == provider.user_id, Media.kind == "image"
        )
        if session.scalar(own_image.limit(1)) is None:
            raise Invalid("image_sha256: upload the image first (it must be one of your own images)")


def save_service(
    session: Session,
    provider: ProviderRow,
    fields: ServiceBody,
    now: dt.datetime,
    service_id: str | None = None,
) -> ServiceRow:
    """Create a service, or update one of this provider's."""
    _check_fields(session, provider, fields)
    if service_id is None:
        row = ServiceRow(provider_id=provider.id, updated_at=now, **fields.model_dump())
        session.add(row)
        before = None
    else:
        row = own_service(session, provider, service_id)
        before = {"price_minor": row.price_minor, "active": row.active}
        for name, value in fields.model_dump().items():
            setattr(row, name, value)
        row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="service.saved",
        entity="service",
        entity_id=row.id,
        at=now,
        before=before,
        after={"price_minor": row.price_minor, "active": row.active},
    )
    session.commit()
    return row


def categories(session: Session) -> list[ServiceCategoryRow]:
    """The kiosk's service categories in display order."""
    return list(session.scalars(select(ServiceCategoryRow).order_by(ServiceCategoryRow.position)))


def services_with_slots(session: Session, provider: ProviderRow) -> list[tuple[ServiceRow, list[SlotRow]]]:
    """One provider's services, newest first, each with its slots in time order."""
    services = session.scalars(
        select(ServiceRow).where(ServiceRow.provider_id == provider.id).order_by(ServiceRow.updated_at.desc())
    )
    return [
        (s, list(session.scalars(select(SlotRow).where(SlotRow.service_id == s.id).order_by(SlotRow.start))))
        for s in services
    ]


def own_service(session: Session, provider: ProviderRow, service_id: str) -> ServiceRow:
    row = session.get(ServiceRow, service_id)
    if row is None or row.provider_id != provider.id:
        raise NotFound("no such service")
    return row


def add_slot(
    session: Session,
    provider: ProviderRow,
    service_id: str,
    start: dt.datetime,
    end: dt.datetime,
    capacity: int,
    now: dt.datetime,
) -> SlotRow:
    service = own_service(session, provider, service_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("slot times need a time zone")
    if not start < end or start <= now:
        raise Invalid("a slot must start in the future and end after it starts")
    if not 1 <= capacity <= 1000:
        raise Invalid("capacity must be between 1 and 1000")
    slot = SlotRow(service_id=service.id, start=start, end=end, capacity=capacity, booked=0)
    session.add(slot)
    session.flush()
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="slot.added",
        entity="slot",
        entity_id=slot.id,
        at=now,
        after={"start": start.isoformat(), "capacity": capacity},
    )
    session.commit()
    return slot


def update_slot(
    session: Session,
    provider: ProviderRow,
    slot_id: str,
    start: dt.datetime,
    end: dt.datetime,
    capacity: int,
    now: dt.datetime,
) -> SlotRow:
    """Change a slot's times or places; a booked slot keeps its times and at least its bookings."""
    slot = own_slot(session, provider, slot_id)
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("slot times need a time zone")
    if slot.booked and (start != slot.start or end != slot.end):
        raise Conflict(f"this slot has {slot.booked} booking(s): its time cannot move")
    if (start, end) != (slot.start, slot.end) and (not start < end or start <= now):
        raise Invalid("a slot must start in the future and end after it starts")
    if not max(1, slot.booked) <= capacity <= 1000:
        raise Invalid(f"capacity must be between {max(1, slot.booked)} and 1000")
    before = {"start": slot.start.isoformat(), "end": slot.end.isoformat(), "capacity": slot.capacity}
    slot.start, slot.end, slot.capacity = start, end, capacity
    session.flush()
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="slot.changed",
        entity="slot",
        entity_id=slot.id,
        at=now,
        before=before,
        after={"start": start.isoformat(), "end": end.isoformat(), "capacity": capacity},
    )
    session.commit()
    return slot


def delete_slot(session: Session, provider: ProviderRow, slot_id: str, now: dt.datetime) -> None:
    """Remove an unbooked slot (a booked one is kept until its bookings are cancelled)."""
    slot = own_slot(session, provider, slot_id)
    if slot.booked or session.scalar(select(OrderRow.id).where(OrderRow.slot_id == slot.id).limit(1)):
        raise Conflict(f"this slot has {slot.booked} booking(s): cancel them first")
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="slot.deleted",
        entity="slot",
        entity_id=slot.id,
        at=now,
        before={"start": slot.start.isoformat(), "capacity": slot.capacity},
    )
    session.delete(slot)
    session.commit()


def own_slot(session: Session, provider: ProviderRow, slot_id: str) -> SlotRow:
    slot = session.get(SlotRow, slot_id)
    if slot is None or session.get(ServiceRow, slot.service_id) is None:
        raise NotFound("no such slot")
    own_service(session, provider, slot.service_id)
    return slot


def add_recurring_slots(
    session: Session,
    provider: ProviderRow,
    service_id: str,
    plan: list[tuple[dt.datetime, dt.datetime]],
    capacity: int,
    now: dt.datetime,
) -> int:
    """Add every planned slot (``slot_plan.plan``) the service does not have yet; how many were added."""
    service = own_service(session, provider, service_id)
    if not plan:
        raise Invalid("no slot falls on the chosen weekdays and dates")
    if not 1 <= capacity <= 1000:
        raise Invalid("capacity must be between 1 and 1000")
    have = set(session.scalars(select(SlotRow.start).where(SlotRow.service_id == service.id)))
    added = 0
    for start, end in plan:
        if start <= now or start in have:
            continue
        session.add(SlotRow(service_id=service.id, start=start, end=end, capacity=capacity, booked=0))
        added += 1
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="slot.added_recurring",
        entity="service",
        entity_id=service.id,
        at=now,
        after={"slots": added, "first": plan[0][0].isoformat(), "last": plan[-1][0].isoformat()},
    )
    session.commit()
    return added


def delete_service(session: Session, provider: ProviderRow, service_id: str, now: dt.datetime) -> bool:
    """Take a service off the kiosks. Never booked: deleted with its slots (True); booked before:
    kept, inactive, for its orders' history (False). Refused while a paid booking is still to come."""
    service = own_service(session, provider, service_id)
    open_orders = list(
        session.scalars(
            select(OrderRow.reference).where(
                OrderRow.service_id == service.id,
                OrderRow.state.in_([OrderState.CREATED.value, OrderState.AWAITING_PAYMENT.value,
                                    OrderState.PAID.value]),
            )
        )
    )  # fmt: skip
    if open_orders:
        raise Conflict(f"finish or cancel these bookings first: {', '.join(sorted(open_orders))}")
    booked_before = session.scalar(select(OrderRow.id).where(OrderRow.service_id == service.id).limit(1))
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="service.deleted" if booked_before is None else "service.withdrawn",
        entity="service",
        entity_id=service.id,
        at=now,
        before={"active": service.active},
    )
    if booked_before is None:
        session.delete(service)
    else:
        service.active = False
        service.updated_at = now
    session.commit()
    return booked_before is None


def contact_details(session: Session, provider: ProviderRow, order_id: str, now: dt.datetime) -> OrderRow:
    """One of this provider's paid orders with its resident's phone and address, for carrying the
    service out; every opening is audited (the lists show them masked)."""
    order = session.get(OrderRow, order_id)
    if order is None or order.provider_id != provider.id:
        raise NotFound("no such booking")
    if order.state not in (OrderState.PAID.value, OrderState.FULFILLED.value):
        raise Conflict(f"the contact details of a {order.state} booking are not shown")
    audit.record(
        session,
        actor=f"user:{provider.user_id}",
        action="booking.contact_viewed",
        entity="order",
        entity_id=order.id,
        at=now,
    )
    session.commit()
    return order


def bookings(session: Session, provider: ProviderRow) -> list[OrderRow]:
    """This provider's orders that matter to it (paid or later), newest first."""
    return list(
        session.scalars(
            select(OrderRow)
            .where(
                OrderRow.provider_id == provider.id,
                OrderRow.state.in_(
                    [OrderState.PAID.value, OrderState.FULFILLED.value, OrderState.REFUNDED.value]
                ),
            )
            .order_by(OrderRow.created_at.desc())
        )
    )


def act_on_booking(
    session: Session,
    payments: PaymentProvider,
    provider: ProviderRow,
    order_id: str,
    action: BookingAction,
    reason: str,
    now: dt.datetime,
) -> OrderRow:
    """Accept, mark done (fulfilled), or cancel with a reason (refunding a paid order)."""
    order = session.get(OrderRow, order_id)
    if order is None or order.provider_id != provider.id:
        raise NotFound("no such booking")
    actor = f"user:{provider.user_id}"
    state = OrderState(order.state)
    if action is BookingAction.ACCEPT:
        if state is not OrderState.PAID or order.booking_state != "pending":
            raise Conflict(f"cannot accept a {state.value} booking that is {order.booking_state}")
        _set_booking(session, order, "accepted", actor, now)
    elif action is BookingAction.DONE:
        if order.booking_state != "accepted":  # a provider says it will come before it says it came
            raise Conflict("accept the booking before marking it done")
        orders.transition(
            session,
            order,
            OrderState.FULFILLED,
            actor=actor,
            now=now,
            action="order.fulfilled",
            booking_state="done",
        )
    else:
        if not reason.strip():
            raise Invalid("say why the booking is cancelled")
        if state in orders.order_states.UNPAID:
            orders.cancel_unpaid(session, payments, order, actor=actor, now=now, reason=reason.strip())
            return order
        orders.order_states.move(state, OrderState.REFUNDED)
        refund_id = f"cancel-{order.id}"
        if order.amount_minor > 0:  # a free booking has nothing to give back
            payments.refund(order.id, refund_id, order.amount_minor, reason.strip(), now)
        if orders.transition(
            session,
            order,
            OrderState.REFUNDED,
            actor=actor,
            now=now,
            action="order.refunded",
            booking_state="cancelled",
            cancel_reason=reason.strip(),
            refund_id=refund_id,
        ):
            orders.release_slot(session, order.slot_id)
    session.commit()
    return order


def _set_booking(session: Session, order: OrderRow, value: str, actor: str, now: dt.datetime) -> None:
    before = order.booking_state
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == order.id)
        .values(booking_state=value, updated_at=now)
        .execution_options(**audit.RECORDED_BY_CALLER)  # recorded below
    )
    session.refresh(order)
    audit.record(
        session,
        actor=actor,
        action=f"booking.{value}",
        entity="order",
        entity_id=order.id,
        at=now,
        before={"booking_state": before},
        after={"booking_state": value},
    )
