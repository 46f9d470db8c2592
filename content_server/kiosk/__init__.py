"""Kiosk back end: service catalogue, orders with QR payment, government-affairs cases.

Pure domain modules (no ORM, no web framework, time passed in): ``order_states``,
``payment``, ``signing``, ``offline_token``, ``case_states``, ``identity``, ``lockout``,
``reference``. Adapters: ``models`` (ORM), ``community_pay``, ``services``, ``routes``.
"""
