"""Benchmark: manifest polls (304) and asset downloads, content server vs nginx on the same bytes.

Starts ``signage-server serve`` (uvicorn, production settings, SQLite) with 10,000 registered
screens and realistic content, and nginx (Debian's, one worker, on loopback) serving the same
manifest bytes and the same asset file; drives both with wrk (same threads, connections and
duration). Then the deployment: a server process with ``SIGNAGE_ACCEL_REDIRECT_PREFIX`` (as
``deploy/env/server.env`` ships it) behind nginx running the shipped site
(``deploy/nginx/signage.conf``, one worker): every download goes devices → nginx → the app
authorises → nginx sends the file, measured in rounds against nginx alone serving the same
file (each round measures both back to back, in turns first; the median of the rounds' ratios
is ``asset_ratio_behind_nginx``, each round's is listed), with the CPU each side spends per
download. The last line printed is one JSON object::

    {"bench": "server_poll", "manifest_304_rps": R1, "nginx_304_rps": N1, "manifest_ratio": R1/N1,
     "manifest_p99_ms": P, "asset_mb_s": R2, "nginx_asset_mb_s": N2, "asset_ratio": R2/N2,
     "asset_behind_nginx_mb_s": R3, "asset_ratio_behind_nginx": median(R3/N3),
     "nginx_cpu_ms_per_download": C1, "behind_nginx_cpu_ms_per_download": C2, ...}

Usage: ``.venv/bin/python bench/server_poll.py [--screens 10000] [--seconds 5] [--connections 32]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from content_server.core.db import make_engine, make_sessionmaker  # noqa: E402
from content_server.core.migrate import upgrade  # noqa: E402
from content_server.core.store import MediaStore  # noqa: E402
from tests.fixtures.seeding import Picture, add_devices, add_signage  # noqa: E402
from tests.fixtures.server import free_port  # noqa: E402
from tests.reliability.stack import ACCEL, Nginx, shipped_setting  # noqa: E402

SECRET = "bench-secret-" + "x" * 20
POLLED_SCREENS = 1000  # distinct device keys rotated by the load generator
DEPLOYMENT_ROUNDS = 5  # nginx alone vs the deployment, back to back
GROUPS = ("north", "south", "east", "west")


def make_asset(size_mb: float) -> bytes:
    """A real JPEG, padded by drawing noise until it is about ``size_mb`` big."""
    img = Image.new("RGB", (3840, 2160), (30, 60, 90))
    d = ImageDraw.Draw(img)
    for i in range(0, 3840, 16):
        d.line([(i, 0), (3840 - i, 2160)], fill=(i % 255, (i * 3) % 255, (i * 7) % 255), width=3)
    noise = Image.effect_noise((3840, 2160), 80).convert("RGB")
    img = Image.blend(img, noise, 0.5)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    data = out.getvalue()
    return data if len(data) <= size_mb * 2 * 1024 * 1024 else data[: int(size_mb * 1024 * 1024)]


def seed(data_dir: Path, screens: int) -> tuple[list[str], str, bytes]:
    """10k screens, filler + ads + announcements; returns polled device keys, asset sha, asset bytes."""
    now = dt.datetime.now(dt.UTC)
    engine = make_engine(f"sqlite:///{data_dir / 'signage.db'}")
    upgrade(engine)
    store = MediaStore(data_dir / "media")
    asset = make_asset(4)
    picture = Picture(asset, "image/jpeg", 3840, 2160, "default.jpg")
    with make_sessionmaker(engine)() as s:
        add_signage(
            s,
            store,
            prefix="",
            filler=picture,
            ad=picture,
            groups=GROUPS,
            campaign_groups=GROUPS[:2],
            now=now,
        )
        keys, _ = add_devices(s, prefix="screen", count=screens, kind="player", groups=GROUPS, now=now)
        s.commit()
    engine.dispose()
    return list(keys[:POLLED_SCREENS]), hashlib.sha256(asset).hexdigest(), asset


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def parse_wrk(out: str) -> dict[str, float]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    tr = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    unit = {"B": 1 / 1024 / 1024, "KB": 1 / 1024, "MB": 1, "GB": 1024}
    mb_s = float(tr.group(1)) * unit[tr.group(2)] if tr else 0.0
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    p99_ms = float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    done = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "mb_s": mb_s,
        "p99_ms": p99_ms,
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "requests": float(done.group(1)) if done else 0.0,
    }


def run_wrk(
    url: str, seconds: int, connections: int, script: Path | None = None, headers: Sequence[str] = ()
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", str(script)]
    res = subprocess.run([*cmd, url], capture_output=True, text=True, check=True)
    return parse_wrk(res.stdout)


def lua_rotating(keys: list[str], etags: list[str], path: str) -> str:
    pairs = ",\n".join(f'{{"{k}", {json.dumps(e)}}}' for k, e in zip(keys, etags, strict=True))
    return f"""
local devices = {{
{pairs}
}}
local i = 0
request = function()
  i = (i % #devices) + 1
  local d = devices[i]
  return wrk.format("GET", "{path}", {{["Authorization"] = "Bearer " .. d[1], ["If-None-Match"] = d[2]}})
end
"""


def nginx_conf(root: Path, port: int) -> str:
    return f"""
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;
  uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;
  types {{ application/json json; image/jpeg jpg; }}
  server {{
    listen 127.0.0.1:{port};
    root {root}/www;
    etag on;
  }}
}}
"""


def start_server(data_dir: Path, port: int, **extra: str) -> subprocess.Popen[bytes]:
    """``signage-server serve`` with production settings on the seeded data."""
    env = {
        **os.environ,
        "SIGNAGE_DATA_DIR": str(data_dir),
        "SIGNAGE_SECRET_KEY": SECRET,
        "SIGNAGE_PORT": str(port),
        "SIGNAGE_LOG_LEVEL": "WARNING",
        "SIGNAGE_SCHEDULER_ENABLED": "1",
        **extra,
    }
    return subprocess.Popen([sys.executable, "-m", "content_server.main", "serve"], env=env, cwd=ROOT)


def stop(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def behind_nginx(
    tmp: Path, data_dir: Path, key: str, sha: str, asset: bytes, procs: list[subprocess.Popen[bytes]]
) -> Nginx:
    """The deployment (a server with the shipped accel setting, the shipped nginx site in front, one
    worker like the direct nginx), once a download through it is the asset's bytes and the app's
    own answer is the redirect (so nginx, not the app, sends them). The caller stops it."""
    port = free_port()
    procs.append(start_server(data_dir, port, **{ACCEL: shipped_setting(ACCEL)}))
    wait_http(f"http://127.0.0.1:{port}/api/v1/health")
    front = Nginx(tmp / "deployment", [port], data_dir / "media", workers=1)
    front.start()
    try:
        check_deployment(front, port, key, sha, asset)
    except BaseException:
        front.stop()
        raise
    print(f"deployment up: nginx :{front.port} -> app :{port}", file=sys.stderr)
    return front


def check_deployment(front: Nginx, port: int, key: str, sha: str, asset: bytes) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    httpx.get(front.url + "/api/v1/device/manifest", headers=auth).raise_for_status()  # as devices do
    own = httpx.get(f"http://127.0.0.1:{port}/api/v1/assets/{sha}", headers=auth)
    through = httpx.get(front.url + f"/api/v1/assets/{sha}", headers=auth, timeout=30)
    if own.content or "x-accel-redirect" not in own.headers or through.content != asset:
        sys.exit("the deployment does not send the asset through nginx")


def cpu_s(pid: int) -> float:
    """CPU seconds a process has used (user + system, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_cpu_s(master: int) -> float:
    """CPU seconds of an nginx master's workers (where the requests are served)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return sum(cpu_s(int(pid)) for pid in children)


def deployment_rounds(
    alone_url: str, alone_master: int, behind_url: str, front: Nginx, app: int, key: str, secs: int
) -> dict[str, object]:
    """nginx alone vs the deployment, in rounds back to back, in turns first (a drift in the
    machine's load favours neither); a ratio per round and the median kept, as other tenants of
    the machine come and go within a run. Also the CPU each side spends per download (nginx's
    workers; the deployment's workers plus the app, net of what the app spends idle), which
    other tenants disturb far less than throughput."""
    assert front.proc is not None
    before, t0 = cpu_s(app), time.monotonic()
    time.sleep(secs)
    app_idle_per_s = (cpu_s(app) - before) / (time.monotonic() - t0)
    ratios, mb_s, cpu_alone, cpu_behind, cpu_app = [], [], [], [], []
    for i in range(DEPLOYMENT_ROUNDS):
        for side in ("alone", "behind") if i % 2 == 0 else ("behind", "alone"):
            if side == "alone":
                c0 = workers_cpu_s(alone_master)
                alone = run_wrk(alone_url, secs, 8)
                cpu_alone.append((workers_cpu_s(alone_master) - c0) * 1000 / max(alone["requests"], 1))
                continue
            n0, a0, t0 = workers_cpu_s(front.proc.pid), cpu_s(app), time.monotonic()
            behind = run_wrk(behind_url, secs, 8, headers=[f"Authorization: Bearer {key}"])
            app_s = cpu_s(app) - a0 - app_idle_per_s * (time.monotonic() - t0)
            nginx_s = workers_cpu_s(front.proc.pid) - n0
            if behind["errors"]:
                sys.exit(f"the deployment answered {behind['errors']:.0f} downloads with an error")
            cpu_app.append(app_s * 1000 / max(behind["requests"], 1))
            cpu_behind.append((nginx_s + app_s) * 1000 / max(behind["requests"], 1))
        ratios.append(behind["mb_s"] / alone["mb_s"])
        mb_s.append(behind["mb_s"])
    median = statistics.median
    return {
        "asset_behind_nginx_mb_s": round(median(mb_s), 1),
        "asset_ratio_behind_nginx": round(median(ratios), 3),
        "asset_ratio_behind_nginx_rounds": [round(r, 3) for r in ratios],
        "nginx_cpu_ms_per_download": round(median(cpu_alone), 3),
        "behind_nginx_cpu_ms_per_download": round(median(cpu_behind), 3),
        "behind_nginx_app_cpu_ms_per_download": round(median(cpu_app), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=10_000)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} is not installed (apt-get install wrk nginx-light)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-poll-"))
    tmp.chmod(0o755)  # nginx workers run as an unprivileged user
    procs: list[subprocess.Popen[bytes]] = []
    front: Nginx | None = None
    try:
        data_dir = tmp / "server"
        data_dir.mkdir()
        t0 = time.monotonic()
        keys, sha, asset = seed(data_dir, args.screens)
        print(f"seeded {args.screens} screens in {time.monotonic() - t0:.1f} s", file=sys.stderr)

        port = free_port()
        procs.append(start_server(data_dir, port))
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/api/v1/health")

        print(f"server up at {time.monotonic() - t0:.1f} s", file=sys.stderr)
        etags: list[str] = []
        manifest_bytes = b""
        for key in keys:
            r = httpx.get(base + "/api/v1/device/manifest", headers={"Authorization": f"Bearer {key}"})
            r.raise_for_status()
            etags.append(r.headers["etag"])
            manifest_bytes = manifest_bytes or r.content

        print(f"warmed {len(keys)} manifests at {time.monotonic() - t0:.1f} s", file=sys.stderr)
        www = tmp / "nginx" / "www"
        (www / "assets").mkdir(parents=True)
        (tmp / "nginx" / "tmp").mkdir()
        (www / "manifest.json").write_bytes(manifest_bytes)
        (www / "assets" / f"{sha}.jpg").write_bytes(asset)
        nport = free_port()
        conf = tmp / "nginx" / "nginx.conf"
        conf.write_text(nginx_conf(tmp / "nginx", nport))
        nginx_bin = shutil.which("nginx") or "/usr/sbin/nginx"
        procs.append(subprocess.Popen([nginx_bin, "-c", str(conf), "-p", str(tmp / "nginx")]))
        nbase = f"http://127.0.0.1:{nport}"
        wait_http(nbase + "/manifest.json")
        check = httpx.get(nbase + "/manifest.json")
        check.raise_for_status()
        n_etag = check.headers["etag"]

        script = tmp / "rotate.lua"
        script.write_text(lua_rotating(keys, etags, "/api/v1/device/manifest"))
        secs, conns = args.seconds, args.connections
        server_304 = run_wrk(base + "/api/v1/device/manifest", secs, conns, script=script)
        # the same script drives nginx (same keys and request bytes; nginx's own ETag), so wrk's
        # per-request cost is the same on both sides and the ratio measures only the servers
        n_script = tmp / "rotate-nginx.lua"
        n_script.write_text(lua_rotating(keys, [n_etag] * len(keys), "/manifest.json"))
        nginx_304 = run_wrk(nbase + "/manifest.json", secs, conns, script=n_script)
        for name, run in (("server", server_304), ("nginx", nginx_304)):
            per_request = run["mb_s"] * 1024 * 1024 / max(run["rps"], 1.0)
            if per_request > len(manifest_bytes) / 2:  # wrk counts 200s as fine: check they were 304s
                sys.exit(f"{name} answered polls with bodies ({per_request:.0f} B per request), not 304s")
        server_asset = run_wrk(
            base + f"/api/v1/assets/{sha}", secs, 8, headers=[f"Authorization: Bearer {keys[0]}"]
        )
        nginx_asset = run_wrk(nbase + f"/assets/{sha}.jpg", secs, 8)
        stop(procs.pop(0))  # the app alone is measured: the deployment's process takes its place
        front = behind_nginx(tmp, data_dir, keys[0], sha, asset, procs)
        deployment = deployment_rounds(
            nbase + f"/assets/{sha}.jpg",
            procs[0].pid,
            front.url + f"/api/v1/assets/{sha}",
            front,
            procs[-1].pid,
            keys[0],
            secs,
        )
        result = {
            "bench": "server_poll",
            "screens": args.screens,
            "manifest_bytes": len(manifest_bytes),
            "asset_bytes": len(asset),
            "manifest_304_rps": round(server_304["rps"], 1),
            "nginx_304_rps": round(nginx_304["rps"], 1),
            "manifest_ratio": round(server_304["rps"] / nginx_304["rps"], 3),
            "manifest_p99_ms": round(server_304["p99_ms"], 2),
            "manifest_non_304": int(server_304["errors"]),
            "asset_mb_s": round(server_asset["mb_s"], 1),
            "nginx_asset_mb_s": round(nginx_asset["mb_s"], 1),
            "asset_ratio": round(server_asset["mb_s"] / nginx_asset["mb_s"], 3),
            **deployment,
            "connections": conns,
            "cores": os.cpu_count(),
        }
    finally:
        for p in procs:
            stop(p)
        if front is not None:
            front.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
