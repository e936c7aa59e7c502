"""Feedback on forms that post (web/static/forms.js), in a real browser: while a request runs its
buttons are disabled and the pressed one says "Please wait…"; offline, or when the request
cannot reach the server, a message next to the button says it needs a connection, and nothing
typed is lost. A new thread is not queued like a message: it waits for the person to try again.

A slow network is a route that holds the request until the test lets it go (no sleeps)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests import test_pwa
from tests.live import TIMEOUT_MS
from tests.test_browser import JAN, OUTAGE, PHONE, TABLET_DE_DARK, WEBER, thread_id
from tests.test_pwa import Devices

pytestmark = pytest.mark.browser

# The offline-app fixtures: a fresh demo server, and browser contexts on it.
server, sessions, devices = test_pwa.server, test_pwa.sessions, test_pwa.devices

BUSY = "Please wait…"
NEEDS_CONNECTION = (
    "No connection: this needs the internet. Try again when you are online — what you typed "
    "stays here."
)
NEEDS_CONNECTION_DE = (
    "Keine Verbindung: Dafür braucht es das Internet. Versuchen Sie es erneut, sobald Sie "
    "online sind – Ihre Eingaben bleiben hier stehen."
)
NO_WORKER = {"service_workers": "block"}  # page.route sees every request of the page


class Held:
    """POST requests to a URL pattern, held until released (a network as slow as we like)."""

    def __init__(self, page: Page, pattern: str, *, abort: bool = False) -> None:
        self.page = page
        self.routes: list[Route] = []
        self.abort = abort
        page.route(pattern, self.handle)

    def handle(self, route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif self.abort:
            route.abort("internetdisconnected")  # a dead zone: the request never arrives
        else:
            self.routes.append(route)

    def release(self) -> None:
        """Let the held request go on (once Playwright has handed it to us)."""
        # Sync Playwright dispatches a route only while the test calls into it.
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while not self.routes and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)
        assert len(self.routes) == 1, self.routes
        self.routes.pop().continue_()


def thread_titles(server: Any, email: str) -> list[str]:
    r = httpx.get(
        f"{server.url}/api/v1/threads?limit=100",
        headers={"Authorization": f"Bearer {server.token(email)}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [t["title"] for t in r.json()["threads"]]


def fill_new_thread(page: Page, title: str, body: str) -> None:
    page.goto("/threads/new")
    page.fill("#title", title)
    page.fill("#body", body)


def test_on_a_slow_network_the_pressed_button_is_disabled_and_says_so_until_the_answer(
    devices: Devices,
) -> None:
    page = devices.context(WEBER, {**PHONE, **NO_WORKER}, BUSY_REPORTER).new_page()
    page.goto("/threads")
    held = Held(page, "**/threads")
    fill_new_thread(page, "Zählerstand falsch übernommen", "Auf der Rechnung steht 4711 kWh.")
    post = page.locator("main form button[type=submit]")
    post.click()
    expect(post).to_be_disabled()
    expect(post).to_have_text(BUSY)
    expect(page.locator("main form")).to_have_attribute("aria-busy", "true")
    held.release()
    page.wait_for_url("**/threads/*")
    expect(page.locator("h1")).to_contain_text("Zählerstand falsch übernommen")

    # An htmx button in a thread: Mute (she wrote in it, so she follows it).
    tid = thread_id_of(page, OUTAGE)
    page.goto(f"/threads/{tid}")
    mute = Held(page, f"**/threads/{tid}/follow")
    button = page.locator("#follow button[value=muted]")
    button.click()
    expect(button).to_be_disabled()
    expect(button).to_have_text(BUSY)
    mute.release()
    expect(page.locator("#follow .hint")).to_have_text("Muted: this thread does not notify you.")

    # A plain form: the settings.
    page.goto("/settings")
    save = Held(page, "**/settings")
    first = page.locator("main form").first
    saving = first.locator("button[type=submit]")
    assert press_and_report(page, saving) == [[True, BUSY]]
    save.release()
    page.wait_for_url("**/settings?saved=1")
    expect(page.locator("main form").first.locator("button[type=submit]")).to_be_enabled()


# A page whose form navigation is held cannot be inspected by Playwright (it waits for the
# navigation first), so the page reports its own state: once a form turns busy, it logs what
# its buttons show (a mutation observer runs after forms.js has set them all).
BUSY_REPORTER = """
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.getAttribute("aria-busy") !== "true") continue;
    const buttons = [...r.target.querySelectorAll("button")];
    console.log("BUSY " + JSON.stringify(buttons.map((b) => [b.disabled, b.textContent])));
  }
}).observe(document, { attributes: true, attributeFilter: ["aria-busy"], subtree: true });
"""


def press_and_report(page: Page, button: Locator) -> list[list[Any]]:
    """Click a plain form's button (not waiting for the held page it leads to); return what
    the form's buttons showed once it turned busy: [disabled, text] each."""
    with page.expect_console_message(lambda m: m.text.startswith("BUSY ")) as message:
        button.evaluate("b => b.click()")
    report: list[list[Any]] = json.loads(message.value.text.removeprefix("BUSY "))
    return report


def thread_id_of(page: Page, title: str) -> str:
    page.goto("/threads")
    return thread_id(page, title)


def test_signing_in_on_a_slow_network_shows_progress(devices: Devices) -> None:
    page = devices.context(None, {**PHONE, **NO_WORKER}, BUSY_REPORTER).new_page()
    page.goto("/login")
    held = Held(page, "**/login")
    page.fill("#email", JAN)
    page.fill("#password", "nordlicht-demo")
    button = page.locator("main form button[type=submit]")
    assert press_and_report(page, button) == [[True, BUSY]]
    held.release()
    page.wait_for_url("**/threads")


def test_publishing_a_thread_offline_says_it_needs_a_connection_and_keeps_what_was_typed(
    devices: Devices,
) -> None:
    server = devices.server
    page = devices.open(WEBER, TABLET_DE_DARK)
    title, body = "Abschlag zu hoch?", "Mein Abschlag stieg von 85 € auf 115 €."
    fill_new_thread(page, title, body)
    page.context.set_offline(True)
    post = page.locator("main form button[type=submit]")
    post.click()
    note = page.locator("main form .form-offline")
    expect(note).to_have_text(NEEDS_CONNECTION_DE)
    expect(note).to_have_attribute("role", "alert")
    expect(post).to_be_enabled()
    expect(page.locator("#title")).to_have_value(title)
    expect(page.locator("#body")).to_have_value(body)
    assert page.url.endswith("/threads/new")

    page.context.set_offline(False)
    page.wait_for_function("() => navigator.onLine")
    expect(note).to_have_count(0)
    assert title not in thread_titles(server, WEBER)
    post.click()
    page.wait_for_url("**/threads/*")
    assert thread_titles(server, WEBER).count(title) == 1


def test_when_a_request_cannot_reach_the_server_the_form_says_so(devices: Devices) -> None:
    """A dead zone: the browser believes it is online, the request fails on the way."""
    page = devices.context(WEBER, {**PHONE, **NO_WORKER}).new_page()
    page.goto("/threads")
    Held(page, "**/threads", abort=True)
    fill_new_thread(page, "Ladesäule defekt", "Die Säule am Hafen zeigt Fehler 23.")
    post = page.locator("main form button[type=submit]")
    post.click()
    expect(page.locator("main form .form-offline")).to_have_text(NEEDS_CONNECTION)
    expect(post).to_be_enabled()
    expect(post).to_have_text("Post")
    expect(page.locator("#title")).to_have_value("Ladesäule defekt")
