"""Runs every benchmark and suite that fits in about ten minutes; prints one JSON object per line.

Each benchmark runs in its own process (a clean interpreter, so no run warms the next) with
its own time limit; its last stdout line is its JSON result, echoed here unchanged so one run
can be compared with the next (``bench/report.py > figures-$(date +%F).jsonl``). A benchmark
that fails or runs out of time is reported as ``{"bench": name, "error": ...}`` and the others
still run; the exit code is non-zero when any failed.

    .venv/bin/python bench/report.py [--only schedule_scale,server_poll] [--list]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Run:
    """One benchmark invocation: script, arguments, and the most it may take."""

    name: str
    args: tuple[str, ...] = ()
    timeout_s: float = 180.0


# Sized so the whole report stays within about ten minutes on a 2-core machine; each script's
# defaults are the full sizes (run them directly for those).
RUNS: tuple[Run, ...] = (
    Run("schedule_scale", ("--repeat", "2"), 150),
    Run("server_poll", (), 300),  # with the deployment rounds (nginx in front, X-Accel-Redirect)
    Run("player_loop", ("--switches", "3000"), 300),  # 10,000 (the size) take about 7 min
    Run("kiosk_ui", (), 90),
    Run("kiosk_orders", (), 120),
    Run("load_fleet", ("--seconds", "45"), 240),
    Run("soak", ("--switches", "10000", "--sessions", "1000"), 300),
    Run("content_render", ("--repeat", "20"), 180),
    Run("update_rollout", (), 900),  # a real player and kiosk and 200 simulated devices, three builds
    Run("fleet_ops", (), 420),
    Run("change_storm", ("--seconds", "60"), 900),  # the 5 minutes: --seconds 300
)


def last_json_line(text: str) -> dict[str, object] | None:
    """The benchmark's result: the last stdout line that parses as a JSON object."""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


def run_one(run: Run) -> dict[str, object]:
    cmd = [sys.executable, str(BENCH / f"{run.name}.py"), *run.args]
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    t0 = time.monotonic()
    # its own process group: a benchmark out of time is stopped with the servers it started
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    ) as running:
        try:
            stdout, stderr = running.communicate(timeout=run.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(running.pid, signal.SIGKILL)
            running.communicate()
            return {"bench": run.name, "error": f"timed out after {run.timeout_s:.0f} s"}
    proc = subprocess.CompletedProcess(cmd, running.returncode, stdout, stderr)
    result = last_json_line(proc.stdout)
    if result is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"bench": run.name, "error": f"exit {proc.returncode}, no JSON line", "tail": tail}
    result.setdefault("bench", run.name)
    result["wall_s"] = round(time.monotonic() - t0, 1)
    if proc.returncode != 0:
        result["error"] = f"exit {proc.returncode}"
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--list", action="store_true", help="print the runs and exit")
    args = ap.parse_args(argv)
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {r.name for r in RUNS}
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    runs = [r for r in RUNS if not wanted or r.name in wanted]
    if args.list:
        for r in runs:
            print(json.dumps({"bench": r.name, "args": list(r.args), "timeout_s": r.timeout_s}))
        return 0
    failed = 0
    for r in runs:
        result = run_one(r)
        failed += "error" in result
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
