"""A first run on a fresh machine, as a person meets it: bare ``clef-pro``,
``serve --demo`` (twice), a busy port, and where the admin token is."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess, start_server

pytestmark = pytest.mark.server

KEY = re.compile(r"API key\s+:\s+(clefpro_\w+)")


def run_clef_pro(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    return subprocess.run(
        [sys.executable, "-m", "clef_pro", *args],
        check=False,
        env={**inherited, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def demo(data_dir: Path, log: Path) -> tuple[ServerProcess, str, str]:
    server = start_server({"CLEF_PRO_DATA_DIR": str(data_dir)}, log, args=("--demo",))
    printed = log.read_text()
    key = KEY.search(printed)
    assert key is not None, printed
    return server, key.group(1), printed


def test_bare_clef_pro_prints_its_commands_and_succeeds() -> None:
    result = run_clef_pro()
    assert result.returncode == 0, result.stderr
    assert "Usage: " in result.stdout
    for command in ("serve", "migrate", "integrations", "keys", "operator"):
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command


def test_running_the_demo_again_keeps_its_key(tmp_path: Path) -> None:
    first, key, printed = demo(tmp_path, tmp_path / "first.log")
    try:
        assert "a new key" in printed
        report_path = re.search(r"--data @(\S+demo-report\.json)", printed)
        assert report_path is not None
        report = json.loads(Path(report_path.group(1)).read_text())
        # The example is a commit made just now, not one from a fixed date.
        assert abs(report["commitTimestamp"] - time.time() * 1000) < 120_000
        accepted = httpx.post(
            f"{first.url}/api/v1/reports", json=report, headers={"Authorization": f"Bearer {key}"}
        )
        assert accepted.status_code == 200, accepted.text
    finally:
        first.stop()

    second, again, printed = demo(tmp_path, tmp_path / "second.log")
    try:
        assert again == key
        assert "the same key as the last run" in printed
        report_path = re.search(r"--data @(\S+demo-report\.json)", printed)
        assert report_path is not None
        report = json.loads(Path(report_path.group(1)).read_text())
        accepted = httpx.post(
            f"{second.url}/api/v1/reports", json=report, headers={"Authorization": f"Bearer {key}"}
        )
        assert accepted.status_code == 200, accepted.text
        assert oct((tmp_path / "demo-api-key").stat().st_mode & 0o777) == "0o600"
    finally:
        second.stop()


def test_a_busy_port_is_a_clear_error_and_prints_no_key(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_clef_pro(
            "serve", "--demo", "--port", str(port), env={"CLEF_PRO_DATA_DIR": str(tmp_path)}
        )
    assert result.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "clefpro_" not in result.stdout + result.stderr
    assert "demo is ready" not in result.stderr
    assert not (tmp_path / "demo-api-key").exists()


def test_serve_logs_where_its_admin_token_is_and_never_the_token(tmp_path: Path) -> None:
    server = start_server(
        {"CLEF_PRO_DATA_DIR": str(tmp_path), "CLEF_PRO_LOG_LEVEL": "info"}, tmp_path / "log"
    )
    try:
        token = (tmp_path / "admin-token").read_text().strip()
        log = (tmp_path / "log").read_text()
        assert f"admin token: read from the file {tmp_path / 'admin-token'}" in log
        assert token not in log
    finally:
        server.stop()
