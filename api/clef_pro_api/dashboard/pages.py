"""The dashboard's pages: server-rendered HTML over the read models of
:mod:`clef_pro_api.services.views`.

Every page works without JavaScript: navigation is links (the chosen commit,
sort, filter and alert status are query parameters, so any view can be
shared), actions are forms that redirect back (post/redirect/get). Our own
small script only adds niceties: live relative times, a confirmation dialog,
live filtering.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from clef_pro.domain.config import INTEGRATION_ID_PATTERN, IntegrationSource
from clef_pro.domain.connect import Connection
from clef_pro.domain.durations import parse_duration
from clef_pro.domain.screening import find_control_character
from clef_pro.domain.severity import Severity
from clef_pro_api import schemas
from clef_pro_api.dashboard import charts, present, security
from clef_pro_api.dashboard.auth import Gate, SignInRefused, SignInRequired, Viewer
from clef_pro_api.dashboard.render import alerts_url, integration_url, redirect, render
from clef_pro_api.deps import Attempts, SessionDep, SettingsDep
from clef_pro_api.notifications.registry import backend_states
from clef_pro_api.services import alerts, insights, notification_views, timeline, views
from clef_pro_api.services.errors import Conflict, InvalidParameter, NotFound
from clef_pro_api.services.ratelimit import TooManyFailures
from clef_pro_api.services.views import AlertFilter
from clef_pro_api.settings import Settings
from clef_pro_api.storage import models
from clef_pro_api.storage.models import utcnow

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

#: Reports per page of an integration's history.
HISTORY_PAGE: Final = 15
#: Integrations per page of the overview.
OVERVIEW_PAGE: Final = 100
#: Alerts per page of an integration's alerts (each tab).
ALERTS_PAGE: Final = 25
ALERT_TABS: Final[dict[str, AlertFilter]] = {
    "open": "open",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}
_COMMIT = re.compile(r"^[0-9a-fA-F]{4,64}$")
_INTEGRATION_ID = re.compile(INTEGRATION_ID_PATTERN)
#: Fields a dashboard form may carry; anything more is not one of our forms.
_MAX_FORM_FIELDS: Final = 10


class PageError(Exception):
    """Answered with the error page (the viewer's header stays in place)."""

    def __init__(self, status_code: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status_code = status_code
        self.title = title
        self.message = message


def not_found() -> PageError:
    # The same words whether the integration is missing or hidden from this
    # viewer: nobody learns that an integration they may not see exists.
    return PageError(
        404,
        "Not found",
        "There is no such integration, or your account may not see it.",
    )


def get_gate(request: Request) -> Gate:
    gate: Gate = request.app.state.dashboard
    return gate


GateDep = Annotated[Gate, Depends(get_gate)]


def current_viewer(request: Request, gate: GateDep) -> Viewer:
    viewer = gate.viewer(request)
    if viewer is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise SignInRequired(f"{request.url.path}{query}")
    return viewer


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what our forms send)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return {}
    body = await request.body()
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


FormDep = Annotated[dict[str, str], Depends(read_form)]


def page_context(gate: Gate, viewer: Viewer | None, **extra: Any) -> dict[str, Any]:
    return {
        "viewer": viewer,
        "csrf": gate.csrf_token(viewer) if viewer is not None else "",
        "mode": gate.mode,
        "public_url": gate.settings.public_url.rstrip("/"),
        **extra,
    }


def _visible(
    session: Session, gate: Gate, viewer: Viewer, integration_id: str
) -> tuple[schemas.IntegrationSummary, IntegrationSource | None]:
    """The integration's summary, if it exists and the viewer may see it."""
    if not _INTEGRATION_ID.fullmatch(integration_id):
        # Never a query: PostgreSQL fails on a NUL that SQLite would look up.
        raise not_found()
    items = views.list_integrations(session, only=integration_id).items
    if not items:
        raise not_found()
    source = views.integration_sources(session, only=integration_id).get(integration_id)
    if not gate.may(viewer, "get", source):
        raise not_found()
    return items[0], source


def _commit_link(integration_id: str) -> Callable[[str], str]:
    def link(commit_sha: str) -> str:
        return integration_url(integration_id, commit=commit_sha)

    return link


# ---------------------------------------------------------------- overview


@router.get("/")
def overview(
    *,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    sort: str | None = None,
    q: str | None = None,
    after: str | None = None,
) -> Response:
    # A page of integrations by name (sorted and filtered within the page).
    try:
        listing = views.list_integrations(session, limit=OVERVIEW_PAGE, cursor=after or None)
    except InvalidParameter:
        listing, after = views.list_integrations(session, limit=OVERVIEW_PAGE), None
    everything = listing.items
    sources = views.integration_sources(session, among=[item.integration_id for item in everything])
    visible = [
        item for item in everything if gate.may(viewer, "get", sources.get(item.integration_id))
    ]
    chosen = present.parse_sort(sort)
    query = (q or "").strip()[:200]
    items = present.sort_integrations(present.filter_integrations(visible, query), chosen)
    lines = insights.sparklines(session, [item.integration_id for item in items])
    sparks = {
        integration_id: charts.sparkline(points, _commit_link(integration_id))
        for integration_id, points in lines.items()
    }
    return render(
        "overview.html",
        page_context(
            gate,
            viewer,
            items=items,
            total=len(visible),
            sort=chosen,
            q=query,
            sparks=sparks,
            after=after,
            next_cursor=listing.next_cursor,
        ),
        now=utcnow(),
    )


# ---------------------------------------------------------------- one integration


@router.get("/integrations/{integration_id}")
def integration_page(
    integration_id: str,
    *,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    commit: str | None = None,
    before: str | None = None,
) -> Response:
    summary, _source = _visible(session, gate, viewer, integration_id)
    matrix: schemas.MatrixView | None = None
    problem: str | None = None
    status_code = 200
    if commit is not None and not _COMMIT.fullmatch(commit):
        problem, status_code = "That is not a commit sha (4 to 64 hex digits).", 404
    else:
        try:
            matrix = views.matrix(session, integration_id, commit)
        except NotFound:
            if commit is not None:
                problem, status_code = f"There is no report for commit {commit}.", 404
        except Conflict:
            problem = f"More than one report's commit starts with {commit}: give more digits."
            status_code = 409
    try:
        history = views.report_history(
            session, integration_id, limit=HISTORY_PAGE, cursor=before or None
        )
    except InvalidParameter:
        history = views.report_history(session, integration_id, limit=HISTORY_PAGE, cursor=None)
        before = None
    policy_results = (
        sorted(
            matrix.policy_results,
            key=lambda result: (
                bool(result.get("passed")),
                -_severity_rank(result.get("severity")),
                str(result.get("ruleId")),
            ),
        )
        if matrix is not None
        else []
    )
    lint = views.lint_results(session, integration_id, limit=1, cursor=None).items
    drift = views.drift_results(session, integration_id, limit=1, cursor=None).items
    now = utcnow()
    trend = charts.trend_chart(
        insights.integration_trend(session, integration_id), _commit_link(integration_id)
    )
    resolutions = insights.mean_time_to_resolve(session, integration_id, now=now)
    return render(
        "integration.html",
        page_context(
            gate,
            viewer,
            trend=trend,
            resolutions=resolutions,
            resolution_bars=charts.bar_widths(
                {row.rule_id: row.mean_seconds for row in resolutions}, 160
            ),
            resolution_days=insights.RESOLUTION_WINDOW.days,
            resolutions_counted=insights.RESOLUTIONS_COUNTED,
            summary=summary,
            connection=Connection(gate.settings.public_url, integration_id),
            lint=lint[0] if lint else None,
            drift=drift[0] if drift else None,
            matrix=matrix,
            rows=present.matrix_rows(matrix) if matrix is not None else [],
            policy_results=policy_results,
            history=history,
            before=before,
            commit=commit,
            problem=problem,
        ),
        now=now,
        status_code=status_code,
    )


def _severity_rank(value: Any) -> int:
    try:
        return Severity(value).rank
    except ValueError:
        return -1


# ---------------------------------------------------------------- alerts


@router.get("/integrations/{integration_id}/alerts")
def alerts_page(
    integration_id: str,
    *,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    status: str | None = None,
    before: str | None = None,
) -> Response:
    summary, source = _visible(session, gate, viewer, integration_id)
    chosen = ALERT_TABS.get(status or "", "open")
    try:
        listing = views.list_alerts(
            session, integration_id, chosen, limit=ALERTS_PAGE, cursor=before or None
        )
    except InvalidParameter:
        listing = views.list_alerts(session, integration_id, chosen, limit=ALERTS_PAGE)
        before = None
    counts = views.alert_tab_counts(session, integration_id)
    channels = notification_views.channel_states(session, [alert.id for alert in listing.items])
    notes = {
        alert.id: schemas.AlertNotifications(
            alert_id=alert.id, channels=channels.get(alert.id, []), items=[]
        )
        for alert in listing.items
    }
    return render(
        "alerts.html",
        page_context(
            gate,
            viewer,
            summary=summary,
            status=chosen,
            alerts=listing.items,
            next_cursor=listing.next_cursor,
            before=before,
            counts=counts,
            notes=notes,
            can_acknowledge=gate.may(viewer, "update", source),
            return_to=alerts_url(integration_id, status=chosen),
            notify_badge=present.notification_badge,
        ),
        now=utcnow(),
    )


def _refuse_unlikely_alert_id(alert_id: str) -> None:
    """Not found, without a query: PostgreSQL fails on a NUL that SQLite would look up."""
    if len(alert_id) > 64 or find_control_character(alert_id) is not None:
        raise NotFound


def _alert(session: Session, integration_id: str, alert_id: str) -> schemas.AlertView:
    try:
        _refuse_unlikely_alert_id(alert_id)
        return views.get_alert(session, integration_id, alert_id)
    except NotFound:
        raise PageError(404, "Not found", "This integration has no such alert.") from None


@router.get("/integrations/{integration_id}/alerts/{alert_id}")
def alert_page(
    integration_id: str,
    alert_id: str,
    *,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    settings: SettingsDep,
    before: str | None = None,
) -> Response:
    summary, source = _visible(session, gate, viewer, integration_id)
    alert = _alert(session, integration_id, alert_id)
    notes = notification_views.alert_notifications(session, alert.id, backend_states(settings))
    row = session.get(models.Alert, alert.id)
    assert row is not None
    try:
        events = timeline.alert_timeline(session, row, cursor=before or None)
    except InvalidParameter:
        events, before = timeline.alert_timeline(session, row, cursor=None), None
    return render(
        "alert.html",
        page_context(
            gate,
            viewer,
            summary=summary,
            alert=alert,
            notes=notes,
            events=events,
            before=before,
            can_acknowledge=gate.may(viewer, "update", source),
            return_to=alerts_url(integration_id, status="open"),
            notify_badge=present.notification_badge,
        ),
        now=utcnow(),
    )


@router.get("/integrations/{integration_id}/alerts/{alert_id}/acknowledge")
def confirm_acknowledge(
    integration_id: str,
    alert_id: str,
    *,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    return_to: str | None = None,
) -> Response:
    """The confirmation step without JavaScript (with it, a dialog on the list)."""
    summary, source = _visible(session, gate, viewer, integration_id)
    alert = _alert(session, integration_id, alert_id)
    if alert.status != "open" or alert.acknowledged:
        return redirect(_return_target(integration_id, return_to, alert_id))
    if not gate.may(viewer, "update", source):
        raise _may_not_acknowledge()
    return render(
        "acknowledge.html",
        page_context(
            gate,
            viewer,
            summary=summary,
            alert=alert,
            return_to=_return_target(integration_id, return_to, None),
        ),
        now=utcnow(),
    )


@router.post("/integrations/{integration_id}/alerts/{alert_id}/acknowledge")
def acknowledge(
    integration_id: str,
    alert_id: str,
    *,
    request: Request,
    viewer: ViewerDep,
    gate: GateDep,
    session: SessionDep,
    form: FormDep,
) -> Response:
    if not gate.same_origin(request) or not gate.csrf_valid(viewer, form.get("csrf")):
        raise _forged()
    _summary, source = _visible(session, gate, viewer, integration_id)
    if not gate.may(viewer, "update", source):
        raise _may_not_acknowledge()
    try:
        duration = parse_duration(form["acknowledge_for"]) if form.get("acknowledge_for") else None
    except ValueError:
        raise PageError(400, "Not understood", "Choose how long to stop notifications.") from None
    try:
        _refuse_unlikely_alert_id(alert_id)
        alerts.acknowledge(
            session, alert_id, by=viewer.username, integration_id=integration_id, duration=duration
        )
    except NotFound:
        raise PageError(404, "Not found", "This integration has no such alert.") from None
    except Conflict:
        raise PageError(
            409,
            "Already resolved",
            "This alert was resolved by a later report, so there is nothing to silence.",
        ) from None
    session.commit()
    log.info("alert %s of %s acknowledged by %s", alert_id, integration_id, viewer.username)
    return redirect(_return_target(integration_id, form.get("return_to"), alert_id))


def _return_target(integration_id: str, requested: str | None, alert_id: str | None) -> str:
    """Back to the page the form was on, if it is one of this integration's."""
    target = security.safe_next(requested)
    if target == "/" or not target.startswith(integration_url(integration_id)):
        target = alerts_url(integration_id)
    target = target.split("#", 1)[0]
    return f"{target}#alert-{alert_id}" if alert_id else target


def _may_not_acknowledge() -> PageError:
    return PageError(
        403,
        "Not allowed",
        "You may see this integration but not acknowledge its alerts: that takes "
        "permission to update its Integration resource (integrations.pro.clef.sh).",
    )


def _forged() -> PageError:
    return PageError(
        403,
        "Request refused",
        "This form did not come from a page of this dashboard in your current session. "
        "Reload the page and try again.",
    )


# ---------------------------------------------------------------- signing in and out


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    gate: GateDep,
    next_path: Annotated[str | None, Query(alias="next")] = None,
) -> Response:
    target = security.safe_next(next_path)
    if gate.viewer(request) is not None:
        return redirect(target)
    return _sign_in_form(gate, target, None)


def _sign_in_form(
    gate: Gate, target: str, error: str | None, *, status_code: int | None = None
) -> Response:
    # In proxy mode a visitor without trusted identity headers cannot sign in here.
    if status_code is None:
        status_code = 401 if error or gate.mode == "proxy" else 200
    return render(
        "sign_in.html",
        page_context(gate, None, next=target, error=error, token_place=token_place(gate.settings)),
        now=utcnow(),
        status_code=status_code,
    )


@router.post("/sign-in")
def sign_in(request: Request, gate: GateDep, form: FormDep) -> Response:
    target = security.safe_next(form.get("next"))
    if not gate.same_origin(request):
        return _sign_in_form(gate, target, "Sign in from this dashboard's own sign-in page.")
    if gate.mode == "proxy":
        return _sign_in_form(gate, target, None)
    attempts = Attempts(request, "sign-in")
    try:
        attempts.check()
    except TooManyFailures as error:
        log.info("dashboard sign-in held back: too many failures from one address")
        response = _sign_in_form(
            gate,
            target,
            "Too many failed sign-ins from your address. Wait a minute and try again.",
            status_code=429,
        )
        response.headers["Retry-After"] = error.retry_after_header
        return response
    result = gate.sign_in(form.get("token", ""))
    if isinstance(result, SignInRefused):
        attempts.failed()
        log.info("dashboard sign-in refused (%s mode)", gate.mode)
        return _sign_in_form(gate, target, result.message)
    log.info("dashboard sign-in: %s (%s mode)", result.username, gate.mode)
    gate.open(result)
    response = redirect(target)
    response.set_cookie(
        security.SESSION_COOKIE,
        gate.cookie_value(result),
        max_age=gate.settings.session_lifetime_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=gate.secure_cookies(request),
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, gate: GateDep, form: FormDep) -> Response:
    viewer = gate.viewer(request)
    if viewer is not None and not gate.csrf_valid(viewer, form.get("csrf")):
        raise _forged()
    gate.close(request)
    response = redirect("/sign-in")
    response.delete_cookie(
        security.SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=gate.secure_cookies(request),
    )
    return response


def token_place(settings: Settings) -> present.TokenPlace:
    """Where the admin token is to be found, as the sign-in page tells it."""
    if settings.admin_token_hint:
        return present.TokenPlace("hint", settings.admin_token_hint)
    if settings.admin_token_file is not None:
        path = settings.admin_token_file
        in_data_dir = settings.is_embedded and path.parent == settings.data_dir
        return present.TokenPlace("data-dir" if in_data_dir else "file", str(path))
    if settings.admin_token is not None:
        return present.TokenPlace("variable", "CLEF_PRO_ADMIN_TOKEN")
    return present.TokenPlace("none", "")


def sign_in_redirect(next_path: str) -> Response:
    return redirect(f"/sign-in?next={quote(next_path, safe='/')}")


def error_page(request: Request, error: PageError, now: datetime) -> Response:
    gate = get_gate(request)
    return render(
        "error.html",
        page_context(gate, gate.viewer(request), title=error.title, message=error.message),
        now=now,
        status_code=error.status_code,
    )
