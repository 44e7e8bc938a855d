"""hack/kind.sh, the path from an empty kind cluster to a first report.

It needs Docker and kind, which the test machines do not have, so it cannot
run here. What can be checked is that it is shellcheck-clean, that every file
it uses exists, that the chart accepts exactly the values it sets, and that
the names it prints (Secrets, Integration id) are the ones the chart and the
operator create.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.chart import render
from tests.support.envtest import REPO_ROOT

SCRIPT = REPO_ROOT / "hack" / "kind.sh"
TEXT = SCRIPT.read_text()
VARIABLES = dict(re.findall(r"^([A-Z_]+)=([\w.-]+)", TEXT, re.MULTILINE))


def expand(text: str) -> str:
    """The script's ${VAR} references, with its defaults."""
    defaults = {"TAG": "dev", **VARIABLES}
    return re.sub(r"\$\{(\w+)\}", lambda m: defaults.get(m.group(1), m.group(0)), text)


def test_it_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (hack/test.sh installs it)")
    proc = subprocess.run(
        [shellcheck, "--severity=style", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_it_is_strict_and_executable() -> None:
    assert TEXT.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in TEXT
    assert SCRIPT.stat().st_mode & 0o111


def test_every_file_it_uses_exists() -> None:
    for path in re.findall(r"(?<![^\s@\"'=])((?:hack|docs|charts|api)/[\w./-]+)", TEXT):
        assert (REPO_ROOT / path.rstrip("/.")).exists(), path


def test_the_development_postgres_matches_the_secrets_it_creates() -> None:
    docs = list(yaml.safe_load_all((REPO_ROOT / "hack" / "kind" / "postgres.yaml").read_text()))
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert kinds == {
        ("PersistentVolumeClaim", "postgres"),
        ("Deployment", "postgres"),
        ("Service", "postgres"),
    }
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    ref = env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert f"create secret generic {ref['name']}" in TEXT
    assert f"--from-literal={ref['key']}=" in TEXT
    url = re.search(r"--from-literal=url=\"([^\"]+)\"", TEXT)
    assert url
    assert expand(url.group(1)) == (
        f"postgresql+psycopg://{env['POSTGRES_USER']['value']}:${{password}}"
        f"@postgres.{VARIABLES['NAMESPACE']}.svc:5432/{env['POSTGRES_DB']['value']}"
    )


@pytest.mark.helm
def test_the_chart_takes_the_values_it_sets(helm: Path) -> None:
    settings = [expand(s.replace('"', "")) for s in re.findall(r"--set (\S+)", TEXT)]
    assert settings, "no --set in hack/kind.sh"
    args = [arg for setting in settings for arg in ("--set", setting)]
    release, namespace = VARIABLES["RELEASE"], VARIABLES["NAMESPACE"]
    manifests = render(helm, *args, release=release, namespace=namespace)
    team = VARIABLES["TEAM_NAMESPACE"]
    for _, spec in (
        (d["metadata"]["name"], d["spec"]["template"]["spec"])
        for d in manifests
        if d["kind"] in ("Deployment", "Job")
    ):
        (container,) = spec["containers"]
        assert container["image"] == "clef-pro:dev"
        assert container["imagePullPolicy"] == "Never"
    operator = manifests.get("Deployment", f"{release}-operator")
    args_run = operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args_run[:3] == ["operator", "--namespace", team]
    # The names the script prints are those the chart and the operator create.
    manifests.get("Secret", f"{release}-admin-token")
    manifests.get("Service", release)
    assert "svc/${RELEASE} 8000:8000" in TEXT
    integration = yaml.safe_load((REPO_ROOT / "docs" / "examples" / "integration.yaml").read_text())
    name = integration["metadata"]["name"]
    assert f"integration/{name}" in TEXT
    assert f"secret {name}-clef-pro" in TEXT
    assert f"${{TEAM_NAMESPACE}}.{name}/matrix" in TEXT  # the default integration id
