"""The kiosk finds a server started with its defaults: same port (the outside check found 8000 vs 8080)."""

from __future__ import annotations

from urllib.parse import urlparse

from content_server.core.settings import Settings
from kiosk_app.settings import KioskSettings


def test_the_kiosks_default_server_is_where_the_server_listens_by_default() -> None:
    kiosk = urlparse(KioskSettings.model_fields["server_url"].default)
    server_port = Settings.model_fields["port"].default
    public = urlparse(Settings.model_fields["public_url"].default)
    assert (kiosk.hostname, kiosk.port) == (public.hostname, server_port) == ("127.0.0.1", 8080)
