"""A real Prometheus Alertmanager for the notification tests.

``hack/alertmanager.sh`` builds it from its Go module (cached outside the
repository); this module builds it if needed, starts it on a free loopback
port with clustering off and a configuration that routes everything to a
receiver that sends nothing, and reads alerts back through Alertmanager's
own API v2, as its users' tools would.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.postgres import free_port
from tests.support.processes import stop_process
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "hack" / "alertmanager.sh"
BUILD_TIMEOUT_S = 45 * 60

CONFIG = """\
route:
  receiver: nobody
  group_by: [alertname, integration]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nobody
"""


def build() -> Path:
    """The binary, built first if the cache is cold."""
    subprocess.run([str(SCRIPT), "build"], check=True, timeout=BUILD_TIMEOUT_S)
    directory = subprocess.run(
        [str(SCRIPT), "bin-dir"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Path(directory) / "alertmanager"


@dataclass
class Alertmanager:
    url: str

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds as active."""
        response = httpx.get(f"{self.url}/api/v2/alerts", params=filters, timeout=5)
        response.raise_for_status()
        alerts: list[dict[str, Any]] = response.json()
        return alerts

    def wait_for_alerts(self, predicate: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        # Wrapped: an empty list of alerts can be what is awaited.
        (alerts,) = wait_for(
            lambda: (found,) if predicate(found := self.alerts()) else None,
            timeout=timeout,
            interval=0.1,
            what="Alertmanager's alerts",
        )
        return alerts


@contextmanager
def running_alertmanager(root: Path) -> Iterator[Alertmanager]:
    binary = build()
    root.mkdir(parents=True, exist_ok=True)
    (root / "alertmanager.yml").write_text(CONFIG)
    port = free_port()
    log = (root / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={root / 'alertmanager.yml'}",
            f"--storage.path={root / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    manager = Alertmanager(f"http://127.0.0.1:{port}")

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {(root / 'alertmanager.log').read_text()}")
        try:
            return httpx.get(f"{manager.url}/-/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, timeout=30, interval=0.1, what="Alertmanager to be ready")
        yield manager
    finally:
        stop_process(process)
        log.close()
