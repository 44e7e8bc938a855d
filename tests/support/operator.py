"""The operator as a real process (``clef-pro operator``) against the test control plane."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.processes import spawn_clef_pro, stop_process, wait_until_ok


@dataclass
class OperatorProcess:
    process: subprocess.Popen[bytes]
    log: Path
    liveness_url: str

    def stop(self, *, kill: bool = False) -> None:
        stop_process(self.process, kill=kill)


def start_operator(
    env: dict[str, str], log: Path, namespace: str, *more: str, timeout: float = 120
) -> OperatorProcess:
    """Starts the operator watching ``namespace`` (and ``more``) and waits
    until its liveness probe passes."""
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    watched = [arg for name in (namespace, *more) for arg in ("--namespace", name)]
    process = spawn_clef_pro(["operator", *watched, "--liveness", liveness], env, log)
    wait_until_ok(process, liveness, log, what="clef-pro operator", timeout=timeout)
    return OperatorProcess(process, log, liveness)
