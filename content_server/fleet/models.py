"""Fleet tables (Alembic branch ``fleet``): alert rules, channels, each subject's alert state, incidents."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from content_server.core.audit.services import AuditLog
from content_server.core.models import Base, UTCDateTime, new_id
from content_server.fleet import channel_config


class AlertRule(Base):
    """A condition over a selection of screens (or feeds, or payments), its timing and its channels."""

    __tablename__ = "fleet_rules"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # fleet.rules.RuleKind
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    selector: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)  # groups, tags, classes, kinds
    params: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # the kind's thresholds
    hold_for_s: Mapped[int] = mapped_column(Integer, default=0)
    clear_for_s: Mapped[int] = mapped_column(Integer, default=120)
    group_wait_s: Mapped[int] = mapped_column(Integer, default=10)
    group_by: Mapped[str] = mapped_column(String(16), default="building")  # building | group | none
    escalate_after_s: Mapped[int] = mapped_column(Integer, default=0)  # 0: never
    channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every duty channel
    escalate_channel_ids: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every escalation one
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Channel(Base):
    """Where alerts go: e-mail, a group robot or a webhook; its secrets never leave the server."""

    __tablename__ = "fleet_channels"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | wecom | dingtalk | feishu | webhook
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="both")  # zh | en | both
    quiet_start: Mapped[str] = mapped_column(String(5), default="")  # "22:00", "" for none
    quiet_end: Mapped[str] = mapped_column(String(5), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    escalation: Mapped[bool] = mapped_column(Boolean, default=False)  # for escalations only
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class AlertSubject(Base):
    """One subject's alert state under one rule, between evaluation passes (evaluation.SubjectState)."""

    __tablename__ = "fleet_alert_subjects"

    rule_id: Mapped[str] = mapped_column(ForeignKey("fleet_rules.id", ondelete="CASCADE"), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    group: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # zh, en
    pending_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    fired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    clear_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    fires: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO times within the flap window
    incident_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    late: Mapped[bool] = mapped_column(Boolean, default=False)


class Incident(Base):
    """Subjects of one rule and group failing together: what was sent, who acknowledged it."""

    __tablename__ = "fleet_incidents"
    __table_args__ = (Index("ix_fleet_incidents_open", "resolved_at", "opened_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str | None] = mapped_column(
        ForeignKey("fleet_rules.id", ondelete="SET NULL"), nullable=True, index=True
    )
    rule_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    group: Mapped[str] = mapped_column(String(100), default="")
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    members: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # subject, name, detail, late
    named: Mapped[list[str]] = mapped_column(JSON, default=list)
    # members back while it stayed open, so its recovery names the whole building (f0004)
    left_members: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_notice_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updates: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # username
    ack_note: Mapped[str] = mapped_column(Text, default="")
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    max_members: Mapped[int] = mapped_column(Integer, default=0)


def audit_inputs(audit: AuditLog) -> None:
    """Rules and channels are audited (channel secrets hidden); acknowledgements are recorded by
    their service. Subject states and incidents change every few seconds by the evaluator."""
    audit.watch(AlertRule, entity="alert_rule", ignore=("updated_at",))
    audit.watch(Channel, entity="channel", ignore=("updated_at",), mask={"config": channel_config.public})
