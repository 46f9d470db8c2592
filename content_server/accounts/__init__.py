"""Accounts: sign-up, operators' approval, log-in and log-out (JSON API and portal pages).

The users and tokens themselves are core's (``content_server.core.models``, ``core.auth``):
every feature needs to know who is asking. Layers as in every feature (docs/architecture.md):
``services.py``, ``routes.py`` (JSON API), ``pages.py`` + ``templates/`` (portal pages).
"""
