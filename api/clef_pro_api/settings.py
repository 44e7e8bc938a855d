"""The service's settings: one pydantic-settings class, environment prefix ``CLEF_PRO_``.

Every knob of the service is declared here and nowhere else; the Helm chart and
the README document these names.
"""

from __future__ import annotations

import ipaddress
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal, Self

import platformdirs
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from clef_pro.domain.destinations import IPNetwork, parse_networks

#: The least a user-set admin token must have (random tokens have far more).
ADMIN_TOKEN_MIN_LENGTH = 24
ADMIN_TOKEN_MIN_DISTINCT = 10


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("clef-pro", appauthor=False))


def _secret_value(path: Path | None, value: SecretStr | None) -> str | None:
    """A secret from its file (files win: Kubernetes mounts Secrets as files), else
    from its variable. Read on every use, so a rotated Secret takes effect
    without a restart."""
    if path is not None:
        return path.read_text().strip() or None
    return value.get_secret_value() if value else None


class Settings(BaseSettings):
    # Errors never repeat the input: it holds passwords (SMTP) and tokens.
    model_config = SettingsConfigDict(
        env_prefix="CLEF_PRO_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    #: ``postgresql+psycopg://...`` for production; absent means an embedded
    #: SQLite file in ``data_dir``.
    database_url: str | None = None
    data_dir: Path = Field(default_factory=_default_data_dir)
    #: Connections each replica keeps to Postgres (the pool's size).
    database_pool_size: Annotated[int, Field(ge=1, le=200)] = 10

    #: Bearer token of the config and read APIs in standalone mode. Prefer
    #: ``admin_token_file`` (a mounted Secret) to an environment variable. A
    #: weak one (shorter than 24 characters, or fewer than 10 different
    #: characters) is refused at start-up: generate one with
    #: ``openssl rand -base64 32``.
    admin_token: SecretStr | None = None
    admin_token_file: Path | None = None
    #: Where people find the admin token, shown on the dashboard's sign-in page
    #: (the Helm chart sets the ``kubectl`` command that reads its Secret). Unset:
    #: the page names the file or variable the token is read from.
    admin_token_hint: Annotated[str, Field(max_length=500)] | None = None

    #: Largest request body of ``POST /api/v1/reports`` (bytes).
    max_report_bytes: Annotated[int, Field(ge=1024)] = 1 * 1024 * 1024
    #: Largest request body of ``POST /api/v1/reports/batch`` and the config API.
    max_batch_bytes: Annotated[int, Field(ge=1024)] = 32 * 1024 * 1024
    #: How far ahead of the server's clock a commit timestamp may be (hours);
    #: past it a report is refused, so a forged timestamp cannot hold the HEAD.
    max_commit_future_hours: Annotated[float, Field(gt=0, le=24 * 365)] = 24.0

    #: Failed authentication attempts a client address may make at once, per
    #: kind of credential (dashboard sign-in, admin token, API key); past it
    #: every attempt of that kind gets ``429`` with ``Retry-After``.
    auth_failure_burst: Annotated[int, Field(ge=1, le=10_000)] = 10
    #: Failed attempts per second a client regains (0.1: one every 10 s);
    #: ``0`` turns the limit off.
    auth_failure_rate_per_second: Annotated[float, Field(ge=0)] = 0.1

    #: Bearer token Prometheus must present at ``/metrics``; a file (a mounted
    #: Secret) wins. Unset: ``/metrics`` answers anyone who can reach it.
    metrics_token: SecretStr | None = None
    metrics_token_file: Path | None = None
    #: Seconds the gauges read from the database (the outbox backlog) are
    #: reused between scrapes: a scrape alone never queries the database.
    metrics_refresh_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0

    # --------------------------------------------------------------------- OTLP
    # ``POST /v1/logs`` and ``GET /v1/checkpoint`` (README: "Point your Clef CLI").
    #: Largest OTLP request body, after gzip decompression (bytes).
    max_otlp_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    #: Sustained OTLP pushes per second per integration, in each replica; past
    #: it (and the burst) a push gets ``429`` with ``Retry-After``. ``0``: no limit.
    otlp_rate_per_second: Annotated[float, Field(ge=0)] = 20.0
    #: Pushes an integration may make at once above the sustained rate (a
    #: backfill of many commits pushes one request per commit, back to back).
    otlp_burst: Annotated[int, Field(ge=1)] = 200
    # ----------------------------------------------------------------- end OTLP

    #: Where people reach the dashboard; used in links that leave the service.
    public_url: str = "http://127.0.0.1:8000"
    #: Apply migrations at start-up. Turn off where a migration job owns them
    #: (the Helm chart does); the service then refuses to start on an old schema.
    auto_migrate: bool = True
    log_level: str = "info"

    # ------------------------------------------------------------ notifications
    # The outbox sender, email through SMTP and webhooks (README: "Notifications").
    #: SMTP server of outgoing mail. Unset: email notifications stay queued, unsent.
    smtp_host: str | None = None
    #: Default: 465 with ``smtp_tls``, else 587 when STARTTLS is required, else 25.
    smtp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    #: The From address; its domain also names every Message-ID.
    smtp_from: str = "clef-pro@localhost"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: A file holding the SMTP password (a mounted Secret); wins over
    #: ``smtp_password`` and is re-read on every new connection.
    smtp_password_file: Path | None = None
    #: STARTTLS: true requires it, false never uses it, unset uses it when offered.
    smtp_starttls: bool | None = None
    #: Implicit TLS from the first byte (SMTPS, usually port 465).
    smtp_tls: bool = False
    smtp_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    #: Allow ``http://`` URLs for webhook, Slack, Teams and PagerDuty channels
    #: (tests and local receivers only; Alertmanager may always use http).
    webhook_allow_http: bool = False
    #: Per request of every HTTP backend (webhook, Slack, Teams, PagerDuty, Alertmanager).
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 10.0
    #: Internal ranges (CIDRs, comma-separated) that HTTP channels may reach.
    #: Empty: every loopback, private, link-local, unique-local, CGNAT,
    #: multicast and reserved destination is refused (cloud metadata services
    #: and the Kubernetes API server always are).
    notify_allowed_networks: Annotated[tuple[str, ...], NoDecode] = ()
    #: Run the outbox sender in this replica (every replica may; they never
    #: send the same message twice at once).
    notify_sender: bool = True
    #: How often an idle sender looks for due messages (it is also woken at once
    #: by reports that queue messages in its own replica).
    notify_poll_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    #: How often a replica looks for what time alone changes: acknowledgements
    #: that ran out, integrations gone silent, Alertmanager alerts to push again.
    notify_check_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    #: Messages claimed per round, and delivered concurrently, by one replica.
    notify_batch_size: Annotated[int, Field(ge=1, le=1000)] = 20
    #: Attempts before a message is marked dead (kept and shown, never deleted).
    notify_max_attempts: Annotated[int, Field(ge=1, le=1000)] = 15
    #: Retry n waits a random time up to min(max, base * 2^(n-1)) (full jitter).
    notify_retry_base_seconds: Annotated[float, Field(gt=0)] = 30.0
    notify_retry_max_seconds: Annotated[float, Field(gt=0)] = 3600.0
    #: How long a claim lasts: a replica that dies mid-send leaves its claimed
    #: messages to the others after this long. Longer than any send may take.
    notify_lease_seconds: Annotated[float, Field(gt=0)] = 120.0

    @model_validator(mode="after")
    def _notification_settings_agree(self) -> Self:
        if self.smtp_tls and self.smtp_starttls:
            raise ValueError("CLEF_PRO_SMTP_TLS and CLEF_PRO_SMTP_STARTTLS exclude each other")
        if self.notify_retry_max_seconds < self.notify_retry_base_seconds:
            raise ValueError("CLEF_PRO_NOTIFY_RETRY_MAX_SECONDS must be >= the base")
        slowest = max(self.smtp_timeout_seconds, self.webhook_timeout_seconds)
        if self.notify_lease_seconds <= slowest:
            raise ValueError(
                "CLEF_PRO_NOTIFY_LEASE_SECONDS must be longer than the SMTP and webhook timeouts"
            )
        if "@" not in parseaddr(self.smtp_from)[1] or any(c in self.smtp_from for c in "\r\n"):
            raise ValueError("CLEF_PRO_SMTP_FROM must be an email address")
        return self

    @property
    def smtp_port_value(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        if self.smtp_tls:
            return 465
        return 587 if self.smtp_starttls else 25

    @property
    def smtp_password_value(self) -> str | None:
        return _secret_value(self.smtp_password_file, self.smtp_password)

    # -------------------------------------------------------- end notifications

    # ------------------------------------------------------- kubernetes auth
    #: Accept Kubernetes ServiceAccount tokens, verified with a TokenReview.
    kubernetes_auth: bool = False
    #: The audience tokens must carry (a projected token's ``audience``), so a
    #: token minted for another service is never accepted here.
    kubernetes_token_audience: str = "clef-pro"  # noqa: S105 - an audience, not a secret
    #: The operator's ServiceAccount as ``namespace:name``: its tokens may use
    #: the config API, like the admin token does in standalone mode.
    operator_service_account: Annotated[str, Field(pattern=r"^[a-z0-9-.]+:[a-z0-9-.]+$")] | None = (
        None
    )
    #: kubeconfig for the service's own calls to the API server; unset means
    #: the in-cluster ServiceAccount (or ``KUBECONFIG``).
    kubeconfig: Path | None = None
    #: Seconds a TokenReview verdict is reused before asking the API server again.
    token_review_cache_seconds: Annotated[float, Field(ge=0, le=600)] = 30.0
    # --------------------------------------------------- end kubernetes auth

    # ---------------------------------------------------------------- dashboard
    # Who may sign in to the dashboard, and how (README: "The dashboard").
    #: ``admin-token``: paste the admin token; ``proxy``: trust the user and group
    #: headers of an authentication proxy (oauth2-proxy style) at
    #: ``proxy_trusted_addresses``; ``kubernetes``: sign in with a Kubernetes
    #: token (TokenReview), access per Integration by RBAC (SubjectAccessReview).
    dashboard_auth: Literal["admin-token", "proxy", "kubernetes"] = "admin-token"
    #: Key that signs session cookies; a file (a mounted Secret) wins. Unset: a
    #: key derived from the admin token (the embedded default keeps one of its
    #: own in the data dir); with neither, a random key per process (sessions
    #: then end at every restart and do not cross replicas).
    session_secret: SecretStr | None = None
    session_secret_file: Path | None = None
    #: How long a dashboard sign-in lasts.
    session_lifetime_seconds: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 8 * 3600
    #: Headers the authentication proxy sets (``proxy`` mode only).
    proxy_user_header: str = "X-Forwarded-User"
    proxy_groups_header: str = "X-Forwarded-Groups"
    #: Addresses or CIDRs of the proxy, comma-separated. Identity headers from
    #: any other peer are ignored, so nobody else can claim to be a user.
    proxy_trusted_addresses: Annotated[tuple[str, ...], NoDecode] = ()
    #: Seconds a SubjectAccessReview verdict is reused (``kubernetes`` mode).
    access_review_cache_seconds: Annotated[float, Field(ge=0, le=600)] = 10.0

    @field_validator("notify_allowed_networks", "proxy_trusted_addresses", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            # Refuse a typo at start-up rather than trusting nobody (or everybody).
            return tuple(str(ipaddress.ip_network(str(part), strict=False)) for part in value)
        return value

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.notify_allowed_networks)

    @property
    def session_secret_value(self) -> str | None:
        return _secret_value(self.session_secret_file, self.session_secret)

    # ------------------------------------------------------------ end dashboard

    @field_validator("database_url")
    @classmethod
    def _postgres_or_sqlite(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql+psycopg://", "sqlite:")):
            raise ValueError(
                "CLEF_PRO_DATABASE_URL must be a postgresql+psycopg:// URL "
                "(or unset for the embedded SQLite database)"
            )
        return value

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite:")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'clef-pro.db'}"

    @property
    def admin_token_value(self) -> str | None:
        return _secret_value(self.admin_token_file, self.admin_token)

    @property
    def metrics_token_value(self) -> str | None:
        return _secret_value(self.metrics_token_file, self.metrics_token)

    def admin_token_weakness(self) -> str | None:
        """Why the configured admin token is too weak to guard the service
        (naming the setting it came from, never the token), or ``None``."""
        token = self.admin_token_value
        if token is None:
            return None
        setting = (
            "CLEF_PRO_ADMIN_TOKEN_FILE"
            if self.admin_token_file is not None
            else "CLEF_PRO_ADMIN_TOKEN"
        )
        if len(token) < ADMIN_TOKEN_MIN_LENGTH or len(set(token)) < ADMIN_TOKEN_MIN_DISTINCT:
            return (
                f"the admin token of {setting} is too weak: it needs at least "
                f"{ADMIN_TOKEN_MIN_LENGTH} characters, {ADMIN_TOKEN_MIN_DISTINCT} of them "
                "different (generate one with: openssl rand -base64 32)"
            )
        return None
