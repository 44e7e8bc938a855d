"""The operator as a real process (``clef-pro operator``) against the test control plane."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.postgres import free_port


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    log: Path
    liveness_url: str

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_operator(
    env: dict[str, str], log: Path, namespace: str, *, timeout: float = 60
) -> OperatorProcess:
    port = free_port()
    liveness = f"http://127.0.0.1:{port}/healthz"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clef_pro",
                "operator",
                "--namespace",
                namespace,
                "--liveness",
                liveness,
            ],
            env={**inherited, **env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    operator = OperatorProcess(process, log, liveness)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(liveness, timeout=2).status_code == 200:
                return operator
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    operator.stop(kill=True)
    raise RuntimeError(f"the operator's liveness probe never passed:\n{log.read_text()}")
