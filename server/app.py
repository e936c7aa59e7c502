"""Assemble the app: routes, middleware, and a lifespan that opens what it needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
from asgi_csrf import asgi_csrf
from brotli_asgi import BrotliMiddleware
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope, Send

from push import api as push
from server import templating
from server.actions.attachments import sweep
from server.actions.desk import escalate_waiting
from server.adapters import asgi_csrf as csrf_adapter
from server.adapters.uvicorn import RAW_SEND_KEY
from server.auth import SESSION_DAYS
from server.db import close_database, open_database
from server.errors import Forbidden, Internal, MethodNotAllowed, NotFound, TooLarge
from server.i18n import N_
from server.live import make_fanout
from server.mail.worker import MailWorker
from server.mail_listener import open_listener
from server.policy import policy_of
from server.publisher import Publisher
from server.ratelimit import LoginLimiter, PostLimiter
from server.routes import routes
from server.settings import Settings, load_settings
from server.storage import Storage, open_storage
from server.views.common import error_page, json_error

SESSION_COOKIE = "dreiklang_session"
MAX_BODY_BYTES = 256 * 1024  # forms and JSON are small; a message is at most 40 KB of UTF-8
# The one route whose body is a file: its limit is ATTACHMENT_MAX_MB, counted as it is read.
UPLOAD_PATH = re.compile(r"/api/v1/threads/[^/]+/attachments")
IMAGES_AT_ONCE = 2  # photos re-encoded at the same time: the rest wait, chat keeps a CPU
MAILS_PER_MINUTE = 3  # password-reset and confirmation mails per address and per client
SWEEP_SECONDS = 3600  # unsent uploads older than a day are deleted within the hour

log = logging.getLogger(__name__)


def declared_length(scope: Any) -> int:
    """Return a request's Content-Length (0 when it has none or it is not a number)."""
    value = Headers(scope=scope).get("content-length", "")
    return int(value) if value.isdigit() else 0


def too_large_response(request: Request) -> Response:
    """Refuse a request body over MAX_BODY_BYTES: API clients get the JSON error envelope,
    people an error page or htmx fragment in their browser's language."""
    error = TooLarge(MAX_BODY_BYTES // 1024)
    if request.url.path.startswith("/api/"):
        return json_error(error.status, error.code, error.message)
    return error_page(request, None, error)


def csrf_refused_response(request: Request) -> Response:
    """Refuse a state-changing request without a valid CSRF token in the app's error shape:
    API clients get the JSON error envelope, people an error page or htmx fragment."""
    error = Forbidden(N_("this form is out of date or came from another site; reload the page"))
    if request.url.path.startswith("/api/"):
        return json_error(error.status, error.code, error.message)
    return error_page(request, None, error)


ESCALATION_CHECK_SECONDS = 60  # a long wait is noticed within a minute of passing the limit


async def watch_waiting(publisher: Publisher, settings: Settings) -> None:
    """Escalate questions waiting longer than ESCALATE_MINUTES, once a minute (on every
    process: the database lets one of them alert for each question)."""
    while True:
        await asyncio.sleep(ESCALATION_CHECK_SECONDS)
        try:
            await escalate_waiting(publisher, settings.escalate_minutes)
        except Exception:  # a database outage: try again next minute
            log.exception("escalating waiting questions failed")


async def sweep_orphans(storage: Storage) -> None:
    """Delete uploads never sent (server/actions/attachments.py), now and every hour."""
    while True:
        try:
            swept = await sweep(storage)
            if swept:
                log.info("swept %d unsent uploads", swept)
        except Exception:  # a database or storage outage: try again next hour
            log.exception("sweeping unsent uploads failed")
        await asyncio.sleep(SWEEP_SECONDS)


def create_app(settings: Settings | None = None) -> Dreiklang:
    """Build the ASGI app for these settings (default: from the environment)."""
    settings = settings or load_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        fanout = make_fanout(
            settings.broker_url, settings.company
        )  # a bad BROKER_URL fails before opening anything
        # Every process sends queued mail; the database lets one of them claim each mail.
        mailer = app.state.mail_worker = MailWorker(settings)  # a bad SMTP_URL fails here
        templating.warm()
        storage = open_storage(settings)  # a bad STORAGE_URL fails before opening anything
        app.state.storage = storage
        app.state.image_limiter = anyio.CapacityLimiter(IMAGES_AT_ONCE)
        await open_database(settings)
        try:
            await fanout.broker.start()
        except BaseException:
            # Leave nothing open behind a failed start (tortoise's connections are global).
            with contextlib.suppress(Exception):
                await fanout.broker.stop()
            await close_database()
            await storage.close()
            raise
        app.state.fanout = fanout
        await fanout.start()
        worker = (
            await push.start_worker(settings, app.state.vapid) if settings.push_enabled else None
        )
        app.state.publisher = Publisher(
            fanout,
            worker.wake if worker else None,
            company=settings.company,
            policy=policy_of(settings, PostLimiter.from_settings(settings)),
        )
        mailer.start()
        watch = asyncio.create_task(watch_waiting(app.state.publisher, settings))
        sweeper = asyncio.create_task(sweep_orphans(storage))
        mail_listener = None
        try:
            # Inbound mail (MAIL_LISTEN); a port taken by another program fails the start.
            mail_listener = await open_listener(settings, app.state.publisher, storage)
            yield
        finally:
            if mail_listener is not None:  # first: no mail half-handled while the rest closes
                await mail_listener.close()
            for task in (watch, sweeper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await mailer.stop()
            if worker is not None:
                await worker.stop()
            await fanout.stop()
            await fanout.broker.stop()
            await close_database()
            await storage.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return json_error(404, "not_found", "no such API URL: see /api/openapi.json")
        return error_page(request, None, NotFound(N_("page not found")))

    async def not_allowed(request: Request, exc: Exception) -> Response:
        """A method the URL lacks: 405 with the URL's methods (Starlette's Allow header)."""
        allow = getattr(exc, "headers", None) or {}
        if request.url.path.startswith("/api/"):
            response = json_error(
                405, "method_not_allowed", f"{request.method} is not allowed here"
            )
        else:
            response = error_page(request, None, MethodNotAllowed())
        response.headers.update(allow)
        return response

    async def internal(request: Request, exc: Exception) -> Response:
        """A bug or an outage: the documented error shape, never a plain-text 500 or a trace.
        Starlette logs the exception and re-raises it after this answer is sent."""
        error = Internal()
        if request.url.path.startswith("/api/"):
            return json_error(error.status, error.code, error.message)
        return error_page(request, None, error)

    async def too_large(request: Request, exc: Exception) -> Response:
        return too_large_response(request)  # a body without Content-Length that grew too long

    app = Starlette(
        debug=settings.debug,
        routes=routes(),
        middleware=[
            # Files are served as stored: photos are compressed already, and a compressed
            # body would break byte ranges.
            Middleware(
                BrotliMiddleware,
                minimum_size=500,
                gzip_fallback=True,
                excluded_handlers=[r"^/files/"],
            ),  # fmt: skip
            Middleware(
                SessionMiddleware,
                secret_key=settings.secret_key,
                session_cookie=SESSION_COOKIE,
                max_age=SESSION_DAYS * 24 * 3600,
                same_site="lax",
                https_only=settings.https_cookies,
            ),
        ],
        exception_handlers={404: not_found, 405: not_allowed, 413: too_large, 500: internal},
        lifespan=lifespan,
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.settings = settings
    app.state.vapid = push.load_vapid(
        settings.data_dir, str(settings.vapid_private_key), settings.vapid_subject
    )
    app.state.login_limiter = LoginLimiter(
        settings.ratelimit_url, settings.login_attempts_per_minute
    )
    # Mails a stranger can make the server send (password reset, confirmation again): a few
    # a minute per address and per client, so the form cannot flood someone's inbox.
    app.state.mail_limiter = LoginLimiter(settings.ratelimit_url, MAILS_PER_MINUTE)

    async def csrf_failed(scope: Scope, send: Send, message_id: Any) -> None:
        scope["app"] = app  # what Starlette would set, for the error page's template
        await csrf_refused_response(Request(scope))(scope, _no_body, send)

    # CSRF wraps everything: every state-changing request needs the token unless it
    # authenticates with a bearer token (no cookies to abuse).
    csrf_adapter.install()
    inner = asgi_csrf(
        app,
        signing_secret=str(settings.secret_key),
        cookie_name="dreiklang_csrf",
        http_header="x-csrftoken",
        always_set_cookie=True,
        always_protect={"/login", "/signup", "/logout", "/password/forgot"},
        skip_if_scope=script_trading_a_password,
        cookie_secure=settings.https_cookies,
        send_csrf_failed=csrf_failed,
    )

    return Dreiklang(app, inner)


async def _no_body() -> Message:
    return {"type": "http.disconnect"}  # an error response reads no body


def script_trading_a_password(scope: Scope) -> bool:
    """Whether a request trades a password for a token without a session cookie.

    Such a call reads no cookie and sets none, so a script that kept only the CSRF cookie an
    earlier answer set (as `requests.Session` does) is not refused for it. A browser holding a
    session still goes through CSRF, as on every other form.
    """
    if scope.get("path") != "/api/v1/tokens":
        return False
    cookies = b";".join(value for name, value in scope.get("headers", []) if name == b"cookie")
    return SESSION_COOKIE.encode() + b"=" not in cookies


class Dreiklang:
    """The ASGI app: Starlette inside CSRF protection, with the body limit in front. Its
    `state` is the Starlette app's (settings, fan-out, publisher)."""

    def __init__(self, app: Starlette, inner: Any) -> None:
        self.app = app
        self.state = app.state
        self.inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            scope[RAW_SEND_KEY] = send
        elif (
            scope["type"] == "http"
            and declared_length(scope) > MAX_BODY_BYTES
            and not UPLOAD_PATH.fullmatch(scope.get("path", ""))
        ):
            # Refuse before anything reads the body: the CSRF check reads a form's body first.
            # (Starlette's limit would answer too, but only in plain text.)
            scope["app"] = self.app  # what Starlette would set, for the error page's template
            await too_large_response(Request(scope))(scope, receive, send)
            return
        if scope["type"] == "http":
            csrf_adapter.canonical_content_type(scope)
        await self.inner(scope, receive, send)
