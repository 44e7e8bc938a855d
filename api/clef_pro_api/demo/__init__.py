"""A demo integration, so a first run gets somewhere in a minute.

``clef-pro serve --demo`` creates (or refreshes) the integration ``demo`` with
example policies and a fresh API key, and prints what to paste next. Only the
key's hash is stored; the key itself is shown once, on the console.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import as_file, files
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from clef_pro.domain import apikeys
from clef_pro.domain.config import ApiKeyHash, Collection, IntegrationConfig, PolicyRule
from clef_pro.domain.severity import Severity
from clef_pro_api.services import integrations
from clef_pro_api.storage.db import transaction

DEMO_INTEGRATION_ID = "demo"


@dataclass(frozen=True, slots=True)
class Demo:
    integration_id: str
    api_key: str
    example_report: Path
    #: What ``clef report --push`` of today's CLI sends (no time: it takes the server's).
    example_push: Path


def demo_config(api_key: str) -> IntegrationConfig:
    return IntegrationConfig(
        display_name="Demo integration",
        repository="acme/payments",
        collection=Collection(ci_context=True),
        api_keys=[ApiKeyHash(name="demo", sha256=apikeys.sha256_hex(api_key))],
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


def create_demo(sessions: sessionmaker[Session]) -> Demo:
    api_key = apikeys.generate_api_key()
    with transaction(sessions) as session:
        integrations.upsert(session, DEMO_INTEGRATION_ID, demo_config(api_key))
    folder = files(__package__)
    with (
        as_file(folder / "example-report.json") as report,
        as_file(folder / "example-otlp-push.json") as push,
    ):
        return Demo(DEMO_INTEGRATION_ID, api_key, report, push)
