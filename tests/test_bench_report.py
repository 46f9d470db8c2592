"""bench/report.py: runs every benchmark, reads each one's JSON line, reports failures as such."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_is_in_the_report() -> None:
    report = _report()
    scripts = {p.stem for p in BENCH.glob("*.py")} - {"report"}
    assert scripts == {r.name for r in report.RUNS}


def test_the_last_json_object_line_is_the_result() -> None:
    report = _report()
    out = 'starting\n{"bench": "x", "a": 1}\nnot json {\n{"bench": "x", "a": 2}\ntrailing words\n'
    assert report.last_json_line(out) == {"bench": "x", "a": 2}
    assert report.last_json_line("no result at all\n[1, 2]\n") is None


def test_a_failing_benchmark_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    report = _report()
    result = report.run_one(report.Run("does_not_exist", (), 30))
    assert result["bench"] == "does_not_exist" and "no JSON line" in result["error"]
    listed = subprocess.run([sys.executable, str(BENCH / "report.py"), "--list", "--only", "kiosk_ui"],
                            capture_output=True, text=True, check=True)
    assert [json.loads(line)["bench"] for line in listed.stdout.splitlines()] == ["kiosk_ui"]
    bad = subprocess.run([sys.executable, str(BENCH / "report.py"), "--only", "nope"], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "unknown benchmark" in bad.stderr
