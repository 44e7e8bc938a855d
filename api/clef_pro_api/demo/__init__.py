"""A demo integration, so a first run gets somewhere in a minute.

``clef-pro serve --demo`` creates (or refreshes) the integration ``demo`` with
example policies and an API key, and prints what to paste next. The service
stores only the key's hash; the key itself is kept in the data directory
(``demo-api-key``, readable by its owner only, like the admin token beside
it), so running the demo again prints the same key and every script that
already uses it keeps working. Keys added to ``demo`` with ``clef-pro keys``
are kept too.

The example report is written afresh on every run, dated now and with a
commit of its own, so the dashboard shows it as just made.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from clef_pro.domain import apikeys
from clef_pro.domain.config import ApiKeyHash, Collection, IntegrationConfig, PolicyRule
from clef_pro.domain.severity import Severity
from clef_pro_api.services import integrations
from clef_pro_api.storage import models
from clef_pro_api.storage.db import transaction

DEMO_INTEGRATION_ID = "demo"
DEMO_KEY_NAME = "demo"
KEY_FILE = "demo-api-key"
REPORT_FILE = "demo-report.json"
PUSH_FILE = "demo-otlp-push.json"


@dataclass(frozen=True, slots=True)
class Demo:
    integration_id: str
    api_key: str
    #: Whether ``api_key`` is the one an earlier run printed (else it is new).
    key_kept: bool
    key_file: Path
    example_report: Path
    #: What ``clef report --push`` of today's CLI sends (no time: it takes the server's).
    example_push: Path


def demo_config(api_key: str, other_keys: list[ApiKeyHash] | None = None) -> IntegrationConfig:
    return IntegrationConfig(
        display_name="Demo integration",
        repository="acme/payments",
        collection=Collection(ci_context=True),
        api_keys=[
            ApiKeyHash(name=DEMO_KEY_NAME, sha256=apikeys.sha256_hex(api_key)),
            *(other_keys or []),
        ],
        policies=[
            PolicyRule(
                rule_id="missing_keys",
                rule_name="Missing encryption keys",
                type="missingKeys",
                severity=Severity.CRITICAL,
            ),
            PolicyRule(
                rule_id="rotation_max_age",
                rule_name="Key rotation max age",
                type="rotationMaxAge",
                severity=Severity.WARNING,
                params={"maxAgeDays": 90},
            ),
        ],
    )


def example_report(now_ms: int | None = None) -> dict[str, Any]:
    """The packaged example report, as a commit made ``now_ms`` (default: now)."""
    body: dict[str, Any] = json.loads(
        (files(__package__) / "example-report.json").read_text(encoding="utf-8")
    )
    body["commitTimestamp"] = int(time.time() * 1000) if now_ms is None else now_ms
    body["commitSha"] = secrets.token_hex(20)
    return body


def _read_key(path: Path) -> str | None:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return None
    return key if apikeys.is_well_formed(key) else None


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    partial.replace(path)


def create_demo(sessions: sessionmaker[Session], data_dir: Path) -> Demo:
    key_file = data_dir / KEY_FILE
    previous = _read_key(key_file)
    with transaction(sessions) as session:
        existing = session.get(models.Integration, DEMO_INTEGRATION_ID)
        current = (
            IntegrationConfig.model_validate(existing.config)
            if existing is not None and existing.deleted_at is None
            else None
        )
        current_keys = current.api_keys if current is not None else []
        kept = previous is not None and any(
            key.name == DEMO_KEY_NAME and key.sha256 == apikeys.sha256_hex(previous)
            for key in current_keys
        )
        api_key = previous if kept and previous is not None else apikeys.generate_api_key()
        others = [key for key in current_keys if key.name != DEMO_KEY_NAME]
        integrations.upsert(session, DEMO_INTEGRATION_ID, demo_config(api_key, others))
        if not kept:
            # Written before the commit: a key the database accepts is never lost.
            _write_private(key_file, api_key + "\n")
    report_path = data_dir / REPORT_FILE
    report_path.write_text(json.dumps(example_report(), indent=2) + "\n", encoding="utf-8")
    push_path = data_dir / PUSH_FILE
    push_path.write_text(
        (files(__package__) / "example-otlp-push.json").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    return Demo(DEMO_INTEGRATION_ID, api_key, kept, key_file, report_path, push_path)
