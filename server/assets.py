"""Static assets: content-hashed URLs, long cache lifetimes, and the offline app shell."""

from __future__ import annotations

import hashlib
import os
from functools import cache
from os import PathLike
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"
HASHED_MAX_AGE_SECONDS = 365 * 24 * 3600  # a hashed URL never changes its content
HTMX = "vendor/htmx-2.0.11.min.js"
PHOTOSWIPE = "vendor/photoswipe-5.4.4.esm.min.js"
PHOTOSWIPE_CSS = "vendor/photoswipe-5.4.4.css"

# The app shell: what the service worker precaches so the app opens without a network.
SHELL_FILES = (
    "app.css",
    "app.js",
    "outbox.js",
    "counter.js",
    "pwa.js",
    "notify.js",
    "forms.js",
    "mentions.js",
    "knowledge.js",
    "community.js",  # every thread page: accepted answers, Helpful
    "ideas.js",  # an idea's page, the board and the roadmap
    "attach.js",  # the composer's photos and files
    "viewer.js",  # the full-screen photo viewer, and what it loads on the first tap:
    PHOTOSWIPE,
    PHOTOSWIPE_CSS,
    HTMX,
    "icon.svg",
    "icons/icon-192.png",
    "icons/apple-touch-icon.png",
    "icons/badge-96.png",
)


@cache
def file_hash(path: str) -> str:
    """Return a short content hash of a static file (computed once per process)."""
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """Return the cache-busting URL of a static file."""
    return f"/static/{path}?v={file_hash(path)}"


def shell_urls() -> list[str]:
    return [static_url(p) for p in SHELL_FILES] + ["/offline"]


@cache
def shell_version() -> str:
    """Return a version that changes whenever any shell file or the worker changes."""
    digest = hashlib.sha256()
    for path in (*SHELL_FILES, "sw.js"):
        digest.update(file_hash(path).encode())
    return digest.hexdigest()[:12]


class CachedStaticFiles(StaticFiles):
    """Serve hashed URLs as immutable for a year; anything else must be revalidated."""

    def file_response(
        self,
        full_path: PathLike[str] | str,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        if b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = (
                f"public, max-age={HASHED_MAX_AGE_SECONDS}, immutable"
            )
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response
