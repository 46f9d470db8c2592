"""The one audit trail: every change made by a person or a device, in every feature.

Who (person or device, its role, the address it came from), when, what, and the values before
and after an edit. Changes are caught where no path can skip them: features declare which tables
they own (``AuditLog.watch``) and the log, installed on the app's sessionmaker, records every
flushed insert, update and delete of those rows, and every bulk statement on them, in the same
transaction; a service that knows better says so with an explicit :func:`services.record` for the
same row (a state machine's "order.paid" instead of a column diff).

The trail is append-only (database triggers refuse updates, and deletes other than retention's)
and tamper-evident: each record carries the SHA-256 of the one before it (``chain``, pure), taken
under a lock on the one ``audit_head`` row, so processes on PostgreSQL append one at a time and
the chain never forks. ``signage-server audit verify`` walks it and names the first broken record.

- ``models``: ``audit_records``, ``audit_head``, ``audit_prune_permits``;
- ``chain``: canonical form, hashing and verification (pure);
- ``services``: actors, the log and its hooks, explicit records, queries, CSV, verify, retention.
"""
