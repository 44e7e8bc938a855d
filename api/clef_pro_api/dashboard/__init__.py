"""The dashboard: server-rendered pages over the read API's models, for
signed-in people only. ``install`` adds its routes, static files and sign-in
handling to the app."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from clef_pro_api.dashboard import apidocs, pages
from clef_pro_api.dashboard.auth import Gate, SignInRequired
from clef_pro_api.settings import Settings
from clef_pro_api.storage.models import utcnow

__all__ = ["install"]


def install(app: FastAPI, settings: Settings) -> None:
    app.state.dashboard = Gate(settings, sessions=app.state.sessions)
    app.include_router(pages.router)
    app.include_router(apidocs.router)
    icon = (files(__package__) / "static" / "favicon.svg").read_bytes()

    @app.get("/favicon.ico", include_in_schema=False)
    async def _favicon() -> Response:
        # Browsers ask for /favicon.ico before reading a page's <link rel=icon>.
        return Response(
            icon, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.mount(
        "/static",
        StaticFiles(packages=[("clef_pro_api.dashboard", "static")]),
        name="static",
    )

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
        return pages.sign_in_redirect(exc.next_path)

    @app.exception_handler(pages.PageError)
    async def _page_error(request: Request, exc: pages.PageError) -> Response:
        # Who is looking is a database read (sessions are kept server-side).
        return await run_in_threadpool(pages.error_page, request, exc, utcnow())
