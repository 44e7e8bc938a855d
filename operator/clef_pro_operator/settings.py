"""The operator's settings: one pydantic-settings class, prefix ``CLEF_PRO_OPERATOR_``.

Loaded once in the ``@kopf.on.startup`` handler and handed to every handler
through Kopf's memo, never read from the environment anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEF_PRO_OPERATOR_", extra="ignore", frozen=True)

    #: Where the Clef Pro service answers (its in-cluster Service URL).
    service_url: str = "http://clef-pro:8000"
    #: A ServiceAccount token with the service's audience, as a projected
    #: volume mounts it; re-read on every call, so kubelet's rotation just works.
    service_token_file: Path | None = None
    #: Standalone mode: the service's admin token instead of a ServiceAccount token.
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None
    #: How often each Integration's status is refreshed from the service, and
    #: rotated-out keys past their grace period are revoked.
    status_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 30.0
    #: Liveness fails when the operator has not reached the Kubernetes API for this long.
    heartbeat_timeout_seconds: Annotated[float, Field(gt=0)] = 120.0
    heartbeat_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    #: Seconds to wait for the service before calling it unreachable.
    service_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0

    def service_credentials(self) -> str | None:
        for path in (self.service_token_file, self.admin_token_file):
            if path is not None and path.exists():
                return path.read_text().strip() or None
        return self.admin_token.get_secret_value() if self.admin_token else None
