"""Kiosk back end: service catalogue, orders with QR payment, government-affairs cases.

Pure domain (no ORM, no web framework, time passed in): ``order_states``, ``case_states``,
``case_types``, ``payment`` (provider interface), ``settlement``, ``signing``, ``offline_token``,
``identity`` (GB 11643, masking), ``lockout``, ``reference``.
Services on a SQLAlchemy session: ``orders``, ``cases``, ``merchants``, ``catalogue``, ``seed``.
Adapters: ``models`` (ORM, Alembic branch ``kiosk``), ``community_pay`` (built-in provider),
``receipts`` (QR PNG), ``routes`` + ``runtime`` (FastAPI wiring). See docs/payments.md.
"""
