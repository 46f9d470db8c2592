"""``signage-server`` CLI: ``serve`` (uvicorn), ``migrate``, ``create-user``, ``audit verify``."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from types import FrameType

from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from content_server.core.settings import Settings


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for err in exc.errors():
            print(f"configuration error: {err['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="signage-server", description="Community signage content server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (settings from SIGNAGE_* variables)")
    serve.add_argument("--host", help="override SIGNAGE_HOST")
    serve.add_argument("--port", type=int, help="override SIGNAGE_PORT")
    sub.add_parser("migrate", help="apply database migrations and exit")
    cu = sub.add_parser("create-user", help="create an (approved) account")
    cu.add_argument("--role", required=True, choices=["operator", "advertiser", "clerk", "provider"])
    cu.add_argument("--username", required=True)
    cu.add_argument("--password", required=True)
    cu.add_argument("--display-name", default="")
    audit_cmd = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="prove the hash chain; name the first broken record (exit 1)")
    args = parser.parse_args(argv)

    settings = _settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command == "serve":
        import uvicorn

        from content_server.app import create_app

        app = create_app(settings)

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                # emergency long-polls answer now instead of holding the stop for their wait
                app.state.emergency.close()
                super().handle_exit(sig, frame)

        config = uvicorn.Config(
            app,
            host=args.host or settings.host,
            port=args.port or settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            # X-Forwarded-For only from configured proxies: uvicorn's default trusts 127.0.0.1, so
            # anything on this host (or any client with no proxy in front) could pick its address
            proxy_headers=bool(settings.proxy_list),
            forwarded_allow_ips=settings.proxy_list,
            server_header=False,  # no version banner for scanners
            # idle connections outlive the proxy's upstream keep-alive: were the app to close one
            # first, nginx could reuse it at that very moment and answer a POST with 502
            timeout_keep_alive=settings.keep_alive_s,
            timeout_graceful_shutdown=settings.shutdown_grace_s,  # then whatever still runs is cut
        )
        Server(config).run()
        return 0

    from content_server.core import migrate
    from content_server.core.db import make_engine, make_sessionmaker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.effective_database_url)
    migrate.upgrade(engine)
    if args.command == "audit":
        code = _verify_audit(make_sessionmaker(engine))
        engine.dispose()
        return code
    if args.command == "create-user":
        from content_server.accounts import services as accounts
        from content_server.app import declare_audit
        from content_server.core.audit.services import Actor, AuditLog, act_as
        from content_server.core.errors import ServerError
        from schedules.clock import SystemClock

        sessions = make_sessionmaker(engine)
        audit_log = AuditLog(SystemClock())
        declare_audit(audit_log)
        audit_log.install(sessions)  # accounts made on the command line are in the trail too
        with sessions() as session:
            act_as(session, Actor("system", "cli", "signage-server create-user", "system"))
            try:
                user = accounts.create_user(
                    session,
                    username=args.username,
                    password=args.password,
                    role=args.role,
                    now=dt.datetime.now(dt.UTC),
                    approved=True,
                    display_name=args.display_name,
                )
            except ServerError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            print(f"created {user.role} {user.username} ({user.id})")
    engine.dispose()
    return 0


def _verify_audit(sessions: sessionmaker[Session]) -> int:
    """``audit verify``: 0 and a summary when the chain holds, 1 and the first broken record when not."""
    from content_server.core.audit import services as audit

    with sessions() as session:
        verdict = audit.verify(session)
    if verdict.ok:
        span = f"#{verdict.first_seq}..#{verdict.last_seq}" if verdict.checked else "empty"
        print(f"audit trail intact: {verdict.checked} record(s) ({span})")
        return 0
    print(f"audit trail broken at record #{verdict.broken_seq}: {verdict.reason}", file=sys.stderr)
    print(f"({verdict.checked} record(s) before it verified)", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
