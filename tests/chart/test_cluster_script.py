"""hack/cluster.sh, the tests' own one-node cluster, read without running it.

Running it needs root and minutes (tests/cluster does); what can be checked
cheaply is that the scripts are shellcheck-clean, that the node components
are built at exactly the Kubernetes release and staging pins of the control
plane, and that `install` is the kind walkthrough's own install step.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.envtest import REPO_ROOT

SCRIPT = REPO_ROOT / "hack" / "cluster.sh"
TEXT = SCRIPT.read_text()
SHELL_SCRIPTS = [SCRIPT, REPO_ROOT / "hack" / "cluster" / "images" / "postgres-entrypoint.sh"]


def requirements(gomod: Path) -> dict[str, str]:
    """Module versions required or replaced by a go.mod, by module path."""
    text = gomod.read_text()
    pinned = dict(re.findall(r"^\s*(k8s\.io/kubernetes) (v\S+)", text, re.MULTILINE))
    pinned.update(re.findall(r"^\s*(k8s\.io/\S+) => k8s\.io/\S+ (v\S+)", text, re.MULTILINE))
    return pinned


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_it_is_shellcheck_clean(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (hack/test.sh installs it)")
    proc = subprocess.run(
        [shellcheck, "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_it_is_strict_and_executable(script: Path) -> None:
    text = script.read_text()
    assert text.startswith(("#!/usr/bin/env bash\n", "#!/bin/bash\n"))
    assert "\nset -euo pipefail\n" in text
    assert script.stat().st_mode & 0o111


def test_the_node_is_built_at_the_control_planes_pins() -> None:
    node = requirements(REPO_ROOT / "hack" / "cluster" / "go.mod")
    plane = requirements(REPO_ROOT / "hack" / "envtest" / "go.mod")
    assert node["k8s.io/kubernetes"] == plane["k8s.io/kubernetes"]
    assert node == plane


def test_install_is_the_kind_walkthroughs_install_step() -> None:
    assert re.search(r'"\$\{SCRIPT_DIR\}/kind\.sh" install', TEXT)
    kind = (REPO_ROOT / "hack" / "kind.sh").read_text()
    assert re.search(r"^up\(\) \{(?:.*\n)*?  install\n\}", kind, re.MULTILINE), (
        "kind.sh up must end with the same install step"
    )


def test_the_postgres_image_swap_touches_only_the_image_line() -> None:
    manifest = (REPO_ROOT / "hack" / "kind" / "postgres.yaml").read_text()
    images = re.findall(r"^( *image:) postgres:.*$", manifest, re.MULTILINE)
    assert len(images) == 1
