"""The service's commands: ``clef-pro serve`` and ``clef-pro migrate``."""

from __future__ import annotations

import errno
import gc
import logging
import os
import secrets
import shlex
import socket
import sys
from pathlib import Path

import click
import uvicorn
from sqlalchemy import Engine

from clef_pro.domain.connect import Connection
from clef_pro_api.app import create_app
from clef_pro_api.demo import create_demo
from clef_pro_api.settings import Settings
from clef_pro_api.storage import migrate as migrations
from clef_pro_api.storage.db import create_db_engine, session_factory

log = logging.getLogger("clef_pro_api")


def _describe(settings: Settings) -> str:
    if settings.database_url is None:
        return f"embedded SQLite at {settings.data_dir / 'clef-pro.db'}"
    return "the database at CLEF_PRO_DATABASE_URL"


@click.command()
def migrate() -> None:
    """Bring the database schema up to this version."""
    settings = Settings()
    migrations.upgrade(settings.resolved_database_url)
    click.echo(f"Schema is current ({_describe(settings)}).")


def ensure_schema(settings: Settings, engine: Engine, apply: bool) -> None:
    try:
        migrations.ensure_schema(settings.resolved_database_url, engine, apply=apply)
    except migrations.SchemaBehind as error:
        raise click.ClickException(str(error)) from None


def _embedded_admin_token(settings: Settings) -> Settings:
    """Give the embedded default an admin token of its own, kept beside its database."""
    if settings.admin_token_value is not None or not settings.is_embedded:
        return settings
    path = settings.data_dir / "admin-token"
    _create_secret_file(path)
    return Settings(admin_token_file=path, data_dir=settings.data_dir)


def _embedded_session_secret(settings: Settings) -> Settings:
    """And a key for its dashboard sessions, so they survive a restart."""
    if settings.session_secret_value is not None or not settings.is_embedded:
        return settings
    path = settings.data_dir / "session-secret"
    _create_secret_file(path)
    return settings.model_copy(update={"session_secret_file": path})


def _create_secret_file(path: Path) -> None:
    """A random secret readable by its owner only, unless the file exists."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))


def admin_token_source(settings: Settings) -> str:
    """Where this service reads its admin token from, for the log: never the token."""
    if settings.admin_token_file is not None:
        return f"the file {settings.admin_token_file}"
    if settings.admin_token is not None:
        return "the CLEF_PRO_ADMIN_TOKEN variable"
    return "nowhere"


def bind(host: str, port: int) -> socket.socket:
    """Listen before anything is printed, so a banner is only shown by a server
    that got its port (and a busy port mints no demo key)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise click.ClickException(
                f"port {port} on {host} is already in use: stop what listens there, "
                "or choose another with --port"
            ) from None
        raise click.ClickException(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.set_inheritable(True)
    return listener


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=int, help="Port to listen on (0: any free one)."
)
@click.option(
    "--migrate/--no-migrate",
    "apply_migrations",
    default=None,
    help="Apply migrations first (default: CLEF_PRO_AUTO_MIGRATE, on).",
)
@click.option("--demo", is_flag=True, help="Create a demo integration and print how to use it.")
def serve(host: str, port: int, apply_migrations: bool | None, demo: bool) -> None:
    """Serve the API and dashboard."""
    settings = _embedded_session_secret(_embedded_admin_token(Settings()))
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    weakness = settings.admin_token_weakness()
    if weakness is not None:
        raise click.ClickException(weakness)
    listener = bind(host, port)
    port = listener.getsockname()[1]
    try:
        engine = create_db_engine(settings.resolved_database_url, pool_size=1)
        try:
            ensure_schema(
                settings,
                engine,
                settings.auto_migrate if apply_migrations is None else apply_migrations,
            )
            if demo:
                _print_demo(settings, engine, host, port)
        finally:
            engine.dispose()
    except BaseException:
        listener.close()
        raise
    if settings.admin_token_value is None:
        log.warning(
            "no admin token (CLEF_PRO_ADMIN_TOKEN_FILE or CLEF_PRO_ADMIN_TOKEN): the config "
            "and read APIs and the dashboard's admin-token sign-in refuse everyone"
        )
    else:
        log.info("admin token: read from %s", admin_token_source(settings))
    log.info("serving on http://%s:%d with %s", host, port, _describe(settings))
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            log_level=settings.log_level,
            # The dashboard's proxy mode trusts identity headers by the connecting
            # peer's address, which uvicorn would otherwise replace with the one
            # X-Forwarded-For names.
            proxy_headers=settings.dashboard_auth != "proxy",
        )
    )
    _freeze_startup_heap()
    server.run(sockets=[listener])


#: Allocations between young-generation collections (CPython's default: 700).
GC_THRESHOLDS = (50_000, 20, 100)


def _freeze_startup_heap() -> None:
    """Keep what start-up built (modules, classes, the app: some 150,000
    objects that live as long as the process) out of garbage collection, and
    collect what requests create in larger rounds.

    A full collection walks every tracked object with the GIL held, so it
    stalls the event loop, and every request with it, for as long as it takes:
    about 250 ms for that heap on a busy 2-core machine, at unpredictable
    moments (a large batch makes many). Frozen, they are never walked again.
    A request allocates thousands of short-lived objects and a batch millions:
    with CPython's default thresholds the collector ran several times per
    report and, through a batch, rescanned its growing heap again and again
    (60 % of a 10,000-report batch's parsing); cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _shell_assignment(line: str) -> str:
    """``NAME=value`` as a shell assignment: only the value may be quoted, or
    the shell reads the whole word as a command name."""
    name, _, value = line.partition("=")
    return f"{name}={shlex.quote(value)}"


def _print_demo(settings: Settings, engine: Engine, host: str, port: int) -> None:
    demo = create_demo(session_factory(engine), settings.data_dir)
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104
    token_hint = (
        f"cat {shlex.quote(str(settings.admin_token_file))}"
        if settings.admin_token_file
        else "echo $CLEF_PRO_ADMIN_TOKEN"
    )
    connection = Connection(base, demo.integration_id, key=demo.api_key)
    todays, older = connection.todays_cli(), connection.report_api_cli()
    key_note = (
        "the same key as the last run; only its hash is stored, and the key in "
        f"{shlex.quote(str(demo.key_file))}"
        if demo.key_kept
        else f"a new key; only its hash is stored, and the key in {shlex.quote(str(demo.key_file))}"
    )
    click.echo(
        f"""
Clef Pro demo is ready.

  Integration ID : {demo.integration_id}
  API key        : {demo.api_key}
                   ({key_note})
  API            : {base}/api/v1   (OpenAPI docs at {base}/docs)
  Dashboard      : {base}/   (sign in with the admin token: {token_hint})

Point today's Clef CLI (0.1.9 and later: clef report|lint|drift --push) at it
from a CI job's environment (the CLI never reads CLEF_TELEMETRY_TOKEN):

  {_shell_assignment(todays[0])}
  {_shell_assignment(todays[1])}

or push what `clef report --push` sends, by hand:

  curl -sS -X POST {connection.telemetry_url} \\
    -H 'Authorization: Bearer {demo.api_key}' \\
    -H 'Content-Type: application/json' \\
    --data @{shlex.quote(str(Path(demo.example_push)))}

A Clef CLI up to 0.1.5 (the report API) takes `cloud.integrationId: {demo.integration_id}`
in clef.yaml, {older[1]} and {older[2]}.
Submit an example report (a commit made just now) as it would:

  curl -sS -X POST {base}/api/v1/reports \\
    -H 'Authorization: Bearer {demo.api_key}' \\
    -H 'Content-Type: application/json' \\
    --data @{shlex.quote(str(demo.example_report))}

Then read the matrix and the alerts it opened with the admin token:

  TOKEN=$({token_hint})
  curl -sS -H "Authorization: Bearer $TOKEN" {base}/api/v1/integrations/demo/matrix
  curl -sS -H "Authorization: Bearer $TOKEN" {base}/api/v1/integrations/demo/alerts
""",
        file=sys.stderr,
    )
