"""Outbox: durable, idempotent, oldest first, survives a killed writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from signage_player.outbox import Outbox


def test_put_is_idempotent_and_pending_is_oldest_first(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        assert box.put("plays", "a", b"1")
        assert box.put("plays", "b", b"2")
        assert not box.put("plays", "a", b"other")
        assert box.put("orders", "a", b"x")  # keys are per topic
        assert [e.key for e in box.pending("plays")] == ["a", "b"]
        assert box.pending("plays")[0].payload == b"1"
        assert box.count() == 3 and box.count("plays") == 2


def test_ack_and_attempts(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as box:
        for k in "abc":
            box.put("plays", k, k.encode())
        box.record_attempt("plays", ["a", "b"])
        box.record_attempt("plays", ["a"])
        assert {e.key: e.attempts for e in box.pending("plays")} == {"a": 2, "b": 1, "c": 0}
        box.ack("plays", ["a", "c", "missing"])
        assert [e.key for e in box.pending("plays")] == ["b"]
        assert len(box.pending("plays", limit=0)) == 0


def test_entries_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    code = (
        "import os, sys\n"
        "from signage_player.outbox import Outbox\n"
        f"b = Outbox({str(db)!r})\n"
        "for i in range(200):\n"
        "    b.put('plays', str(i), b'x' * 100)\n"
        "print('written', flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9 and "written" in out.stdout
    with Outbox(db) as box:
        assert box.count("plays") == 200
        assert box.pending("plays", 1)[0].key == "0"
