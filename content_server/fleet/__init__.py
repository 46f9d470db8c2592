"""Fleet operations: alerts that reach the duty staff, the channels they go through, the wall page.

Rules an operator sets per group of screens (offline, frozen, sync, storage, kiosk peripherals,
payment notifications, silent CAP feeds, emergencies not shown everywhere) are evaluated every few
seconds by one server process (a database lease); the pure evaluator (``evaluation``) turns what
the fleet reports into incidents, holding a condition before it fires, damping flapping, grouping
a building's screens into one incident, and notices (firing, update, recovery, escalation). Each
notice goes to the rule's channels through the durable delivery queue (``core.delivery``): e-mail
over SMTP, WeCom / DingTalk / Feishu group robots through Apprise, signed Standard Webhooks;
quiet hours per channel hold all but emergencies. Operators acknowledge incidents (with a note)
in the portal, which stops escalation. Also here: the Prometheus ``/metrics`` endpoint and the
portal's fleet wall, deliveries and audit pages.

- pure: ``evaluation`` (rules over observations), ``quiet`` (quiet hours), ``messages`` (texts);
- ``models``: rules, channels, subjects' alert state, incidents;
- ``services/``: ``rules``, ``channels`` (and their senders), ``observe`` (facts from the other
  features), ``evaluator`` (one pass, persisted, notices queued), ``incidents``, ``metrics``;
- ``routes.py`` (JSON API and /metrics), ``pages/`` and ``templates/`` (portal), ``runtime.py``.
"""
