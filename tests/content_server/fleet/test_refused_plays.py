"""The ``refused_plays`` alert rule (issue 21): its default rule reaches servers older than the kind
(migration f0003), and its detail names the reasons in both languages. The alert end to end, over
real HTTP with the duty team's receivers, is in ``tests/content_server/test_attacks_more.py``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import func, select

from content_server.core.db import make_engine
from content_server.core.migrate import alembic_config, upgrade
from content_server.fleet.models import AlertRule
from content_server.fleet.rule_kinds import DEFAULT_RULES
from content_server.fleet.services.observe import refusal_detail


def test_servers_made_before_the_refused_plays_rule_get_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    engine = make_engine(url)
    upgrade(engine)

    def rules() -> list[tuple[str, bool, dict[str, float]]]:
        with engine.connect() as conn:
            q = select(AlertRule.name, AlertRule.builtin, AlertRule.params)
            q = q.where(AlertRule.kind == "refused_plays")
            return [tuple(r) for r in conn.execute(q)]  # type: ignore[misc]

    seeded = [("播放记录被拒 · Proof of play refused", True, {"refused": 20.0, "window_minutes": 60.0})]
    assert rules() == seeded
    command.downgrade(alembic_config(url), "f0002")  # as a server was before this kind
    assert rules() == []
    command.upgrade(alembic_config(url), "heads")
    assert rules() == seeded
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AlertRule)) == len(DEFAULT_RULES)
    engine.dispose()


def test_the_detail_names_the_reasons_most_first_in_both_languages() -> None:
    detail = refusal_detail({"future": 2, "unknown_item": 50, "new_reason": 1}, 60)
    assert detail.zh == "60 分钟内 53 条播放记录被拒：未下发的内容 50，时间在未来 2，new_reason 1"
    assert detail.en == (
        "53 proof-of-play record(s) refused in 60 min: "
        "content never sent to it 50, in the future 2, new_reason 1"
    )
