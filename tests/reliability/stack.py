"""The production layout on loopback, from the real files in ``deploy/``: PostgreSQL, N servers, nginx.

Used by the deployment and fault tests and by ``bench/load_fleet.py``; plain code, no pytest
fixtures, so a benchmark can start the same stack. Everything runs under one temporary
directory on free loopback ports and is stopped (never left running) by :meth:`Stack.close`.

- PostgreSQL 15 from Debian's binaries, ``initdb`` + ``deploy/postgresql.conf.d/signage.conf``
  included as shipped; only the port, socket dir and listen address are overridden.
- server processes: ``signage-server serve`` through :class:`tests.fixtures.server.LiveServer`,
  sharing one data dir (media store, server key), migrated once up front like
  ``signage-migrate.service``; background jobs only in the first, like ``server-8082.env``;
  asset downloads answered with ``X-Accel-Redirect`` for nginx to send, as ``server.env`` ships.
- nginx: ``deploy/nginx/signage.conf`` with its listen port, upstream ports and store root
  replaced by the temporary ones, inside a minimal ``nginx.conf``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.fixtures.server import Credentials, LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "signage.conf"
SERVER_ENV = DEPLOY / "env" / "server.env"
PG_CONF = DEPLOY / "postgresql.conf.d" / "signage.conf"
PG_BIN = Path(os.environ.get("SIGNAGE_PG_BIN", "/usr/lib/postgresql/15/bin"))
NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"


class StackError(RuntimeError):
    """A part of the layout did not come up; the message carries the tail of its log."""


def shipped_setting(name: str) -> str:
    """A setting as ``deploy/env/server.env`` ships it (the stack runs the servers with it)."""
    for line in SERVER_ENV.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    raise StackError(f"{SERVER_ENV} does not set {name}")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """A PostgreSQL cluster configured with the shipped ``signage.conf``."""

    def __init__(self) -> None:
        # its own top-level temp dir: the postgres user cannot enter a root-owned 0700 parent
        self.base = base = Path(tempfile.mkdtemp(prefix="signage-pg-"))
        self.data = base / "pgdata"
        self.port = free_port()
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
        os.chmod(base, 0o755)
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        conf = self.data / "postgresql.conf"
        shipped = base / "signage.conf"  # a copy the postgres user can read, wherever the repo lives
        shutil.copyfile(PG_CONF, shipped)
        os.chmod(shipped, 0o644)
        with conf.open("a") as f:
            f.write(f"\ninclude '{shipped}'\n")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/signage"

    def _ctl(self, *args: str) -> None:
        opts = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        r = subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    opts,
                    "-l",
                    str(self.base / "log"),
                    *args,
                ]
            ),
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            log = (
                (self.base / "log").read_text(errors="replace")[-2000:]
                if (self.base / "log").exists()
                else ""
            )
            raise StackError(f"pg_ctl {' '.join(args)} failed: {r.stderr}\n{log}")

    def start(self) -> None:
        self._ctl("-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        """A restart as an operator or a package upgrade does it: connections are cut."""
        self._ctl("-m", "fast", "-w", "restart")

    def create_db(self, name: str = "signage") -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name

    def pid(self) -> int:
        """The postmaster's process id (its backends are its children)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def setting(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres") as c:
            row = c.execute("SELECT current_setting(%s)", (name,)).fetchone()
        assert row is not None
        return str(row[0])


ACCEL = "SIGNAGE_ACCEL_REDIRECT_PREFIX"
UPSTREAM_KEEPALIVE = re.compile(r"^(\s*)keepalive_timeout (\d+)s;$", flags=re.M)


def upstream_keepalive_s(site: str) -> int:
    """How long the site keeps an idle upstream connection (its upstream ``keepalive_timeout``)."""
    found = UPSTREAM_KEEPALIVE.findall(site[site.index("upstream ") : site.index("server {")])
    if len(found) != 1:
        raise StackError("the nginx site's upstream block has no single 'keepalive_timeout Ns;'")
    return int(found[0][1])


def render_site(
    site: str,
    *,
    listen_port: int,
    upstream_ports: list[int],
    media_root: Path,
    upstream_keepalive: int | None = None,
) -> str:
    """The shipped site with its production port, upstreams and store root replaced (and, for a
    test that cannot wait a minute, its upstream ``keepalive_timeout``)."""
    servers = re.findall(r"^\s*server 127\.0\.0\.1:\d+ [^;]*;$", site, flags=re.M)
    if len(servers) < 1:
        raise StackError("no upstream servers found in the nginx site")
    tail = re.sub(r"^\s*server 127\.0\.0\.1:\d+", "", servers[0])
    block = "\n".join(f"    server 127.0.0.1:{p}{tail}" for p in upstream_ports)
    first = site.index(servers[0])
    last = site.index(servers[-1]) + len(servers[-1])
    out = site[:first] + block + site[last:]
    out, n = re.subn(r"^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{listen_port};", out, flags=re.M)
    if n != 1:
        raise StackError("the nginx site has no 'listen 80;' line to template")
    if upstream_keepalive is not None:
        upstream_keepalive_s(out)  # exactly one, in the upstream block
        out = UPSTREAM_KEEPALIVE.sub(rf"\g<1>keepalive_timeout {upstream_keepalive}s;", out, count=1)
    if "/var/lib/signage/media" not in out:
        raise StackError("the nginx site does not name the store root /var/lib/signage/media")
    return out.replace("/var/lib/signage/media", str(media_root))


class Nginx:
    """Debian's nginx running the shipped site in the foreground of a child process."""

    def __init__(
        self,
        base: Path,
        upstream_ports: list[int],
        media_root: Path,
        workers: int = 1,
        port: int | None = None,
        upstream_keepalive: int | None = None,
    ) -> None:
        self.base = base
        self.port = port or free_port()
        base.mkdir(parents=True, exist_ok=True)
        site = render_site(
            NGINX_SITE.read_text(),
            listen_port=self.port,
            upstream_ports=upstream_ports,
            media_root=media_root,
            upstream_keepalive=upstream_keepalive,
        )
        (base / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""  # temp dirs are 0700: workers read as root
        (base / "nginx.conf").write_text(
            f"{user}worker_processes {workers};\ndaemon off;\npid {base}/nginx.pid;\n"
            f"error_log {base}/error.log warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {base}/body;\n  proxy_temp_path {base}/proxy;\n"
            f"  fastcgi_temp_path {base}/fcgi;\n  uwsgi_temp_path {base}/uwsgi;\n"
            f"  scgi_temp_path {base}/scgi;\n"
            f"  include {base}/site.conf;\n}}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        test = subprocess.run(
            [NGINX_BIN, "-t", "-c", str(self.base / "nginx.conf")], capture_output=True, text=True
        )
        if test.returncode != 0:
            raise StackError(f"nginx -t refused the site: {test.stderr}")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-c", str(self.base / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/api/v1/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise StackError("nginx did not answer")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Stack:
    """PostgreSQL + ``servers`` content-server processes + nginx in front, all on loopback."""

    def __init__(
        self, servers: int = 2, base: Path | None = None, nginx_workers: int = 1, **env: str
    ) -> None:
        self.base = base or Path(tempfile.mkdtemp(prefix="signage-stack-"))
        self._own_base = base is None
        self.pg = Postgres()
        self.data_dir = self.base / "data"
        self.servers: list[LiveServer] = []
        self.nginx: Nginx | None = None
        self.n_servers = servers
        self.nginx_workers = nginx_workers
        self.env = env
        self.operator = Credentials("operator", "operator-password-1")

    def start(self) -> Stack:
        try:
            self.pg.start()
            db_url = self.pg.create_db("signage_" + uuid.uuid4().hex[:8])
            ports = [free_port() for _ in range(self.n_servers)]
            front_port = free_port()  # known up front: devices and phones reach the servers through nginx
            for i, port in enumerate(ports):
                extra = {
                    "SIGNAGE_PUBLIC_URL": f"http://127.0.0.1:{front_port}",
                    ACCEL: shipped_setting(ACCEL),  # nginx sends the assets the app allows
                    **self.env,
                }
                if i > 0:
                    extra.setdefault("SIGNAGE_SCHEDULER_ENABLED", "0")
                srv = LiveServer(self.data_dir, port, db_url, extra, operator=self.operator)
                self.data_dir.mkdir(parents=True, exist_ok=True)
                if i == 0:  # create-user migrates first, as signage-migrate.service does
                    srv.create_operator()
                self.servers.append(srv)
            with ThreadPoolExecutor(len(self.servers)) as pool:  # imports take seconds: in parallel
                list(pool.map(lambda srv: srv.start(), self.servers))
            started = [srv.port for srv in self.servers]  # a taken port was replaced at the start
            self.nginx = Nginx(
                self.base / "nginx", started, self.data_dir / "media", self.nginx_workers, port=front_port
            )
            self.nginx.start()
        except BaseException:
            self.close()
            raise
        return self

    @property
    def front(self) -> LiveServer:
        """A ``LiveServer`` handle whose URL is nginx (works with ``pair_device`` and friends)."""
        assert self.nginx is not None
        return LiveServer(
            data_dir=self.data_dir,
            port=self.nginx.port,
            database_url=self.servers[0].database_url,
            operator=self.operator,
        )

    def server_pids(self) -> list[int]:
        return [srv.proc.pid for srv in self.servers if srv.proc is not None]

    def nginx_pid(self) -> int:
        """nginx's master process (the workers are its children)."""
        assert self.nginx is not None and self.nginx.proc is not None
        return self.nginx.proc.pid

    def close(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for srv in self.servers:
            srv.stop()
        with contextlib.suppress(StackError):
            self.pg.stop("immediate")
        shutil.rmtree(self.pg.base, ignore_errors=True)
        if self._own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
