"""Signage: screens and pairing, the media library, announcements, campaigns and approvals,
manifests (with the poll fast path), proof of play and reports, CAP alerts, offline bundles and
emergencies. Alembic branch ``signage``.

The same layers as every feature (docs/architecture.md):

- pure domain, no ORM or web framework, time passed in: ``health`` (screen health),
  ``cap`` (CAP 1.2 parsing and signatures), ``cap_policy`` (where, when, how loud an alert
  shows), ``media_check`` (what an upload is), ``media_intake`` with ``media_rebuild`` and
  ``media_video`` (uploads rebuilt, checked, transcoded), ``asset_access`` (what a screen may
  download), ``forms``, ``screen_view``, and ``scheduling`` (the one door to the ``schedules`` engine);
- ``models.py`` (ORM tables); ``services/`` (screens, devices (key authorisation), library,
  transcoding (background jobs), bookings, catalogue, manifest, plays, alerts, house_rules,
  bundles, emergency, insight);
- ``routes/`` (JSON API: devices, screens, media, bookings, reports, bundles, alerts, house_rules),
  ``pages/`` + ``templates/`` (portal pages), ``deps.py`` (the device dependency);
- wiring: ``runtime.py`` (caches, change watching, jobs) and ``fastpath.py`` (unchanged polls
  and asset downloads answered before FastAPI's layers).
"""
