"""The service as a real process: ``clef-pro serve`` on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.postgres import free_port


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=30)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


def start_server(
    env: Mapping[str, str], log: Path, *, args: tuple[str, ...] = (), timeout: float = 30
) -> ServerProcess:
    port = free_port()
    # The test decides every setting: nothing leaks in from the developer's shell.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    full_env = {**inherited, **env, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clef_pro",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *args,
            ],
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log, dict(env))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"clef-pro serve exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop(kill=True)
    raise RuntimeError(f"clef-pro serve did not become ready:\n{log.read_text()}")
