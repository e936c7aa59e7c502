"""Unread counts in a real browser: the thread list and the app icon of a new customer (see
tests/test_unread.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import test_pwa
from tests.conftest import PASSWORD
from tests.test_browser import JAN, OUTAGE, PHONE, SMART_METER, open_thread, thread_id, write
from tests.test_pwa import BADGE_RECORDER, Devices, post
from tests.test_unread import new_email

# The offline-app fixtures: a fresh demo server, and browser contexts on it.
server, sessions, devices = test_pwa.server, test_pwa.sessions, test_pwa.devices


def sign_up_in_browser(page: Page, email: str) -> None:
    page.goto("/signup")
    page.fill("#name", "Frieda Neu")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/threads")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def shown_unread(page: Page) -> dict[str, str]:
    """The unread badges the list shows, by thread item id."""
    found: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll(".titem")]
              .filter((i) => !i.querySelector(".unread").hidden)
              .map((i) => [i.id, i.querySelector(".unread .n").textContent]))"""
    )
    return found


def wait_badge(page: Page, n: int) -> None:
    """Wait until the number the page last put on the app icon is `n`."""
    page.wait_for_function("n => window.__badges.at(-1) === n", arg=n)


@pytest.mark.browser
def test_a_new_customer_sees_no_unread_until_following_or_writing_and_the_badge_agrees(
    devices: Devices,
) -> None:
    server = devices.server
    staff = server.token(JAN)
    page = devices.context(None, PHONE, BADGE_RECORDER).new_page()
    sign_up_in_browser(page, new_email())
    badge = bool(page.evaluate("() => window.__nativeBadge"))
    assert page.locator(".titem").count() >= 5  # strangers' threads: readable
    assert shown_unread(page) == {}
    if badge:
        wait_badge(page, 0)

    outage, meter = thread_id(page, OUTAGE), thread_id(page, SMART_METER)
    post(server, staff, outage, "Not followed yet: this does not count.")
    expect(page.locator(f"#t-{outage} time")).not_to_have_text("")
    page.reload()
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    assert shown_unread(page) == {}

    open_thread(page, outage)
    page.locator("#follow button[value=following]").click()
    expect(page.locator("#follow .hint")).to_have_text("You follow this thread.")
    open_thread(page, meter)
    write(page, "Bei mir blinkt die Anzeige nur.")
    expect(page.locator("#messages > li.msg:not(.pending)", has_text="blinkt")).to_have_count(1)

    page.goto("/threads")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    post(server, staff, outage, "The crew is on its way.")
    post(server, staff, meter, "Please send us a photo of the display.")
    expect(page.locator(f"#t-{meter} .unread .n")).to_have_text("1")
    expect(page.locator(f"#t-{outage} .unread .n")).to_have_text("1")
    assert shown_unread(page) == {f"t-{outage}": "1", f"t-{meter}": "1"}
    if badge:
        wait_badge(page, 2)
    page.reload()
    assert shown_unread(page) == {f"t-{outage}": "1", f"t-{meter}": "1"}
