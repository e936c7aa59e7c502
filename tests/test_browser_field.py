"""In the field, in a real Chromium against a real server: a link that dies without closing (a
local relay that stops forwarding, tests/relay.py), and messages written offline and their
order."""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import LiveServer, SignedInDemo
from tests.relay import relay_to
from tests.test_browser import (
    JAN,
    OUTAGE,
    PHONE,
    SMART_METER,
    WEBER,
    confirmed,
    message,
    open_thread,
    thread_id,
    write,
)
from tests.test_pwa import OUTBOX, Devices, stored_bodies, visit_online, wait_outbox

pytestmark = pytest.mark.browser

DESK: dict[str, Any] = {
    "viewport": {"width": 1280, "height": 900},
    "locale": "en-GB",
    "color_scheme": "light",
}
DEAD_LINK_NOTICED_MS = 30_000  # the page promises about 10 s; generous for a loaded CI machine
BACK_ONLINE_MS = 30_000  # reconnecting backs off; the relay's held handshake goes on at once

# Client ids that sort against the order the messages were written (also across reloads):
# an outbox read in the order of its ids would send and show them backwards.
DESCENDING_IDS = """
(() => {
  let n = 0;
  const base = 9e15 - Date.now() * 1000;
  crypto.randomUUID = () => String(base - n++).padStart(16, "0");
})();
"""


@pytest.fixture
def server(signed_in_demo: SignedInDemo, tmp_path: Path) -> Iterator[LiveServer]:
    with signed_in_demo.server(tmp_path) as s:
        yield s


@pytest.fixture
def devices(
    browser: Browser, server: LiveServer, signed_in_demo: SignedInDemo
) -> Iterator[Devices]:
    d = Devices(browser, server, dict(signed_in_demo.states))
    try:
        yield d
    finally:
        d.close()
    assert d.errors == [], "JavaScript errors in the pages"


def shown_bodies(page: Page, among: list[str]) -> list[str]:
    """The texts of `among` in the order the thread shows them (pending or stored)."""
    texts = page.locator("#messages > li .body").all_inner_texts()
    return [t.strip() for t in texts if t.strip() in among]


# -- a dead link ------------------------------------------------------------------------------


def test_a_link_that_dies_without_closing_is_noticed_and_what_was_written_arrives_once(
    browser: Browser, server: LiveServer, signed_in_demo: SignedInDemo
) -> None:
    with relay_to(server.port) as relay:
        # The page, its requests and its socket all pass the relay (one origin).
        devices = Devices(browser, dataclasses.replace(server, port=relay.port),
                          dict(signed_in_demo.states))  # fmt: skip
        try:
            customer = devices.open(WEBER)
            tid = thread_id(customer, OUTAGE)
            open_thread(customer, tid)
            conn = customer.locator("#conn")

            relay.freeze()  # a tunnel: the socket stays open, nothing gets through
            expect(conn).to_have_attribute(
                "data-state", re.compile(r"^(re)?connecting$"), timeout=DEAD_LINK_NOTICED_MS
            )
            expect(conn).to_have_text(re.compile(r"^(re)?connecting…$"))
            text = f"Written in the tunnel, meter 4711 ({uuid.uuid4().hex[:6]})"
            write(customer, text)
            expect(message(customer, text).locator(".state")).to_have_text("waiting for connection")

            relay.thaw()
            expect(conn).to_have_attribute("data-state", "live", timeout=BACK_ONLINE_MS)
            confirmed(customer, text)
            wait_outbox(customer, 0)
            assert stored_bodies(server, JAN, tid).count(text) == 1
            customer.reload()
            confirmed(customer, text)
        finally:
            devices.close()
        assert devices.errors == [], "JavaScript errors in the pages"


# -- order ------------------------------------------------------------------------------------


def test_messages_written_offline_arrive_and_show_in_the_order_written_across_reloads_and_threads(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER, PHONE, DESCENDING_IDS)
    outage, meter = thread_id(customer, OUTAGE), thread_id(customer, SMART_METER)
    visit_online(customer, meter)
    visit_online(customer, outage)
    tag = uuid.uuid4().hex[:6]
    first = [f"{tag} outage {n}" for n in ("one", "two", "three")]
    second = [f"{tag} meter {n}" for n in ("one", "two")]
    customer.context.set_offline(True)
    customer.reload()  # the saved copy, without a socket
    expect(customer.locator("#conn")).to_have_attribute("data-state", "offline")

    written = 0
    for thread, texts in ((outage, first[:2]), (meter, second), (outage, first[2:])):
        customer.goto(f"/threads/{thread}")  # reloads in between: the outbox is all there is
        for text in texts:
            write(customer, text)
            written += 1
            wait_outbox(customer, written)
    assert shown_bodies(customer, first) == first
    assert [i["body"] for i in customer.evaluate(OUTBOX)] == first[:2] + second + first[2:]

    customer.context.set_offline(False)
    for text in first:
        confirmed(customer, text)
    wait_outbox(customer, 0)
    assert shown_bodies(customer, first) == first
    assert stored_bodies(server, JAN, outage)[:3] == first[::-1]  # newest first
    assert stored_bodies(server, JAN, meter)[:2] == second[::-1]
    customer.reload()
    assert shown_bodies(customer, first) == first
