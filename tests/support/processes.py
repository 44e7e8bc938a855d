"""Starting ``clef-pro`` subcommands as real processes, and waiting until they serve."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx


def spawn_clef_pro(
    args: Sequence[str], env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """``python -m clef_pro ARGS`` with output to ``log``.

    The test decides every setting: no ``CLEF_PRO_*`` variable leaks in from
    the developer's shell.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("CLEF_PRO_")}
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "clef_pro", *args],
            env={**inherited, **env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def stop_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until_ok(
    process: subprocess.Popen[bytes], url: str, log: Path, *, what: str, timeout: float
) -> None:
    """Until ``url`` answers 200; fails with the log if the process exits or time runs out.

    A process that exits fails at once, so ``timeout`` only bounds a slow start:
    generous, since a busy CI machine can take tens of seconds to import and
    migrate.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_process(process, kill=True)
    raise RuntimeError(f"{what} did not become ready:\n{log.read_text()}")
