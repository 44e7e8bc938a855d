"""The FastAPI application: wires settings, database, routes and error handling."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from clef_pro_api import dashboard, errors
from clef_pro_api.kubernetes import TokenReviewer
from clef_pro_api.limits import BodySizeLimit
from clef_pro_api.proxies import parse_networks
from clef_pro_api.routes import (
    admin,
    alerts,
    health,
    integrations,
    notifications,
    otlp,
    reports,
)
from clef_pro_api.routes.bodies import document_bodies
from clef_pro_api.services.delivery import start_checker, start_sender
from clef_pro_api.services.ratelimit import FailureLimiter
from clef_pro_api.settings import Settings
from clef_pro_api.storage.db import create_db_engine, read_session_factory, session_factory

BATCH_PATHS = ("/api/v1/reports/batch", "/admin/")
OTLP_LOGS_PATH = "/v1/logs"


class WeakAdminToken(ValueError):
    """The configured admin token is too easy to guess to guard the service."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    weakness = settings.admin_token_weakness()
    if weakness is not None:
        raise WeakAdminToken(weakness)
    engine = create_db_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)

    @asynccontextmanager
    async def lifespan(running: FastAPI) -> AsyncIterator[None]:
        # The outbox sender lives as long as the app: every replica delivers.
        sender = start_sender(settings, running.state.sessions)
        running.state.sender = sender
        # Acknowledgements that run out, silent integrations, Alertmanager refreshes.
        checker = start_checker(settings, running.state.sessions, sender)
        yield
        await checker.stop()
        if sender is not None:
            await sender.stop()
        engine.dispose()

    app = FastAPI(
        title="Clef Pro",
        summary="Reporting and alerting for Clef secrets governance",
        version="0.1.0",
        lifespan=lifespan,
        # Served by the dashboard from packaged assets, never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = read_session_factory(engine)
    app.state.auth_failures = FailureLimiter(
        settings.auth_failure_rate_per_second, settings.auth_failure_burst
    )
    app.state.trusted_proxies = parse_networks(settings.proxy_trusted_addresses)
    app.state.gauge_refresh = health.GaugeRefresh(settings.metrics_refresh_seconds)
    app.state.token_reviewer = (
        TokenReviewer(
            audience=settings.kubernetes_token_audience,
            kubeconfig=settings.kubeconfig,
            cache_seconds=settings.token_review_cache_seconds,
        )
        if settings.kubernetes_auth
        else None
    )

    def limit_for(path: str) -> int:
        if path.startswith(BATCH_PATHS):
            return settings.max_batch_bytes
        if path == OTLP_LOGS_PATH:
            return settings.max_otlp_bytes
        return settings.max_report_bytes

    app.add_middleware(BodySizeLimit, limit_for=limit_for)
    errors.install(app)
    for module in (reports, otlp, integrations, alerts, notifications, admin, health):
        app.include_router(module.router)
    document_bodies(app)
    # The dashboard: HTML pages for signed-in people (its own sign-in, sessions, CSRF).
    dashboard.install(app, settings)
    return app
