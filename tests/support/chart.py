"""The Helm chart (charts/clef-pro) rendered with the real ``helm`` binary.

Why: the chart's promises (least-privilege RBAC, security contexts, no secret
in plain values, CRDs identical to crds/) are properties of what Helm renders,
so the tests read Helm's output, not the templates. ``helm`` is the one
``hack/envtest.sh`` builds from its pinned version, next to kube-apiserver.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.envtest import ENVTEST_SH, REPO_ROOT, CommandError

__all__ = [
    "ALL_VALUES",
    "CHART",
    "Manifests",
    "helm_binary",
    "pod_specs",
    "render",
    "rules_of",
]

CHART = REPO_ROOT / "charts" / "clef-pro"
#: A values file with every option of the chart turned on.
ALL_VALUES = REPO_ROOT / "tests" / "chart" / "values-all.yaml"


def helm_binary() -> Path:
    """The helm that ``hack/envtest.sh build`` built (it must have run)."""
    proc = subprocess.run(
        [str(ENVTEST_SH), "bin-dir"], capture_output=True, text=True, timeout=60, check=False
    )
    if proc.returncode != 0:
        raise CommandError(proc.returncode, [str(ENVTEST_SH), "bin-dir"], proc.stdout, proc.stderr)
    return Path(proc.stdout.strip()) / "helm"


@dataclass(frozen=True)
class Manifests:
    """The documents of one ``helm template`` run."""

    documents: list[dict[str, Any]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.documents)

    def kinds(self) -> list[str]:
        return sorted(doc["kind"] for doc in self.documents)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc["kind"] == kind]

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = [
            doc
            for doc in self.of_kind(kind)
            if doc["metadata"]["name"] == name
            and (namespace is None or doc["metadata"].get("namespace") == namespace)
        ]
        assert len(found) == 1, f"{kind} {name} rendered {len(found)} times"
        return found[0]

    def maybe(self, kind: str, name: str) -> dict[str, Any] | None:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        return found[0] if found else None


def render(
    helm: Path,
    *args: str,
    values: Mapping[str, Any] | None = None,
    release: str = "clef-pro",
    namespace: str = "clef-system",
    tmp: Path | None = None,
    check: bool = True,
) -> Manifests:
    """``helm template`` the chart; ``values`` are passed as a values file.

    Raises :class:`CommandError` when Helm refuses (schema, ``fail``, ...).
    """
    argv = [str(helm), "template", release, str(CHART), "--namespace", namespace, *args]
    if values is not None:
        assert tmp is not None, "values need a tmp directory"
        path = tmp / f"values-{len(list(tmp.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(dict(values)))
        argv += ["--values", str(path)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise CommandError(proc.returncode, argv, proc.stdout, proc.stderr)
    documents = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    return Manifests(documents)


def pod_specs(manifests: Manifests) -> list[tuple[str, dict[str, Any]]]:
    """(name, pod spec) of every workload that runs pods."""
    return [
        (doc["metadata"]["name"], doc["spec"]["template"]["spec"])
        for doc in manifests
        if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


Rule = tuple[str, str, tuple[str, ...]]


def rules_of(role: Mapping[str, Any]) -> set[Rule]:
    """A Role's rules as (apiGroup, resource, sorted verbs), one per resource."""
    found: set[Rule] = set()
    for rule in role.get("rules") or []:
        assert not rule.get("resourceNames"), rule
        assert not rule.get("nonResourceURLs"), rule
        groups: Sequence[str] = rule["apiGroups"]
        for group in groups:
            for resource in rule["resources"]:
                found.add((group, resource, tuple(sorted(rule["verbs"]))))
    return found
