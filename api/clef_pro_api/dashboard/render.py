"""Rendering pages: the Jinja2 environment, its filters, and the response headers
every dashboard page carries."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse

from clef_pro_api.dashboard import present


def content_security_policy(*, style_src: str = "'self'", worker_src: str | None = None) -> str:
    """Our own script and styles only: no inline code, nothing from elsewhere.
    The API documentation pages loosen ``style_src`` (and ReDoc ``worker_src``)."""
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src {style_src}",
        "img-src 'self' data:",
        "connect-src 'self'",
        *([f"worker-src {worker_src}"] if worker_src else []),
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
    return "; ".join(directives)


SECURITY_HEADERS: Final[Mapping[str, str]] = {
    "Content-Security-Policy": content_security_policy(),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show who may see what: never kept by shared caches or the back button.
    "Cache-Control": "no-store",
}

STATIC_FILES: Final = ("dashboard.css", "dashboard.js", "apidocs.js", "apidocs.css", "favicon.svg")


@cache
def static_versions() -> dict[str, str]:
    """A content hash per static file, appended to its URL so a new release is
    never served from a browser's stale cache."""
    folder = resources.files("clef_pro_api.dashboard") / "static"
    return {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()[:12] for name in STATIC_FILES
    }


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_versions()[name]}"


def integration_url(integration_id: str, **params: str | None) -> str:
    url = f"/integrations/{quote(integration_id, safe='')}"
    return _with_query(url, params)


def alerts_url(integration_id: str, **params: str | None) -> str:
    return _with_query(f"{integration_url(integration_id)}/alerts", params)


def alert_url(integration_id: str, alert_id: str) -> str:
    return f"{integration_url(integration_id)}/alerts/{quote(alert_id, safe='')}"


def _with_query(url: str, params: Mapping[str, str | None]) -> str:
    kept = {key: value for key, value in params.items() if value}
    return f"{url}?{urlencode(kept)}" if kept else url


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("clef_pro_api.dashboard", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        static_url=static_url,
        integration_url=integration_url,
        alerts_url=alerts_url,
        alert_url=alert_url,
        health_badge=present.health_badge,
        severity_badge=present.severity_badge,
        result_severity_badge=present.result_severity_badge,
        outcome_badge=present.outcome_badge,
        search_text=present.search_text,
        duration=present.duration_text,
        sorts=present.SORTS,
    )
    env.filters.update(
        short_sha=present.short_sha,
        exact_time=present.exact_time,
        iso_time=present.iso_time,
        from_epoch_ms=present.from_epoch_ms,
        scope_text=present.scope_text,
    )
    return env


def render(
    template: str, context: Mapping[str, Any], *, now: datetime | None, status_code: int = 200
) -> HTMLResponse:
    """``now`` is the moment relative times are told from (``None``: a page without them)."""
    env = environment()
    timing = (
        {"now": now, "relative": lambda moment: present.relative_time(moment, now)}
        if now is not None
        else {}
    )
    page = env.get_template(template).render({**context, **timing})
    return HTMLResponse(page, status_code=status_code, headers=dict(SECURITY_HEADERS))


def redirect(url: str) -> RedirectResponse:
    """See Other: after a form, the browser GETs the result (post/redirect/get)."""
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})
