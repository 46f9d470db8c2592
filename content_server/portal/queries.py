"""Read-only look-ups the portal needs that the server's services do not offer (yet).

Kept here, small and separate, so the server's owner can move them into
``content_server/services`` later without touching the pages.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from content_server.kiosk.models import ServiceCategoryRow, ServiceRow, SlotRow
from content_server.models import AnnouncementRow, Device, Media, User
from content_server.services.catalogue import media_item_id, text_item_id


def pending_accounts(session: Session) -> list[User]:
    """Self-signed-up accounts (advertisers, providers) waiting for an operator."""
    q = select(User).where(User.approved.is_(False), User.role.in_(("advertiser", "provider")))
    return list(session.scalars(q.order_by(User.created_at)))


def all_screens(session: Session) -> list[Device]:
    """Every paired device, newest first among equal names."""
    return list(session.scalars(select(Device).order_by(Device.name, Device.id)))


def screen_groups(session: Session) -> list[str]:
    """Group names in use on live screens."""
    return sorted({g for d in all_screens(session) if d.revoked_at is None for g in d.groups or ()})


def building_tags(session: Session) -> list[str]:
    """Building numbers (``building:<n>`` tags) in use on live screens."""
    return sorted(
        {
            t.split(":", 1)[1]
            for d in all_screens(session)
            if d.revoked_at is None
            for t in d.tags or ()
            if t.startswith("building:")
        }
    )


def account_name(session: Session, user_id: str) -> str:
    """The name an operator knows an account by."""
    user = session.get(User, user_id)
    return (user.display_name or user.username) if user else user_id


def announcements(session: Session) -> list[AnnouncementRow]:
    """All announcements, newest first."""
    q = select(AnnouncementRow).order_by(AnnouncementRow.created_at.desc(), AnnouncementRow.id)
    return list(session.scalars(q))


def service_categories(session: Session) -> list[ServiceCategoryRow]:
    """The kiosk's service categories in display order."""
    return list(session.scalars(select(ServiceCategoryRow).order_by(ServiceCategoryRow.position)))


def provider_services(session: Session, provider_id: str) -> list[tuple[ServiceRow, list[SlotRow]]]:
    """One provider's services, each with its slots in time order."""
    services = session.scalars(
        select(ServiceRow).where(ServiceRow.provider_id == provider_id).order_by(ServiceRow.updated_at.desc())
    )
    return [
        (s, list(session.scalars(select(SlotRow).where(SlotRow.service_id == s.id).order_by(SlotRow.start))))
        for s in services
    ]


def item_title(session: Session, item_id: str | None) -> str | None:
    """A readable name for a catalogue item id (a heartbeat's current item), else the id itself."""
    if not item_id:
        return None
    media_prefix, text_prefix = media_item_id(""), text_item_id("")
    if item_id.startswith(media_prefix):
        media = session.get(Media, item_id.removeprefix(media_prefix))
        if media is not None:
            return media.title or media.filename or item_id
    if item_id.startswith(text_prefix):
        announcement = session.get(AnnouncementRow, item_id.removeprefix(text_prefix))
        if announcement is not None:
            return announcement.title or item_id
    return item_id
