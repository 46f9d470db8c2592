"""The Prometheus exposition for /metrics, computed from the database at each scrape.

Why from the database and not ``prometheus_client``'s multiprocess mode: a district runs several
server processes, possibly on several hosts, behind one load balancer, and a scrape reaches any
one of them. Multiprocess mode shares numbers through files in one directory on one host, and
each process would otherwise report only itself. Here every number is the district's: states
and queue depths are counted at scrape time; request counters are kept in each process's memory
and added to ``metric_totals`` every few seconds (``core.metrics``), per-process gauges (long-polls
waiting) are summed over the processes that reported lately. A scrape costs a dozen small queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from content_server.core.audit.models import AuditHead
from content_server.core.delivery import services as deliveries
from content_server.core.metrics import services as shared
from content_server.core.settings import Settings
from content_server.fleet.models import AlertRule, AlertSubject, Incident
from content_server.kiosk.services import orders
from content_server.signage.models import Device

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GAUGE_FRESH = dt.timedelta(seconds=30)
COUNTERS = {
    "device_polls": "Manifest polls by devices (304s from the fast path included).",
    "asset_downloads": "Asset downloads by devices (and nginx's authorisation checks before sending one).",
    "heartbeats": "Device heartbeats received.",
    "play_batches": "Proof-of-play batches received.",
    "emergency_polls": "Emergency long-polls started.",
    "manifest_builds": "Manifests built (once for equivalent screens a change or a new day touches).",
    "manifest_entries": "Screens given a newly built manifest (a shared one with their own part).",
    "manifest_304_memory": "Unchanged manifest polls answered from memory (the fast path).",
    "catalogue_builds": "Kiosk service catalogues built (after a change to the catalogue or a slot's start).",
    "catalogue_count_updates": "Kiosk catalogues given new places left after bookings, without a build.",
    "catalogue_304_memory": "Unchanged kiosk catalogue polls answered from memory.",
    "device_writes_fast": "Heartbeats and proof-of-play batches answered before FastAPI's layers.",
    "device_lane_busy": "Screens' requests answered 503 with Retry-After (their queue was full).",
    "deliveries_sent": "Outbound messages delivered (alerts, webhooks, payment notifications).",
    "delivery_failures": "Failed attempts to deliver an outbound message.",
}


class _DatabaseCollector(Collector):
    def __init__(self, session: Session, now: dt.datetime, settings: Settings) -> None:
        self._session, self._now, self._settings = session, now, settings

    def collect(self) -> Iterator[Metric]:
        s, now = self._session, self._now
        online_since = now - dt.timedelta(seconds=self._settings.offline_after_s)
        state = case(
            (Device.last_seen_at.is_(None), "never_seen"),
            (Device.last_seen_at >= online_since, "online"),
            else_="offline",
        )
        devices = GaugeMetricFamily(
            "signage_devices", "Paired devices by kind and state.", labels=["kind", "state"]
        )
        found = dict.fromkeys(
            ((k, st) for k in ("player", "kiosk") for st in ("online", "offline", "never_seen")), 0
        )
        rows = s.execute(
            select(Device.kind, state, func.count())
            .where(Device.revoked_at.is_(None))
            .group_by(Device.kind, state)
        )
        for kind, st, n in rows:
            found[(kind, st)] = int(n)
        for (kind, st), n in sorted(found.items()):
            devices.add_metric([kind, st], n)
        yield devices

        alerting = GaugeMetricFamily(
            "signage_alert_subjects_firing",
            "Subjects past a rule's threshold, by rule kind.",
            labels=["rule"],
        )
        firing = s.execute(
            select(AlertRule.kind, func.count())
            .join(AlertSubject, AlertSubject.rule_id == AlertRule.id)
            .where(AlertSubject.firing.is_(True))
            .group_by(AlertRule.kind)
        )
        for kind, n in firing:
            alerting.add_metric([kind], int(n))
        yield alerting
        open_alerts = GaugeMetricFamily(
            "signage_alerts_open", "Open alert incidents.", labels=["acknowledged"]
        )
        for acked in (False, True):
            condition = Incident.acknowledged_at.is_not(None) if acked else Incident.acknowledged_at.is_(None)
            n = s.scalar(
                select(func.count()).select_from(Incident).where(Incident.resolved_at.is_(None), condition)
            )
            open_alerts.add_metric([str(acked).lower()], int(n or 0))
        yield open_alerts

        queue = GaugeMetricFamily(
            "signage_delivery_queue", "Outbound messages by state (dead = dead letters).", labels=["state"]
        )
        for st, n in deliveries.counts(s).items():
            queue.add_metric([st], n)
        yield queue

        totals = shared.totals(s)
        for name, doc in COUNTERS.items():
            counter = CounterMetricFamily(f"signage_{name}", doc)
            counter.add_metric([], totals.get(name, 0))
            yield counter
        gauges = shared.gauges(s, now=now, fresh=GAUGE_FRESH)
        waiting = GaugeMetricFamily(
            "signage_emergency_polls_waiting", "Emergency long-polls waiting now (all processes)."
        )
        waiting.add_metric([], gauges.get("emergency_polls_waiting", 0.0))
        yield waiting
        lane = GaugeMetricFamily(
            "signage_device_lane_waiting", "Screens' requests queued for their worker threads, all processes."
        )
        lane.add_metric([], gauges.get("device_lane_waiting", 0.0))
        yield lane

        by_state, notifications = orders.counts(s)
        order_gauge = GaugeMetricFamily("signage_kiosk_orders", "Kiosk orders by state.", labels=["state"])
        for st, n in sorted(by_state.items()):
            order_gauge.add_metric([st], n)
        yield order_gauge
        payments = CounterMetricFamily("signage_payment_notifications", "Payment notifications received.")
        payments.add_metric([], notifications)
        yield payments
        head = s.get(AuditHead, 1)
        audit = CounterMetricFamily("signage_audit_records", "Records appended to the audit trail.")
        audit.add_metric([], head.seq if head else 0)
        yield audit


def exposition(session: Session, *, now: dt.datetime, settings: Settings) -> bytes:
    """The text a Prometheus scrape gets."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_DatabaseCollector(session, now, settings))
    return generate_latest(registry)
