"""The API docs page (Swagger UI) served entirely by this server, under a Content-Security-Policy.

FastAPI's default page loads Swagger UI from a public CDN with no CSP: it fails on a network
without internet, and whoever controls the CDN controls a page that holds operators' tokens. The
JavaScript and CSS are Swagger UI 5 (Apache-2.0) as shipped in the ``fastapi-offline`` package
(MIT), which exists for exactly this; only its files are used. The page's own start-up script is a
file here, so the CSP can forbid every inline and foreign script.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

HERE = Path(__file__).resolve().parent / "static"
BUNDLE = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS = {
    "swagger-ui.css": (BUNDLE / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (BUNDLE / "swagger-ui-bundle.js", "text/javascript"),
    "favicon.png": (BUNDLE / "favicon.png", "image/png"),
    "docs-init.js": (HERE / "docs-init.js", "text/javascript"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="icon" type="image/png" href="{assets}/favicon.png">
<link rel="stylesheet" href="{assets}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/docs-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI, prefix: str) -> None:
    """``{prefix}/docs`` and its assets under ``{prefix}/docs-assets/`` (build the app with docs_url=None)."""
    assets = f"{prefix}/docs-assets"
    page = PAGE.format(title=app.title, assets=assets, openapi=app.openapi_url or f"{prefix}/openapi.json")

    @app.get(f"{prefix}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    @app.get(assets + "/{name}", include_in_schema=False)
    def docs_asset(name: str) -> FileResponse:
        found = ASSETS.get(name)
        if found is None:
            raise HTTPException(404, "not found")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
