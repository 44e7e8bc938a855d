"""The embedded default: SQLite in the data directory, no Postgres, no cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.contract import example
from tests.support.server import start_server

pytestmark = pytest.mark.server


def test_demo_serves_on_sqlite_and_takes_the_printed_report(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path)}, tmp_path / "server.log", args=("--demo",)
    )
    try:
        printed = (tmp_path / "server.log").read_text()
        key = re.search(r"API key\s+:\s+(clefpro_\w+)", printed)
        report_path = re.search(r"--data @(\S+demo-report\.json)", printed)
        assert key is not None
        assert report_path is not None
        assert (tmp_path / "clef-pro.db").exists()
        response = httpx.post(
            f"{server.url}/api/v1/reports",
            content=Path(report_path.group(1)).read_bytes(),
            headers={"Authorization": f"Bearer {key.group(1)}", "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        token = (tmp_path / "admin-token").read_text().strip()
        assert oct((tmp_path / "admin-token").stat().st_mode & 0o777) == "0o600"
        alerts = httpx.get(
            f"{server.url}/api/v1/integrations/demo/alerts",
            headers={"Authorization": f"Bearer {token}"},
        ).json()["items"]
        assert {a["ruleId"] for a in alerts} == {"missing_keys", "rotation_max_age"}
        assert key.group(1) not in (tmp_path / "clef-pro.db").read_bytes().decode("latin-1")
    finally:
        server.stop()


def test_sqlite_takes_the_whole_contract_example_set(tmp_path: Path) -> None:
    server = start_server({"CLEF_PRO_DATA_DIR": str(tmp_path)}, tmp_path / "log", args=("--demo",))
    try:
        key = re.search(r"API key\s+:\s+(clefpro_\w+)", (tmp_path / "log").read_text())
        assert key is not None
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        batch = httpx.post(
            f"{server.url}/api/v1/reports/batch", json=example("batch.json"), headers=headers
        )
        assert batch.status_code == 200, batch.text
        single = httpx.post(
            f"{server.url}/api/v1/reports", json=example("report-cli.json"), headers=headers
        )
        assert single.status_code == 200, single.text
    finally:
        server.stop()


def test_serve_refuses_a_schema_that_is_behind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    env["CLEF_PRO_DATA_DIR"] = str(tmp_path)
    refused = subprocess.run(
        [sys.executable, "-m", "clef_pro", "serve", "--no-migrate", "--port", "1"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    assert "clef-pro migrate" in refused.stderr

    migrated = subprocess.run(
        [sys.executable, "-m", "clef_pro", "migrate"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "Schema is current" in migrated.stdout


def test_the_demo_prints_both_cli_generations_settings_and_they_work(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path)}, tmp_path / "server.log", args=("--demo",)
    )
    try:
        printed = (tmp_path / "server.log").read_text()
        # The two lines, pasted into a shell as printed, set what the CLI reads.
        assignments = re.findall(r"^  (CLEF_TELEMETRY_\w+=.*)$", printed, re.MULTILINE)
        pasted = subprocess.run(
            [
                "bash",
                "-c",
                "; ".join(
                    [
                        *assignments,
                        "export CLEF_TELEMETRY_URL",
                        "export CLEF_TELEMETRY_HEADERS",
                        "env",
                    ]
                ),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        url = re.search(r"^CLEF_TELEMETRY_URL=(\S+)$", pasted, re.MULTILINE)
        headers = re.search(r"^CLEF_TELEMETRY_HEADERS=(.+)$", pasted, re.MULTILINE)
        push = re.search(r"--data @(\S+demo-otlp-push\.json)", printed)
        assert url is not None
        assert headers is not None
        assert push is not None
        assert url.group(1) == f"{server.url}/v1/logs"
        assert "cloud.integrationId: demo" in printed
        assert f"CLEF_API_URL={server.url}" in printed
        # As the CLI does: headers from CLEF_TELEMETRY_HEADERS, checkpoint URL derived.
        name, _, value = headers.group(1).partition("=")
        sent = {name: value}
        checkpoint = url.group(1).removesuffix("/v1/logs") + "/v1/checkpoint"
        assert httpx.get(checkpoint, headers=sent).status_code == 404
        pushed = httpx.post(
            url.group(1),
            content=Path(push.group(1)).read_bytes(),
            headers={"Content-Type": "application/json", **sent},
        )
        assert pushed.status_code == 200, pushed.text
        assert pushed.json() == {}
        assert httpx.get(checkpoint, headers=sent).json()["lastCommitSha"].startswith("5d2c8e4f")
    finally:
        server.stop()
