"""Offline, the thread list says which threads this device saved (they open without a
connection) and dims the others; the "saved copy" banner stays on screen while reading, though
a thread opens at its newest message. In a real Chromium with the service worker (the offline
fixtures of tests/test_pwa.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests import test_pwa
from tests.test_browser import JAN, OUTAGE, PHONE, SMART_METER, TABLET_DE_DARK, WEBER, thread_id
from tests.test_pwa import SAVED_COPY, Devices, post, visit_online

pytestmark = pytest.mark.browser

# The offline-app fixtures: a fresh demo server, and browser contexts on it.
server, sessions, devices = test_pwa.server, test_pwa.sessions, test_pwa.devices

SAVED = "Saved on this device"
NOT_SAVED = "Not saved on this device: needs a connection"

# The banner is on screen and on top: what a finger or an eye finds at its centre is the banner.
BANNER_SEEN = """() => {
  const banner = document.querySelector(".saved-banner");
  const box = banner.getBoundingClientRect();
  if (box.height === 0 || box.top < 0 || box.bottom > window.innerHeight) return false;
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return banner.contains(hit);
}"""


def long_thread(devices: Devices, tid: str) -> None:
    """Make a thread longer than a phone's screen."""
    token = devices.server.token(JAN)
    for n in range(12):
        post(devices.server, token, tid, f"Update {n + 1}: the crew is still at the substation.")


def banner_seen(page: Page) -> bool:
    return bool(page.evaluate(BANNER_SEEN))


@pytest.mark.parametrize("device", [PHONE, TABLET_DE_DARK], ids=["phone", "tablet"])
def test_offline_the_banner_stays_on_screen_at_the_newest_message_and_while_scrolling(
    devices: Devices, device: dict[str, object]
) -> None:
    customer = devices.open(WEBER, device)
    tid = thread_id(customer, OUTAGE)
    long_thread(devices, tid)
    visit_online(customer, tid)

    customer.context.set_offline(True)
    customer.reload()
    banner = customer.locator(".saved-banner")
    expect(banner).to_be_visible()
    expect(customer.locator("#messages > li").last).to_contain_text("Update 12")
    customer.wait_for_function("() => window.scrollY > 0")  # opened at the newest message
    assert banner_seen(customer)
    customer.evaluate("() => window.scrollTo(0, document.body.scrollHeight / 2)")
    customer.wait_for_function(BANNER_SEEN)


def test_offline_the_list_marks_what_this_device_saved_and_dims_the_rest(
    devices: Devices,
) -> None:
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    never_visited = thread_id(customer, SMART_METER)
    visit_online(customer, tid)
    expect(customer.locator(".offline-mark")).to_have_count(0)  # online: nothing to say

    customer.context.set_offline(True)
    customer.goto("/threads")
    expect(customer.locator(".saved-banner")).to_have_text(SAVED_COPY)
    saved, other = customer.locator(f"#t-{tid}"), customer.locator(f"#t-{never_visited}")
    expect(saved).to_have_attribute("data-offline", "saved")
    expect(saved.locator(".offline-mark")).to_have_text(SAVED)
    expect(other).to_have_attribute("data-offline", "unsaved")
    expect(other.locator(".offline-mark")).to_have_text(NOT_SAVED)
    unsaved = customer.locator('.titem[data-offline="unsaved"]')
    assert unsaved.count() == customer.locator(".titem").count() - 1
    # Dimmed, yet readable: the title is in the muted colour, not hidden or transparent.
    title = other.locator(".ttitle")
    color = title.evaluate("e => getComputedStyle(e).color")
    assert color != saved.locator(".ttitle").evaluate("e => getComputedStyle(e).color")
    assert title.evaluate("e => getComputedStyle(e.closest('a')).opacity") == "1"

    customer.goto(f"/threads/{never_visited}")
    expect(customer.locator("h1")).to_have_text("You are offline")
    expect(customer.locator("main")).to_contain_text(f"“{SAVED}”")

    customer.context.set_offline(False)
    customer.goto("/threads")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    expect(customer.locator(".offline-mark")).to_have_count(0)


def test_a_list_that_goes_offline_while_open_marks_itself(devices: Devices) -> None:
    customer = devices.open(WEBER, TABLET_DE_DARK)
    tid = thread_id(customer, OUTAGE)
    visit_online(customer, tid)
    customer.goto("/threads")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    customer.context.set_offline(True)
    expect(customer.locator(f"#t-{tid} .offline-mark")).to_have_text("Auf diesem Gerät gespeichert")
    expect(customer.locator('.titem[data-offline="unsaved"]').first).to_contain_text(
        "Nicht auf diesem Gerät gespeichert: braucht eine Verbindung"
    )
    customer.context.set_offline(False)
    expect(customer.locator(".offline-mark")).to_have_count(0)
