"""CPU time of processes from ``/proc``: what the load benchmarks charge each request.

The machine is shared (other work runs beside a benchmark), so wall time says little about
what a request costs; the CPU seconds a process was scheduled for do not depend on who else
runs. Linux only (``/proc/<pid>/stat``); resolution one clock tick (10 ms), so a measurement
should span thousands of requests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": fields from 3 (state) on


def cpu_s(pid: int) -> float:
    """User + system seconds of ``pid`` (all its threads) so far; 0.0 once it is gone."""
    f = _stat(pid)
    return (int(f[11]) + int(f[12])) * TICK_S if f else 0.0


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            f = _stat(int(entry.name))
            if f is not None and int(f[1]) == pid:
                out.append(int(entry.name))
    return out


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid``, its reaped children (PostgreSQL's finished backends) and its live
    children: for a server that forks a process per connection or per worker."""
    f = _stat(pid)
    if f is None:
        return 0.0
    own = (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) * TICK_S
    return own + sum(cpu_s(child) for child in _children(pid))


def total_cpu_s(pids: Iterable[int], tree: bool = False) -> float:
    return sum((tree_cpu_s if tree else cpu_s)(pid) for pid in pids)


def self_cpu_s() -> float:
    """This process (every thread): the load generator's own cost."""
    t = os.times()
    return t.user + t.system
