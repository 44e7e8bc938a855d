"""A real one-node Kubernetes cluster with Clef Pro installed, for the ``cluster`` tests.

Why: the chart and the Dockerfile are only proven by pods that start on a
real node, from an image built the way users build it. ``hack/cluster.sh``
assembles that node (containerd, runc, CNI, a kubelet and the rest of the
control plane built from Go modules) in a network namespace of its own, and
``install`` follows the README's kind walkthrough (``hack/kind.sh install``).
This module brings it up once per session, hands tests a small facade over
kubectl and helm, and always takes the node down again.

The node needs root (a network namespace, containerd, the kubelet's
cgroups); without it the fixture fails with a message saying so rather than
skipping, so that a run which should have exercised the cluster never looks
green.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.envtest import REPO_ROOT, CommandError
from tests.support.postgres import free_port
from tests.support.waiting import wait_for

__all__ = [
    "CLUSTER_SH",
    "NAMESPACE",
    "RELEASE",
    "TEAM_NAMESPACE",
    "Cluster",
    "build_cluster_parts",
    "installed_cluster",
]

CLUSTER_SH = REPO_ROOT / "hack" / "cluster.sh"
# What hack/kind.sh install (the walkthrough) creates.
RELEASE = "clef-pro"
NAMESPACE = "clef-pro"
TEAM_NAMESPACE = "payments"

# A cold build compiles the node components and CoreDNS and makes the images.
BUILD_TIMEOUT_S = 60 * 60
UP_TIMEOUT_S = 20 * 60
INSTALL_TIMEOUT_S = 30 * 60
COMMAND_TIMEOUT_S = 300

ROOT_MESSAGE = (
    "the cluster tests need root: hack/cluster.sh runs a node in its own network "
    "namespace with containerd and a kubelet (CI runs as root). Run them as root, "
    'or deselect them with -m "not cluster".'
)


def _script(*args: str, timeout: float, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run hack/cluster.sh, its progress going to the terminal or log."""
    proc = subprocess.run(
        [str(CLUSTER_SH), *args],
        text=True,
        stdout=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, [str(CLUSTER_SH), *args], proc.stdout, "see above")
    return proc


def build_cluster_parts() -> None:
    """Build (or reuse) everything the node needs, outside any test's timeout."""
    if os.geteuid() != 0:
        return  # the fixture fails with the reason; nothing to build without root
    _script("build", timeout=BUILD_TIMEOUT_S)


@dataclass(frozen=True)
class Cluster:
    """The running node and the tools to drive it."""

    node_dir: Path
    kubeconfig: Path
    bin_dir: Path
    #: The host's side of the veth pair to the node: what pods reach the host at.
    host_ip: str
    node_ip: str
    state_dir: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        for var, sub in (
            ("KUBECACHEDIR", "kube-cache"),
            ("HELM_CACHE_HOME", "helm/cache"),
            ("HELM_CONFIG_HOME", "helm/config"),
            ("HELM_DATA_HOME", "helm/data"),
        ):
            env[var] = str(self.state_dir / sub)
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            list(argv),
            input=input,
            capture_output=True,
            text=True,
            env={**self.env, **(env or {})},
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise CommandError(proc.returncode, list(argv), proc.stdout, proc.stderr)
        return proc

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            [str(self.bin_dir / "kubectl"), *args], input=input, check=check, timeout=timeout
        )

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def helm(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return self.run([str(self.bin_dir / "helm"), *args], timeout=timeout)

    def script(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = INSTALL_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        """hack/cluster.sh with more environment (e.g. CLEF_PRO_IMAGE_TAG)."""
        proc = subprocess.run(
            [str(CLUSTER_SH), *args],
            text=True,
            capture_output=True,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise CommandError(proc.returncode, [str(CLUSTER_SH), *args], proc.stdout, proc.stderr)
        return proc

    def apply(self, manifest: Mapping[str, Any], namespace: str) -> None:
        self.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))

    def secret_value(self, namespace: str, name: str, key: str) -> str:
        data = self.kubectl_json("-n", namespace, "get", "secret", name)["data"]
        return base64.b64decode(data[key]).decode()

    @contextmanager
    def port_forward(self, namespace: str, target: str, port: int) -> Iterator[str]:
        """``kubectl port-forward`` to a loopback port; yields its base URL."""
        local = free_port()
        proc = subprocess.Popen(
            [
                str(self.bin_dir / "kubectl"),
                "-n",
                namespace,
                "port-forward",
                "--address=127.0.0.1",
                target,
                f"{local}:{port}",
            ],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "Forwarding from" in line, line + (proc.stdout.read() if proc.poll() else "")
            yield f"http://127.0.0.1:{local}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_job(self, namespace: str, name: str, timeout: float = 300) -> dict[str, Any]:
        """Wait until Job ``name`` completes or fails; fail the test with its logs if it failed."""

        def finished() -> dict[str, Any] | None:
            job: dict[str, Any] = self.kubectl_json("-n", namespace, "get", "job", name)
            conditions = {
                c["type"]: c["status"] for c in job.get("status", {}).get("conditions", [])
            }
            if conditions.get("Complete") == "True" or conditions.get("Failed") == "True":
                return job
            return None

        job = wait_for(finished, timeout=timeout, interval=1, what=f"job {name}")
        conditions = {c["type"]: c["status"] for c in job["status"]["conditions"]}
        if conditions.get("Complete") != "True":
            logs = self.kubectl("-n", namespace, "logs", f"job/{name}", check=False)
            raise AssertionError(f"job {name} failed:\n{logs.stdout}{logs.stderr}")
        return job


def _addresses() -> dict[str, str]:
    out = _script("addresses", timeout=30).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@contextmanager
def installed_cluster(state_dir: Path) -> Iterator[Cluster]:
    """``hack/cluster.sh up`` and ``install``; ``down`` afterwards, whatever happened."""
    if os.geteuid() != 0:
        pytest.fail(ROOT_MESSAGE, pytrace=False)
    addresses = _addresses()
    started = time.monotonic()
    try:
        _script("up", timeout=UP_TIMEOUT_S)
        up_seconds = time.monotonic() - started
        _script("install", timeout=INSTALL_TIMEOUT_S)
        print(
            f"\ncluster: up {up_seconds:.0f}s, up + install {time.monotonic() - started:.0f}s",
        )
        env = dict(
            line.removeprefix("export ").split("=", 1)
            for line in _script("env", timeout=30).stdout.splitlines()
        )
        bin_dir = Path(env["PATH"].split(":", 1)[0])
        yield Cluster(
            node_dir=Path(addresses["NODE"]),
            kubeconfig=Path(env["KUBECONFIG"]),
            bin_dir=bin_dir,
            host_ip=addresses["HOST_IP"],
            node_ip=addresses["NODE_IP"],
            state_dir=state_dir,
        )
    finally:
        _script("down", timeout=600, check=False)
