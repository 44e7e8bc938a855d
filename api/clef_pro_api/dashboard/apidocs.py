"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc),
served whole by the service: they work on a machine with no Internet access,
and load nothing from a CDN.

The viewers come from their packaged distributions on PyPI, not from copies in
this repository: Swagger UI from ``swagger-ui-bundle-v2`` (Swagger UI's own
release, version for version), ReDoc's standalone bundle from
``fastapi-offline``. Only the few files the pages use are served, by name.
Our own script (``static/apidocs.js``) starts them, so the pages need no
inline script; their Content-Security-Policy grants these pages alone what the
viewers need beyond the dashboard's: inline styles (both inject them), and
for ReDoc a ``blob:`` worker (its search index).
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Final

import swagger_ui_bundle
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from clef_pro_api.dashboard.render import content_security_policy, render

router = APIRouter(include_in_schema=False)

ASSETS_PATH: Final = "/docs/assets"
_MEDIA_TYPES: Final = {".js": "text/javascript", ".css": "text/css"}


@cache
def assets() -> Mapping[str, Path]:
    """The files the pages load, by the name they are served under."""
    swagger = Path(str(swagger_ui_bundle.swagger_ui_path))
    redoc = Path(str(files("fastapi_offline") / "static"))
    return {
        "swagger-ui.css": swagger / "swagger-ui.css",
        "swagger-ui-bundle.js": swagger / "swagger-ui-bundle.js",
        "redoc.standalone.js": redoc / "redoc.standalone.js",
    }


@cache
def assets_version() -> str:
    """Changes with either distribution, so browsers never keep a stale viewer."""
    return "-".join(
        importlib.metadata.version(name) for name in ("swagger-ui-bundle-v2", "fastapi-offline")
    )


def asset_url(name: str) -> str:
    if name not in assets():
        raise KeyError(name)
    return f"{ASSETS_PATH}/{name}?v={assets_version()}"


#: Swagger UI sets inline styles; ReDoc injects its styles and builds its
#: search index in a worker made from a blob. Nothing else is loosened.
SWAGGER_UI_CSP: Final = content_security_policy(style_src="'self' 'unsafe-inline'")
REDOC_CSP: Final = content_security_policy(style_src="'self' 'unsafe-inline'", worker_src="blob:")


def _page(request: Request, template: str, policy: str) -> HTMLResponse:
    response = render(
        template,
        {
            "openapi_url": request.app.openapi_url,
            "title": request.app.title,
            "asset_url": asset_url,
        },
        now=None,
    )
    response.headers["Content-Security-Policy"] = policy
    # Documentation is the same for everyone: it may be cached, unlike pages.
    response.headers["Cache-Control"] = "no-cache"
    return response


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    return _page(request, "swagger_ui.html", SWAGGER_UI_CSP)


@router.get("/redoc")
def redoc(request: Request) -> Response:
    return _page(request, "redoc.html", REDOC_CSP)


@router.get(ASSETS_PATH + "/{name}")
def asset(name: str) -> Response:
    path = assets().get(name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[path.suffix],
        headers={
            "Cache-Control": "public, max-age=604800, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )
