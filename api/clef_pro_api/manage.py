"""``clef-pro integrations`` and ``clef-pro keys``: integrations and API keys
without Kubernetes.

Like ``clef-pro migrate``, these commands work on the database directly (the
embedded SQLite file in the data directory, or ``CLEF_PRO_DATABASE_URL``), so
they work on a fresh machine before any service runs, and beside a running
one: every change is one transaction under the integration's lock, and the
service reads keys from the database on every request. A new key is printed
once, alone on standard output (``KEY=$(clef-pro keys create ...)``); only its
hash is stored. Integrations the Clef Pro operator configured are refused:
their keys live in their Integration's Secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from clef_pro.domain import apikeys, keyring
from clef_pro.domain.config import INTEGRATION_ID_PATTERN, OBJECT_NAME_PATTERN, ApiKeyHash
from clef_pro.domain.durations import parse_duration
from clef_pro_api.services import management
from clef_pro_api.services.errors import Conflict, NotFound
from clef_pro_api.settings import Settings
from clef_pro_api.storage.db import create_db_engine, session_factory, transaction
from clef_pro_api.storage.migrate import SchemaBehind, ensure_schema

T = TypeVar("T")

#: The first key of a new integration, unless named otherwise.
DEFAULT_KEY_NAME = "ci"
DEFAULT_GRACE = "24h"

_output = click.option(
    "--output",
    "-o",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: for scripts.",
)


@contextmanager
def _database() -> Iterator[Callable[[Callable[[Session], T]], T]]:
    """Run use cases in transactions on the configured database, brought up to
    this version's schema first (unless CLEF_PRO_AUTO_MIGRATE is off)."""
    settings = Settings()
    engine = create_db_engine(settings.resolved_database_url, pool_size=1)
    try:
        try:
            ensure_schema(settings.resolved_database_url, engine, apply=settings.auto_migrate)
        except SchemaBehind as error:
            raise click.ClickException(str(error)) from None
        sessions = session_factory(engine)

        def run(use_case: Callable[[Session], T]) -> T:
            try:
                with transaction(sessions) as session:
                    return use_case(session)
            except (NotFound, Conflict, keyring.KeyringError) as error:
                raise click.ClickException(str(error)) from None

        yield run
    finally:
        engine.dispose()


def _check(value: str, pattern: str, what: str) -> str:
    if not re.fullmatch(pattern, value):
        raise click.BadParameter(f"{value!r} is not a valid {what}")
    return value


def _integration_id(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return _check(value, INTEGRATION_ID_PATTERN, "integration id (letters, digits, . _ -)")


def _key_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    return _check(
        value, OBJECT_NAME_PATTERN, "key name (lower-case letters, digits and -, up to 63)"
    )


def _print_key(integration_id: str, name: str, key: str, what: str) -> None:
    click.echo(key)
    click.echo(
        f"{what} {name} of integration {integration_id}. This is the only time it is shown "
        "(Clef Pro keeps its hash): store it in your CI system's secrets now.",
        err=True,
    )


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=_json_value))


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def _key_rows(keys: Sequence[management.KeyInfo], now: datetime) -> list[str]:
    rows = []
    for key in keys:
        if key.expires_at is None:
            state = "active"
        elif key.expires_at > now:
            state = f"retiring, works until {_when(key.expires_at)}"
        else:
            state = "expired"
        rows.append(f"{key.name:<24} {key.fingerprint:<14} {_when(key.created_at):<22} {state}")
    return rows


def _key_table(keys: Sequence[management.KeyInfo]) -> None:
    if not keys:
        click.echo("No API keys: create one with `clef-pro keys create INTEGRATION NAME`.")
        return
    click.echo(f"{'NAME':<24} {'SHA-256':<14} {'CREATED':<22} STATE")
    for row in _key_rows(keys, datetime.now(UTC)):
        click.echo(row)


def _managed_by(info: management.IntegrationInfo) -> str:
    if info.source is None:
        return "clef-pro (this command line or the config API)"
    return f"operator: Integration {info.source.namespace}/{info.source.name}"


# ---------------------------------------------------------------- integrations


@click.group()
def integrations() -> None:
    """Create, list, show and delete integrations (without Kubernetes)."""


@integrations.command("create")
@click.argument("integration_id", callback=_integration_id)
@click.option("--name", "display_name", help="Display name (default: the id).")
@click.option("--repository", help="The repository it reports on, e.g. github.com/acme/payments.")
@click.option(
    "--branch",
    "branches",
    multiple=True,
    help="A tracked branch (repeat for more; none: every branch is tracked).",
)
@click.option(
    "--key",
    "key_name",
    default=DEFAULT_KEY_NAME,
    show_default=True,
    callback=_key_name,
    help="Name of the first API key, minted and printed once.",
)
@click.option("--no-key", is_flag=True, help="Mint no key now (`clef-pro keys create` later).")
def create_integration(
    *,
    integration_id: str,
    display_name: str | None,
    repository: str | None,
    branches: tuple[str, ...],
    key_name: str,
    no_key: bool,
) -> None:
    """Create integration INTEGRATION_ID, and its first API key."""
    key = None if no_key else apikeys.generate_api_key()
    hashes = [] if key is None else [ApiKeyHash(name=key_name, sha256=apikeys.sha256_hex(key))]
    with _database() as run:
        revived = run(
            lambda session: management.create_integration(
                session,
                integration_id,
                display_name=display_name or integration_id,
                repository=repository,
                tracked_branches=branches,
                keys=hashes,
            )
        )
    click.echo(
        f"Created integration {integration_id}"
        + (" (it had been deleted: its reports and alerts are back)" if revived else "")
        + ". Put its id in your repository's clef.yaml as cloud.integrationId.",
        err=True,
    )
    if key is not None:
        _print_key(integration_id, key_name, key, "API key")


@integrations.command("list")
@_output
def list_integrations(output: str) -> None:
    """List integrations and how many keys each has."""
    with _database() as run:
        items = run(management.list_integrations)
    if output == "json":
        _json([asdict(item) for item in items])
        return
    if not items:
        click.echo("No integrations: create one with `clef-pro integrations create ID`.")
        return
    now = datetime.now(UTC)
    click.echo(f"{'ID':<28} {'NAME':<28} {'KEYS':<5} MANAGED BY")
    for item in items:
        live = sum(key.expires_at is None or key.expires_at > now for key in item.keys)
        source = f"operator ({item.source.namespace}/{item.source.name})" if item.source else "-"
        click.echo(f"{item.integration_id:<28} {item.display_name:<28} {live:<5} {source}")


@integrations.command("show")
@click.argument("integration_id", callback=_integration_id)
@_output
def show_integration(integration_id: str, output: str) -> None:
    """Show one integration: config, keys, last report, open alerts."""
    with _database() as run:
        info = run(lambda session: management.show_integration(session, integration_id))
    if output == "json":
        _json(asdict(info))
        return
    alerts = ", ".join(f"{count} {severity}" for severity, count in info.open_alerts.items())
    click.echo(
        f"Integration   {info.integration_id}\n"
        f"Name          {info.display_name}\n"
        f"Repository    {info.repository or '-'}\n"
        f"Branches      {', '.join(info.tracked_branches) or 'every branch'}\n"
        f"Managed by    {_managed_by(info)}\n"
        f"Policies      {info.policies}\n"
        f"Channels      {info.channels}\n"
        f"Last report   {info.last_commit_sha or 'none yet'}"
        f"{' (' + _when(info.last_report_at) + ')' if info.last_report_at else ''}\n"
        f"Open alerts   {alerts or 'none'}\n"
        "API keys"
    )
    _key_table(info.keys)


@integrations.command("delete")
@click.argument("integration_id", callback=_integration_id)
@click.option("--purge", is_flag=True, help="Also delete its reports and alerts.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_integration(integration_id: str, purge: bool, yes: bool) -> None:
    """Delete an integration: its keys stop working at once."""
    if not yes:
        click.confirm(
            f"Delete integration {integration_id}"
            + (" with its reports and alerts" if purge else "")
            + "? Its API keys stop working at once.",
            abort=True,
            err=True,
        )
    with _database() as run:
        run(lambda session: management.delete_integration(session, integration_id, purge=purge))
    click.echo(
        f"Deleted integration {integration_id}"
        + ("" if purge else "; its reports and alerts are kept (--purge removes them)")
        + ".",
        err=True,
    )


# ---------------------------------------------------------------- keys


@click.group()
def keys() -> None:
    """Create, list, rotate and revoke an integration's API keys (without Kubernetes)."""


@keys.command("create")
@click.argument("integration_id", callback=_integration_id)
@click.argument("name", callback=_key_name)
def create_key(integration_id: str, name: str) -> None:
    """Mint API key NAME for INTEGRATION_ID; prints it once."""
    key = apikeys.generate_api_key()
    now = datetime.now(UTC)
    with _database() as run:
        run(
            lambda session: management.change_keys(
                session,
                integration_id,
                lambda current: keyring.add(current, name, apikeys.sha256_hex(key), now),
            )
        )
    _print_key(integration_id, name, key, "API key")


@keys.command("list")
@click.argument("integration_id", callback=_integration_id)
@_output
def list_keys(integration_id: str, output: str) -> None:
    """List the keys of INTEGRATION_ID: names and hash prefixes, never a key."""
    with _database() as run:
        info = run(lambda session: management.show_integration(session, integration_id))
    if output == "json":
        _json([asdict(key) for key in info.keys])
        return
    _key_table(info.keys)


def _grace(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    if value in ("0", "none"):
        return timedelta(0)
    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@keys.command("rotate")
@click.argument("integration_id", callback=_integration_id)
@click.argument("name", callback=_key_name)
@click.option(
    "--grace",
    default=DEFAULT_GRACE,
    show_default=True,
    callback=_grace,
    help="How long the old key keeps working, e.g. 1h30m (0: it stops now).",
)
def rotate_key(integration_id: str, name: str, grace: timedelta) -> None:
    """Replace key NAME with a new one; the old one works for the grace period."""
    key = apikeys.generate_api_key()
    now = datetime.now(UTC)
    with _database() as run:
        run(
            lambda session: management.change_keys(
                session,
                integration_id,
                lambda current: keyring.rotate(current, name, apikeys.sha256_hex(key), now, grace),
            )
        )
    _print_key(integration_id, name, key, "New API key")
    if grace:
        click.echo(f"The old key works until {_when(now + grace)}, then stops.", err=True)
    else:
        click.echo("The old key stopped working.", err=True)


@keys.command("revoke")
@click.argument("integration_id", callback=_integration_id)
@click.argument("name", callback=_key_name)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def revoke_key(integration_id: str, name: str, yes: bool) -> None:
    """Stop key NAME at once (with any older key it is still retiring)."""
    if not yes:
        click.confirm(
            f"Revoke key {name} of {integration_id}? CI jobs using it get 401 from now on.",
            abort=True,
            err=True,
        )
    now = datetime.now(UTC)
    with _database() as run:
        run(
            lambda session: management.change_keys(
                session, integration_id, lambda current: keyring.revoke(current, name, now)
            )
        )
    click.echo(f"Revoked key {name} of integration {integration_id}.", err=True)
