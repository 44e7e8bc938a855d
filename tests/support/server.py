"""The service as a real process: ``clef-pro serve`` on a free loopback port."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.processes import spawn_clef_pro, stop_process, wait_until_ok


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, *, kill: bool = False) -> None:
        stop_process(self.process, kill=kill)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def start_server(
    env: Mapping[str, str], log: Path, *, args: tuple[str, ...] = (), timeout: float = 120
) -> ServerProcess:
    port = free_port()
    process = spawn_clef_pro(["serve", "--host", "127.0.0.1", "--port", str(port), *args], env, log)
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log, dict(env))
    wait_until_ok(process, f"{server.url}/readyz", log, what="clef-pro serve", timeout=timeout)
    return server
