"""The contract's example bodies (the repository's own copies, under
``tests/fixtures/contract``; ``docs/contract.md`` is the contract they illustrate)
and builders for reports shaped like them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "tests" / "fixtures" / "contract"


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return loaded


def forbidden_examples() -> list[Path]:
    return sorted((EXAMPLES / "forbidden").glob("*.json"))


def spec_report(
    commit: str,
    *,
    timestamp: int,
    branch: str = "main",
    policy_results: list[dict[str, Any]] | None = None,
    namespaces: list[str] | None = None,
) -> dict[str, Any]:
    """The spec-form example report, re-keyed to ``commit`` and ``timestamp``."""
    body = copy.deepcopy(example("report-spec.json"))
    body["commitSha"] = commit
    body["commitTimestamp"] = timestamp
    body["branch"] = branch
    if policy_results is not None:
        body["policyResults"] = policy_results
    if namespaces is not None:
        body["summary"]["namespaces"] = namespaces
        body["summary"]["cells"] = [
            cell for cell in body["summary"]["cells"] if cell["namespace"] in namespaces
        ]
        body["drift"] = [d for d in body["drift"] if d["namespace"] in namespaces]
    return body


def failing(
    rule_id: str, scope: str | dict[str, str] | None, severity: str = "critical"
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleName": rule_id.replace("_", " ").capitalize(),
        "passed": False,
        "severity": severity,
        "message": f"{rule_id} fails",
    }
    if scope is not None:
        result["scope"] = scope
    return result


def passing(
    rule_id: str, scope: str | dict[str, str] | None, severity: str = "critical"
) -> dict[str, Any]:
    return {**failing(rule_id, scope, severity), "passed": True, "message": f"{rule_id} passes"}


def sha(label: str) -> str:
    """A 40-hex commit sha that reads like its label in test output (abc -> abc000...)."""
    digits = "".join(ch if ch in "0123456789abcdef" else format(ord(ch) % 16, "x") for ch in label)
    return (digits + "0" * 40)[:40]
