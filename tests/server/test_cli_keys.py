"""``clef-pro integrations`` and ``clef-pro keys`` run as real processes, on the
embedded default and on Postgres, beside a real running service."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx
import pytest

from clef_pro.domain import apikeys
from tests.support.contract import example, sha
from tests.support.server import ServerProcess, start_server
from tests.support.service import ADMIN_TOKEN, admin_headers

pytestmark = pytest.mark.server


def clef_pro(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    return subprocess.run(
        [sys.executable, "-m", "clef_pro", *args],
        check=False,
        env={**inherited, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def minted(env: Mapping[str, str], *args: str) -> str:
    """Run a command that mints a key: the key alone is on standard output."""
    result = clef_pro(env, *args)
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert apikeys.is_well_formed(key), result.stdout
    assert "only time it is shown" in result.stderr
    return key


def submit(server: ServerProcess, key: str, commit: str) -> int:
    report = example("report-cli.json")
    report["commitSha"] = commit
    # Each commit newer than the last, so the newest report is the last accepted.
    report["commitTimestamp"] = int(time.time() * 1000)
    response = httpx.post(
        f"{server.url}/api/v1/reports", json=report, headers={"Authorization": f"Bearer {key}"}
    )
    return response.status_code


Lifecycle = Callable[[dict[str, str], ServerProcess], None]


def key_lifecycle(env: dict[str, str], server: ServerProcess) -> None:
    first = minted(env, "integrations", "create", "payments", "--name", "Payments API")
    assert submit(server, first, sha("a1")) == 200

    listed = clef_pro(env, "integrations", "list")
    assert listed.returncode == 0, listed.stderr
    assert "payments" in listed.stdout
    assert "Payments API" in listed.stdout

    deploy = minted(env, "keys", "create", "payments", "deploy")
    assert submit(server, deploy, sha("a2")) == 200
    twice = clef_pro(env, "keys", "create", "payments", "deploy")
    assert twice.returncode == 1
    assert "already a key named deploy" in twice.stderr

    # Rotation with a grace period: both keys work until it ends.
    rotated = minted(env, "keys", "rotate", "payments", "ci", "--grace", "1h")
    assert rotated != first
    assert submit(server, first, sha("a3")) == 200
    assert submit(server, rotated, sha("a4")) == 200
    shown = clef_pro(env, "keys", "list", "payments")
    assert "retiring, works until" in shown.stdout
    for key in (first, deploy, rotated):
        assert key not in shown.stdout + shown.stderr
    # Without one, the old key stops at once.
    again = minted(env, "keys", "rotate", "payments", "ci", "--grace", "0")
    assert submit(server, rotated, sha("a5")) == 401
    assert submit(server, again, sha("a6")) == 200

    revoked = clef_pro(env, "keys", "revoke", "payments", "deploy", "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert submit(server, deploy, sha("a7")) == 401

    shown = clef_pro(env, "integrations", "show", "payments")
    assert shown.returncode == 0, shown.stderr
    assert "Payments API" in shown.stdout
    assert "Last report   " + sha("a6") in shown.stdout

    deleted = clef_pro(env, "integrations", "delete", "payments", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert submit(server, again, sha("a8")) == 401
    assert "payments" not in clef_pro(env, "integrations", "list").stdout


def test_keys_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"CLEF_PRO_DATA_DIR": str(tmp_path)}
    # A fresh machine: the command line creates the database itself.
    first = clef_pro(env, "integrations", "list")
    assert first.returncode == 0, first.stderr
    assert "No integrations" in first.stdout
    server = start_server(env, tmp_path / "server.log")
    try:
        key_lifecycle(env, server)
    finally:
        server.stop()


@pytest.mark.postgres
def test_keys_on_postgres(
    server_env: dict[str, str], start_service: Callable[..., ServerProcess]
) -> None:
    key_lifecycle(server_env, start_service())


@pytest.mark.postgres
def test_a_rotated_out_key_stops_when_its_grace_period_ends(
    server_env: dict[str, str], start_service: Callable[..., ServerProcess]
) -> None:
    server = start_service()
    old = minted(server_env, "integrations", "create", "billing")
    new = minted(server_env, "keys", "rotate", "billing", "ci", "--grace", "3s")
    assert submit(server, old, sha("b1")) == 200
    deadline = time.monotonic() + 30
    while submit(server, old, sha("b2")) == 200:
        assert time.monotonic() < deadline, "the old key outlived its grace period"
        time.sleep(0.5)
    assert submit(server, old, sha("b2")) == 401
    assert submit(server, new, sha("b3")) == 200


@pytest.mark.postgres
def test_an_integration_the_operator_owns_is_refused(
    server_env: dict[str, str], start_service: Callable[..., ServerProcess]
) -> None:
    server = start_service()
    body = {
        "displayName": "Owned",
        "source": {"namespace": "team-a", "name": "owned"},
        "apiKeys": [{"name": "ci", "sha256": apikeys.sha256_hex(apikeys.generate_api_key())}],
    }
    put = httpx.put(f"{server.url}/admin/v1/integrations/owned", json=body, headers=admin_headers())
    assert put.status_code == 201, put.text
    for args in (
        ("keys", "create", "owned", "extra"),
        ("keys", "rotate", "owned", "ci"),
        ("keys", "revoke", "owned", "ci", "--yes"),
        ("integrations", "delete", "owned", "--yes"),
    ):
        refused = clef_pro(server_env, *args)
        assert refused.returncode == 1, args
        assert "managed by the Clef Pro operator" in refused.stderr, args
        assert "team-a" in refused.stderr
        assert "clefpro_" not in refused.stdout
    shown = clef_pro(server_env, "integrations", "show", "owned")
    assert "operator: Integration team-a/owned" in shown.stdout
    created = clef_pro(server_env, "integrations", "create", "owned")
    assert created.returncode == 1
    assert "already exists" in created.stderr


@pytest.mark.postgres
def test_an_id_an_integration_resource_configured_is_refused_by_integrations_create(
    server_env: dict[str, str], start_service: Callable[..., ServerProcess]
) -> None:
    server = start_service()
    source = {"namespace": "team-a", "name": "owned", "uid": "0b7c9e2a-1111-4c3b-9d7e-aaaaaaaaaaaa"}
    put = httpx.put(
        f"{server.url}/admin/v1/integrations/owned",
        json={"displayName": "Owned", "source": source},
        headers=admin_headers(),
    )
    assert put.status_code == 201, put.text
    # The operator deleted it (its history is kept): the id is still the resource's.
    deleted = httpx.delete(
        f"{server.url}/admin/v1/integrations/owned", params=source, headers=admin_headers()
    )
    assert deleted.status_code == 204
    created = clef_pro(server_env, "integrations", "create", "owned")
    assert created.returncode == 1
    assert "belongs to the Integration owned in namespace team-a" in created.stderr
    assert "clefpro_" not in created.stdout


def test_serve_refuses_a_weak_admin_token_naming_the_setting(tmp_path: Path) -> None:
    result = clef_pro(
        {"CLEF_PRO_DATA_DIR": str(tmp_path), "CLEF_PRO_ADMIN_TOKEN": "changeme"},
        "serve",
        "--port",
        "0",
    )
    assert result.returncode == 1
    assert "CLEF_PRO_ADMIN_TOKEN is too weak" in result.stderr
    assert "changeme" not in result.stderr + result.stdout


def test_the_config_api_says_how_keys_are_minted(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path), "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN},
        tmp_path / "log",
    )
    try:
        document = httpx.get(f"{server.url}/openapi.json").json()
    finally:
        server.stop()
    described = document["components"]["schemas"]["ApiKeyHash"]["properties"]["sha256"]
    assert "clef-pro keys create" in described["description"]
