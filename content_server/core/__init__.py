"""What every feature of the server stands on, and that imports no feature.

Settings, the database (engine, sessions, migrations, the shared ORM ``Base`` and the identity
tables), authentication (passwords, tokens, CSRF, the current-user dependencies), errors, the
content-addressed store, HTTP helpers (conditional answers, per-route body limits) and change
tracking. The clock is ``schedules.clock``'s. See docs/architecture.md.
"""
