"""The one durable delivery queue for outbound messages (alerts, robot messages, webhooks, payment
notifications to merchants).

A feature enqueues a message in the same transaction as the change that causes it, under an
idempotency key, and registers a sender for its kind at start-up; every server process runs a
worker that claims due messages with a lease (so two processes never send the same message at
once), sends them with no database session open, and records each attempt. Failures are retried
with exponential backoff (``policy``, pure) up to a limit, then kept as dead letters an operator
can send again. A restart loses nothing: what was due is still due, and what a dead process had
claimed is taken again when its lease runs out, under the same key (webhook id, notification id,
Message-ID), so the receiver can tell a repeat from a new message.

- ``models``: the ``deliveries`` and ``delivery_attempts`` tables;
- ``policy``: when to retry and when to give up (pure, time passed in);
- ``services``: enqueue, claim, finish, send again, cancel, listings (each commits what it changed);
- ``worker``: the sender protocol and the per-process worker thread.
"""
