"""Pytest fixtures backed by a real Kubernetes control plane (etcd + kube-apiserver).

Why: the operator and chart code must be tested against the real API server -
OpenAPI schema validation, the status subresource, RBAC, ServiceAccount tokens
and TokenReview - because a mock would only prove our assumptions about it.
``hack/envtest.sh`` builds the binaries from pinned Go modules (cached outside
the repository) and runs them on free 127.0.0.1 ports; this module starts one
control plane per test session, hands tests a small :class:`ControlPlane`
facade and always stops the processes it started.

Use it from a conftest by importing the fixtures (``pytest_plugins`` is only
allowed in the top-level conftest)::

    from tests.support.envtest import control_plane, k8s_namespace

Tests that use it carry the ``k8s`` marker.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

__all__ = [
    "ENVTEST_SH",
    "REPO_ROOT",
    "CommandError",
    "ControlPlane",
    "build_binaries",
    "control_plane",
    "k8s_namespace",
    "pinned_versions",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ENVTEST_SH = REPO_ROOT / "hack" / "envtest.sh"

# A cold build compiles kube-apiserver, kubectl, etcd and helm from source.
BUILD_TIMEOUT_S = 45 * 60
# Warm start is seconds; the script itself bounds the /readyz wait.
START_TIMEOUT_S = 5 * 60
COMMAND_TIMEOUT_S = 120


class CommandError(subprocess.CalledProcessError):
    """A failed command whose message carries its stderr (and stdout)."""

    def __str__(self) -> str:
        return (
            f"{super().__str__()}\n--- stderr ---\n{self.stderr or ''}"
            f"\n--- stdout ---\n{self.output or ''}"
        )


def _run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    timeout: float = COMMAND_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        input=input,
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, list(argv), proc.stdout, proc.stderr)
    return proc


def _script(
    *args: str, env: Mapping[str, str], timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run hack/envtest.sh, letting its progress reach the terminal/log."""
    proc = subprocess.run(
        [str(ENVTEST_SH), *args],
        env=dict(env),
        text=True,
        stdout=subprocess.PIPE,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise CommandError(proc.returncode, [str(ENVTEST_SH), *args], proc.stdout, "see above")
    return proc


def pinned_versions() -> dict[str, str]:
    """The versions pinned in the repository: kubernetes, etcd (go.mod) and helm."""
    gomod = (REPO_ROOT / "hack" / "envtest" / "go.mod").read_text()
    found = {
        name: re.search(rf"^\s*{re.escape(module)} (v\S+)", gomod, re.MULTILINE)
        for name, module in (
            ("kubernetes", "k8s.io/kubernetes"),
            ("etcd", "go.etcd.io/etcd/server/v3"),
        )
    }
    helm = re.search(r'^HELM_VERSION="(v[^"]+)"', ENVTEST_SH.read_text(), re.MULTILINE)
    versions = {name: m.group(1) for name, m in found.items() if m}
    if helm:
        versions["helm"] = helm.group(1)
    if set(versions) != {"kubernetes", "etcd", "helm"}:
        raise RuntimeError(f"could not read the envtest pins, found only {versions}")
    return versions


def build_binaries() -> None:
    """Build (or reuse) the cached control-plane binaries.

    Called before any test runs so that a cold build (minutes) is not counted
    against a single test's timeout; a no-op when the cache is warm.
    """
    _script("build", env=os.environ, timeout=BUILD_TIMEOUT_S)


@dataclass(frozen=True)
class ControlPlane:
    """A running envtest control plane and the tools built with it."""

    state_dir: Path
    kubeconfig: Path
    server: str
    bin_dir: Path

    @property
    def pki_dir(self) -> Path:
        """CA, serving, admin-client and ServiceAccount signing key material."""
        return self.state_dir / "pki"

    @property
    def env(self) -> dict[str, str]:
        """The process environment with KUBECONFIG and the envtest tools on PATH."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        env["PATH"] = f"{self.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        # Keep kubectl's and helm's caches and config inside the state dir,
        # away from $HOME (each session has a new port, hence new cache keys).
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
        tool: str,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the envtest binaries (kubectl, helm, ...) against this plane."""
        return _run(
            [str(self.bin_dir / tool), *args],
            env=self.env,
            input=input,
            check=check,
            timeout=timeout,
        )

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as the cluster admin (system:masters)."""
        return self.run(
            "kubectl", f"--kubeconfig={self.kubeconfig}", *args, input=input, check=check
        )

    def kubectl_json(self, *args: str, input: str | None = None) -> Any:
        """Run kubectl with ``-o json`` and decode the result."""
        return json.loads(self.kubectl(*args, "-o", "json", input=input).stdout)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run helm with this plane's kubeconfig."""
        return self.run("helm", f"--kubeconfig={self.kubeconfig}", *args, check=check)

    def http(self) -> httpx.Client:
        """An HTTPS client for the API server, authenticated as the cluster admin.

        The caller closes it (use it as a context manager).
        """
        tls = self.tls_context()
        tls.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return httpx.Client(base_url=self.server, verify=tls, timeout=30.0)

    def tls_context(self) -> ssl.SSLContext:
        """A TLS context trusting only the envtest CA (no client certificate)."""
        return ssl.create_default_context(cafile=self.pki_dir / "ca.crt")


def _read_endpoints(state_dir: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (state_dir / "endpoints.env").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key] = value
    return values


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One real etcd + kube-apiserver for the whole session, always stopped after."""
    state_dir = tmp_path_factory.mktemp("envtest")
    env = {**os.environ, "CLEF_PRO_ENVTEST_DIR": str(state_dir)}
    build_binaries()
    try:
        # --watch-pid: should pytest be killed outright, the script's watcher
        # still stops etcd and kube-apiserver once this process is gone.
        _script("start", "--watch-pid", str(os.getpid()), env=env, timeout=START_TIMEOUT_S)
        endpoints = _read_endpoints(state_dir)
        yield ControlPlane(
            state_dir=state_dir,
            kubeconfig=state_dir / "kubeconfig",
            server=endpoints["SERVER"],
            bin_dir=Path(endpoints["BIN_DIR"]),
        )
    finally:
        _script("stop", env=env, timeout=120, check=False)


def _dns_label(text: str, limit: int) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return label[:limit].rstrip("-") or "t"


@pytest.fixture
def k8s_namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, named after it; deleted (best effort) afterwards.

    There is no kube-controller-manager, so this also does the ServiceAccount
    controller's job of creating the namespace's ``default`` ServiceAccount
    (Pods need it to pass ServiceAccount admission). Deleted namespaces stay
    ``Terminating`` forever since nothing finalizes them; names never repeat.
    """
    name = f"{_dns_label(request.node.name, 48)}-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("create", "namespace", name)
    control_plane.kubectl(
        "label",
        "namespace",
        name,
        "clef-pro.test/envtest=true",
        "app.kubernetes.io/managed-by=pytest",
    )
    control_plane.kubectl("create", "serviceaccount", "default", "--namespace", name)
    try:
        yield name
    finally:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)
