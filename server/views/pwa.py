"""The installable app: web app manifest, service worker and offline page."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.assets import STATIC_DIR, shell_urls, shell_version, static_url
from server.settings import Settings
from server.views.common import page


def manifest_data(settings: Settings) -> dict[str, object]:
    """Build the web app manifest from settings."""
    return {
        "id": "/",
        "name": settings.app_name,
        "short_name": settings.app_short_name,
        "description": f"Questions, ideas and answers: customers and staff of {settings.company} "
        "in one conversation.",
        "start_url": "/threads",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": settings.accent_color,
        "background_color": settings.background_color,
        "icons": [
            {"src": static_url("icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static_url("icons/maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
        "shortcuts": [
            {"name": "My threads", "short_name": "Threads", "url": "/threads"},
            {"name": "New question", "short_name": "Ask", "url": "/threads/new"},
        ],
    }


async def manifest(request: Request) -> Response:
    return JSONResponse(
        manifest_data(request.app.state.settings),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


async def service_worker(request: Request) -> Response:
    """Serve the worker with its version and precache list filled in; never cached."""
    source = (STATIC_DIR / "sw.js").read_text()
    body = source.replace('"__VERSION__"', json.dumps(shell_version())).replace(
        "__SHELL__", json.dumps(shell_urls())
    )
    return Response(
        body,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


async def offline(request: Request) -> Response:
    """The page shown for a page that was never saved, while offline."""
    return page(request, None, "offline.html")
