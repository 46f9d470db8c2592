"""ORM models on one shared ``Base``; other packages (kiosk) add their own models to it."""

from content_server.core.changes import ManifestState
from content_server.core.models import AuthToken, Base, User, UTCDateTime, new_id
from content_server.models.content import AlertFeed, AnnouncementRow, CampaignRow, CapAlert, Media, PlayRow
from content_server.models.screens import Device, Pairing

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
]
