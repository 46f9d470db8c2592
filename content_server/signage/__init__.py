"""Signage: screens and pairing, the media library, announcements, campaigns and approvals,
manifests (with the poll fast path), proof of play and reports, CAP alerts, offline bundles and
emergencies. Alembic branch ``signage``.

The same layers as every feature (docs/architecture.md):

- pure domain, no ORM or web framework, time passed in: ``health`` (screen health),
  ``cap`` (CAP 1.2 parsing and signatures), ``media_check`` (what an upload is), ``forms``,
  ``screen_view``, and ``scheduling`` (the one door to the ``schedules`` engine);
- ``models.py`` (ORM tables); ``services/`` (screens, devices (key authorisation), library,
  bookings, catalogue, manifest, plays, alerts, bundles, emergency, insight);
- ``routes/`` (JSON API: devices, screens, media, bookings, reports, bundles, alerts),
  ``pages/`` + ``templates/`` (portal pages), ``deps.py`` (the device dependency);
- wiring: ``runtime.py`` (caches, change watching, jobs) and ``fastpath.py`` (unchanged polls
  and asset downloads answered before FastAPI's layers).
"""
