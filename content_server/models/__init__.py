"""ORM models on one shared ``Base``; other packages (kiosk) add their own models to it."""

from content_server.models.accounts import AuthToken, User
from content_server.models.base import Base, UTCDateTime, new_id, utcnow
from content_server.models.content import AlertFeed, AnnouncementRow, CampaignRow, CapAlert, Media, PlayRow
from content_server.models.screens import Device, ManifestState, Pairing

__all__ = [
    "AlertFeed",
    "AnnouncementRow",
    "AuthToken",
    "Base",
    "CampaignRow",
    "CapAlert",
    "Device",
    "ManifestState",
    "Media",
    "Pairing",
    "PlayRow",
    "UTCDateTime",
    "User",
    "new_id",
    "utcnow",
]
