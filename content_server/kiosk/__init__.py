"""Kiosk back end (resident services): service catalogue, orders with QR payment, government-affairs cases.

The same layers as every feature (docs/architecture.md):

- pure domain, no ORM, no web framework, time passed in: ``order_states``, ``case_states``,
  ``case_types``, ``payment`` (the provider interface), ``settlement``, ``signing``,
  ``offline_token``, ``identity`` (GB 11643, masking), ``lookup_guard``, ``reference``, ``receipts``;
- ``models`` (ORM tables, Alembic branch ``kiosk``), ``schemas`` (staff API bodies), ``errors``;
- ``services/``: ``orders``, ``cases``, ``merchants``, ``catalogue``, ``audit`` on a SQLAlchemy
  session, and ``community_pay`` (the built-in payment provider, with its own ledger);
- ``routes/`` (JSON API and the phone's pay pages), ``pages.py`` + ``templates/`` (portal pages
  for clerks and providers), ``deps.py`` and ``runtime.py`` (wiring into the app).

See docs/payments.md.
"""
