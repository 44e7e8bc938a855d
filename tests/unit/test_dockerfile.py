"""The Dockerfile's promises that can be read without building it.

The image is built and run by the cluster tests (tests/cluster, on a local
base given as the BASE_IMAGE build argument); this checks what the
Dockerfile itself says, without building it: pinned base images by default, a
build stage whose tools stay behind, a non-root user that matches the Helm
chart's security context, nothing secret copied in, and a build context that
is an allow-list. hadolint (a dev dependency whose wheel carries the binary)
lints it as well when it is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def parse(text: str) -> list[list[Instruction]]:
    """The Dockerfile's instructions, grouped by build stage (FROM starts one).

    An ARG before the first FROM (a build argument FROM lines may use) is
    resolved to its default in the FROM lines, as a plain `docker build` does.
    """
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    stages: list[list[Instruction]] = []
    defaults: dict[str, str] = {}
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instruction = Instruction(keyword.upper(), arguments.strip())
        if not stages and instruction.keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            defaults[name] = default
            continue
        if instruction.keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], instruction.arguments)
            instruction = Instruction("FROM", image)
            stages.append([])
        assert stages, f"{instruction.keyword} before the first FROM"
        stages[-1].append(instruction)
    return stages


STAGES = parse(DOCKERFILE.read_text())
FINAL = STAGES[-1]


def args_of(stage: list[Instruction], keyword: str) -> list[str]:
    return [i.arguments for i in stage if i.keyword == keyword]


def test_it_is_multi_stage_with_a_build_stage() -> None:
    assert len(STAGES) >= 2
    assert re.search(r"\bAS build$", STAGES[0][0].arguments, re.IGNORECASE)
    # The final stage takes only the built environment from the build stage.
    copies = args_of(FINAL, "COPY")
    assert copies == ["--from=build /opt/clef-pro /opt/clef-pro"]


def test_base_images_are_pinned_slim_python() -> None:
    for stage in STAGES:
        image = stage[0].arguments.split()[0]
        assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", image), (
            f"not pinned to an exact slim version: {image}"
        )
    # Build and runtime share the interpreter the virtual environment was made with.
    assert len({stage[0].arguments.split()[0] for stage in STAGES}) == 1
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", requires)
    assert minimum
    version = re.match(r"python:(\d+)\.(\d+)", STAGES[-1][0].arguments)
    assert version
    assert tuple(map(int, version.groups())) >= tuple(map(int, minimum.groups()))


def test_the_final_image_runs_as_the_charts_non_root_user() -> None:
    users = args_of(FINAL, "USER")
    assert users, "no USER in the final stage"
    user, _, group = users[-1].partition(":")
    assert user.isdigit()
    assert int(user) > 0
    values = yaml.safe_load((REPO / "charts" / "clef-pro" / "values.yaml").read_text())
    pod = values["podSecurityContext"]
    assert int(user) == pod["runAsUser"]
    assert not group or int(group) == pod["runAsGroup"]
    # USER comes after everything that needs root (RUN) in the final stage.
    keywords = [i.keyword for i in FINAL]
    last_user = max(n for n, k in enumerate(keywords) if k == "USER")
    assert "RUN" not in keywords[last_user:]


def test_the_final_image_has_no_build_tools() -> None:
    for run in args_of(FINAL, "RUN"):
        assert not re.search(r"\b(apt-get|apt|apk|pip|gcc|make|build-essential)\b", run), run


def test_entrypoint_is_the_one_command() -> None:
    (entrypoint,) = args_of(FINAL, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["clef-pro"]
    (cmd,) = args_of(FINAL, "CMD")
    assert json.loads(cmd)[0] == "serve"
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["clef-pro"] == "clef_pro.cli:main"
    exposed = {int(port) for line in args_of(FINAL, "EXPOSE") for port in line.split()}
    assert exposed == {8000, 8081}  # the service, and the operator's liveness endpoint


SECRET_LIKE = re.compile(
    r"(^|/)(\.env|.*\.pem|.*\.key|id_rsa.*|kubeconfig|\.kube|\.git|\.venv|secrets?)(/|$)",
    re.IGNORECASE,
)


def test_nothing_secret_is_copied_or_baked_in() -> None:
    for stage in STAGES:
        assert not args_of(stage, "ADD"), "use COPY; ADD fetches URLs and unpacks archives"
        for copy in args_of(stage, "COPY"):
            sources = [part for part in copy.split()[:-1] if not part.startswith("--")]
            assert sources, copy
            for source in sources:
                assert source not in (".", "./"), "copy named paths, not the whole context"
                assert not SECRET_LIKE.search(source), source
        for keyword in ("ARG", "ENV", "LABEL"):
            for line in args_of(stage, keyword):
                names = re.findall(r"([A-Za-z_][A-Za-z0-9_.]*)=", line) or [line.split()[0]]
                for name in names:
                    assert not re.search(r"PASSWORD|TOKEN|SECRET|DATABASE_URL", name.upper()), name


def test_the_build_context_is_an_allow_list_that_covers_every_copy() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "exclude everything, then allow what the build needs"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "clef_pro", "api", "operator"}
    for source in (
        part
        for copy in args_of(STAGES[0], "COPY")
        for part in copy.split()[:-1]
        if not part.startswith("--")
    ):
        assert source.rstrip("/") in allowed, f"{source} is not in the build context"
        assert (REPO / source).exists(), source


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' installs it)")
    proc = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
