"""Operator benchmark: time from ``kubectl apply`` to Ready, for one and for many Integrations.

Runs everything real on loopback: the test control plane (``hack/envtest.sh``),
a throwaway PostgreSQL, ``clef-pro serve`` and ``clef-pro operator``. It
reports the time until one Integration is Ready, then the time until N
Integrations applied at once are all Ready, and as a baseline the time the API
server alone takes to accept the same N objects (``kubectl apply`` returning),
so the ratio says what the operator adds on top of Kubernetes itself::

    python -m bench.operator [--integrations 200]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.envtest import ENVTEST_SH, build_binaries
from tests.support.operator import start_operator
from tests.support.postgres import Databases, start_postgres
from tests.support.server import start_server
from tests.support.service import ADMIN_TOKEN

REPO = Path(__file__).resolve().parents[1]


def _kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["kubectl", *args], env=env, input=stdin, text=True, capture_output=True, check=True
    ).stdout


def _integrations(count: int, prefix: str) -> str:
    return "\n---\n".join(
        json.dumps(
            {
                "apiVersion": "pro.clef.sh/v1alpha1",
                "kind": "Integration",
                "metadata": {"name": f"{prefix}-{index}"},
                "spec": {"displayName": f"Bench {index}", "policySelector": {}},
            }
        )
        for index in range(count)
    )


def _ready_count(env: dict[str, str], namespace: str, prefix: str) -> int:
    items = json.loads(_kubectl(env, "get", "integrations", "-n", namespace, "-o", "json"))["items"]
    return sum(
        1
        for item in items
        if item["metadata"]["name"].startswith(prefix)
        and any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in item.get("status", {}).get("conditions", [])
        )
    )


def _wait_ready(
    env: dict[str, str], namespace: str, prefix: str, count: int, limit: float
) -> float:
    started = time.monotonic()
    while _ready_count(env, namespace, prefix) < count:
        if time.monotonic() - started > limit:
            raise TimeoutError(f"{prefix}: not all {count} Ready after {limit}s")
        time.sleep(0.2)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--integrations", type=int, default=200)
    args = parser.parse_args()

    build_binaries()
    work = Path(tempfile.mkdtemp(prefix="clef-pro-bench-operator-"))
    plane_env = {**os.environ, "CLEF_PRO_ENVTEST_DIR": str(work / "envtest")}
    subprocess.run(
        [str(ENVTEST_SH), "start", "--watch-pid", str(os.getpid())], env=plane_env, check=True
    )
    endpoints = dict(
        line.split("=", 1)
        for line in (work / "envtest" / "endpoints.env").read_text().splitlines()
        if "=" in line
    )
    kube_env = {
        **os.environ,
        "KUBECONFIG": str(work / "envtest" / "kubeconfig"),
        "PATH": f"{endpoints['BIN_DIR']}:{os.environ['PATH']}",
    }
    postgres = start_postgres()
    try:
        database = Databases(postgres).create()
        server = start_server(
            {
                "CLEF_PRO_DATABASE_URL": postgres.url(database),
                "CLEF_PRO_ADMIN_TOKEN": ADMIN_TOKEN,
                "CLEF_PRO_LOG_LEVEL": "warning",
                "CLEF_PRO_AUTO_MIGRATE": "false",
            },
            work / "server.log",
        )
        _kubectl(kube_env, "apply", "--server-side", "-f", str(REPO / "crds"))
        _kubectl(kube_env, "wait", "--for=condition=Established", "-f", str(REPO / "crds"))
        _kubectl(kube_env, "create", "namespace", "bench")
        _kubectl(kube_env, "create", "namespace", "baseline")
        _kubectl(
            kube_env, "apply", "-n", "bench", "-f", str(REPO / "docs" / "examples" / "policy.yaml")
        )
        operator = start_operator(
            {
                "KUBECONFIG": kube_env["KUBECONFIG"],
                "CLEF_PRO_OPERATOR_SERVICE_URL": server.url,
                "CLEF_PRO_OPERATOR_ADMIN_TOKEN": ADMIN_TOKEN,
                "CLEF_PRO_OPERATOR_STATUS_INTERVAL_SECONDS": "60",
            },
            work / "operator.log",
            "bench",
        )
        try:
            started = time.monotonic()
            _kubectl(kube_env, "apply", "-n", "bench", "-f", "-", stdin=_integrations(1, "single"))
            _wait_ready(kube_env, "bench", "single", 1, 60)
            single = time.monotonic() - started

            started = time.monotonic()
            _kubectl(
                kube_env,
                "apply",
                "-n",
                "baseline",
                "-f",
                "-",
                stdin=_integrations(args.integrations, "many"),
            )
            baseline = time.monotonic() - started

            started = time.monotonic()
            _kubectl(
                kube_env,
                "apply",
                "-n",
                "bench",
                "-f",
                "-",
                stdin=_integrations(args.integrations, "many"),
            )
            _wait_ready(kube_env, "bench", "many", args.integrations, 600)
            many_total = time.monotonic() - started
        finally:
            operator.stop()
            server.stop()
    finally:
        postgres.stop()
        subprocess.run([str(ENVTEST_SH), "stop", "--clean"], env=plane_env, check=False)
        shutil.rmtree(postgres.root, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    print(f"one Integration: apply -> Ready          {single:8.2f} s")
    print(f"{args.integrations} Integrations: API server accepts  {baseline:8.2f} s (baseline)")
    print(f"{args.integrations} Integrations: apply -> all Ready  {many_total:8.2f} s")
    print(f"ratio (all Ready / accepted)             {many_total / baseline:8.1f} x")
    print(
        f"per Integration                          {many_total / args.integrations * 1000:8.1f} ms"
    )


if __name__ == "__main__":
    main()
