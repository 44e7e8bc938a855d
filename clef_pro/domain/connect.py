"""How each generation of the Clef CLI is pointed at Clef Pro: one wording for
the README, the dashboard, the demo and the operator's Integration status.

- Today's CLI (0.1.9 and later) pushes OpenTelemetry logs:
  ``CLEF_TELEMETRY_URL=<clef-pro>/v1/logs`` and
  ``CLEF_TELEMETRY_HEADERS=Authorization=Bearer <key>`` (comma-separated
  ``name=value`` pairs, the ``OTEL_EXPORTER_OTLP_HEADERS`` convention). The
  ``CLEF_TELEMETRY_TOKEN`` that Clef's documentation mentions is never read by
  the CLI.
- The CLI up to 0.1.5 calls the report API: ``cloud.integrationId`` in
  ``clef.yaml``, ``CLEF_API_URL=<clef-pro>`` and ``CLEF_API_TOKEN=<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

TELEMETRY_PATH: Final = "/v1/logs"
CHECKPOINT_PATH: Final = "/v1/checkpoint"
KEY_PLACEHOLDER: Final = "<API key>"


def telemetry_url(public_url: str) -> str:
    return f"{public_url.rstrip('/')}{TELEMETRY_PATH}"


def telemetry_headers(key: str = KEY_PLACEHOLDER) -> str:
    """The value of ``CLEF_TELEMETRY_HEADERS``."""
    return f"Authorization=Bearer {key}"


@dataclass(frozen=True, slots=True)
class Connection:
    """What a CI job needs to report to one integration, in both generations."""

    public_url: str
    integration_id: str
    #: The key itself where it may be shown (the demo, once); else a hint.
    key: str = KEY_PLACEHOLDER

    @property
    def telemetry_url(self) -> str:
        return telemetry_url(self.public_url)

    @property
    def telemetry_headers(self) -> str:
        return telemetry_headers(self.key)

    @property
    def api_url(self) -> str:
        return self.public_url.rstrip("/")

    def todays_cli(self) -> list[str]:
        """Environment of a CI job running ``clef report|lint|drift --push``."""
        return [
            f"CLEF_TELEMETRY_URL={self.telemetry_url}",
            f"CLEF_TELEMETRY_HEADERS={self.telemetry_headers}",
        ]

    def report_api_cli(self) -> list[str]:
        """``clef.yaml`` and environment of a CLI up to 0.1.5 (``clef report --push``)."""
        return [
            f"clef.yaml: cloud.integrationId: {self.integration_id}",
            f"CLEF_API_URL={self.api_url}",
            f"CLEF_API_TOKEN={self.key}",
        ]
