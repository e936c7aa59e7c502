"""Real servers and real browsers for end-to-end tests, in one place (a pytest plugin that
tests/conftest.py loads): a uvicorn server in a subprocess, the demo company loaded once per
test session and copied per test, the demo people signed in once, and Debian's Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from server.demo import PEOPLE
from tests.conftest import (
    DEMO_PASSWORD,
    POSTGRES_URL,
    ROOT,
    _pg_admin,
    _with_database,
    free_port,
    login,
)

# -- a real server ----------------------------------------------------------------------


@dataclass
class LiveServer:
    """A uvicorn server in a subprocess, restartable, on its own port and database.

    Its push worker runs on the server's own event loop (PUSH_IN_PROCESS, a supported mode)
    unless `push_child`: starting a second interpreter costs a second per server, and only
    the tests of push itself need the worker's own process."""

    database_url: str
    data_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    push_child: bool = False
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DREIKLANG_")}
        env.update(
            DATA_DIR=str(self.data_dir),
            DATABASE_URL=self.database_url,
            SECRET_KEY="live-test-secret",
            LOGIN_ATTEMPTS_PER_MINUTE="1000",
            PUSH_IN_PROCESS="false" if self.push_child else "true",
        )
        env.update(self.env_extra)
        return env

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "server.cli", *args],
            env=self.env(), cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip

    def start(self) -> None:
        # The child keeps its own copy of the file descriptor; ours closes (no ResourceWarning).
        with open(self.data_dir / f"server-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)],
                env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz in 30 s: {self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        path = self.data_dir / f"server-{self.port}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def session(self, email: str, password: str = DEMO_PASSWORD) -> httpx.Client:
        """Return an HTTP client signed in like a browser (session and CSRF cookies)."""
        c = httpx.Client(base_url=self.url, timeout=10)
        login(c, email, password)
        return c

    def token(self, email: str, password: str = DEMO_PASSWORD) -> str:
        r = httpx.post(self.url + "/api/v1/tokens", json={"email": email, "password": password})
        assert r.status_code == 201, r.text
        return str(r.json()["token"])


class DemoTemplates:
    """The demo company loaded once per test session and kind of database, then copied: a
    SQLite file, or a PostgreSQL template database (CREATE DATABASE … TEMPLATE)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: Path | None = None
        self.postgres: str | None = None

    def load_into(self, server: LiveServer) -> None:
        """Give the server's (new, empty) database the demo company."""
        if server.database_url.startswith("sqlite://"):
            if self.sqlite is None:
                path = self.folder / "demo.sqlite3"
                LiveServer(f"sqlite://{path}", self.folder).run_cli("demo", "--no-serve")
                self.sqlite = path
            shutil.copyfile(self.sqlite, server.database_url.removeprefix("sqlite://"))
            return
        if self.postgres is None:
            name = "dk_demo_" + secrets.token_hex(6)
            asyncio.run(_pg_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
            self.postgres = name  # set first: dropped at the end even if loading fails
            LiveServer(_with_database(POSTGRES_URL, name), self.folder).run_cli(
                "demo", "--no-serve"
            )
        target = urlsplit(server.database_url).path.lstrip("/")
        asyncio.run(_pg_admin(POSTGRES_URL, f'DROP DATABASE "{target}"'))
        asyncio.run(
            _pg_admin(POSTGRES_URL, f'CREATE DATABASE "{target}" TEMPLATE "{self.postgres}"')
        )

    def drop(self) -> None:
        if self.postgres is not None:
            drop = f'DROP DATABASE IF EXISTS "{self.postgres}" WITH (FORCE)'
            asyncio.run(_pg_admin(POSTGRES_URL, drop))


@pytest.fixture(scope="session")
def demo_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTemplates]:
    templates = DemoTemplates(tmp_path_factory.mktemp("demo-templates"))
    try:
        yield templates
    finally:
        templates.drop()


@pytest.fixture
def live_server(
    database_url: str, tmp_path: Path, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    """A real server with the demo company loaded, on SQLite and (if configured) PostgreSQL."""
    server = LiveServer(database_url, tmp_path)
    demo_templates.load_into(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- the demo people, signed in once ---------------------------------------------------------


@dataclass(frozen=True)
class SignedInDemo:
    """A demo database in which the demo people are signed in, and their browsers' cookies
    (sessions are rows, so every copy of the database carries them)."""

    database: Path
    states: dict[str, Any]  # e-mail -> Playwright storage state

    @contextlib.contextmanager
    def server(self, folder: Path, push_child: bool = False, **env: str) -> Iterator[LiveServer]:
        """Run a real server on a fresh copy of this database."""
        shutil.copyfile(self.database, folder / "demo-copy.sqlite3")
        server = LiveServer(
            f"sqlite://{folder / 'demo-copy.sqlite3'}", folder, env_extra=env, push_child=push_child
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture(scope="session")
def signed_in_demo(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> SignedInDemo:
    """Sign the demo people in once (all but NEVER_SIGNED_IN), on a copy of the demo database."""
    folder = tmp_path_factory.mktemp("signed-in-demo")
    server = LiveServer(f"sqlite://{folder / 'demo.sqlite3'}", folder)
    demo_templates.load_into(server)
    server.start()
    try:
        states = {}
        for email in DEMO_EMAILS:
            http = server.session(email)
            try:
                states[email] = {"cookies": [playwright_cookie(c) for c in http.cookies.jar],
                                 "origins": []}  # fmt: skip
            finally:
                http.close()
    finally:
        server.stop()
    return SignedInDemo(folder / "demo.sqlite3", states)


# -- Chromium -------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NEVER_SIGNED_IN = "lena@example.org"  # for tests that sign her in through the form and count
DEMO_EMAILS = tuple(person[1] for person in PEOPLE if person[1] != NEVER_SIGNED_IN)
TIMEOUT_MS = 10_000  # generous for a loaded 2-core CI machine; passing runs take far less


@contextlib.contextmanager
def playwright_session() -> Iterator[Playwright]:
    """Start Playwright for Debian's Chromium; skip (fail in CI) when it is not installed."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        yield p


def playwright_cookie(cookie: Any) -> dict[str, Any]:
    """A cookie from an HTTP client's jar as Playwright's storage state holds it."""
    return {
        "name": cookie.name,
        "value": cookie.value,
        "domain": cookie.domain,
        "path": cookie.path,
        "expires": float(cookie.expires) if cookie.expires else -1,
        "httpOnly": any(cookie.has_nonstandard_attr(a) for a in ("HttpOnly", "httponly")),
        "secure": bool(cookie.secure),
        "sameSite": "Lax",
    }


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """Playwright for a test module (its sync API may not outlive the module's tests: async
    tests in other modules run event loops of their own)."""
    with playwright_session() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium per test module; each test opens contexts of its own."""
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()
