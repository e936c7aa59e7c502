"""What the real-browser test modules share: Chromium, and a demo database with everyone
already signed in (sessions are rows in the database, so each copy carries them)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

from server.demo import PEOPLE
from tests.conftest import LiveServer

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
DEMO_EMAILS = tuple(person[1] for person in PEOPLE)
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


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium with the flags this closed network needs."""
    with playwright_session() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def signed_in_demo(
    data_dir: Path, emails: tuple[str, ...] = DEMO_EMAILS
) -> tuple[Path, dict[str, Any]]:
    """Load the demo company into data_dir, sign these demo people in once through the form,
    and return the database and each person's browser storage state (its cookies).

    Each test's server runs on a copy of this database, so the sessions are valid there.
    """
    database = data_dir / "demo.sqlite3"
    server = LiveServer(f"sqlite://{database}", data_dir)
    server.run_cli("demo", "--no-serve")
    server.start()
    try:
        states = {}
        for email in emails:
            http = server.session(email)
            try:
                states[email] = {"cookies": [playwright_cookie(c) for c in http.cookies.jar],
                                 "origins": []}  # fmt: skip
            finally:
                http.close()
    finally:
        server.stop()
    return database, states


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
