"""In the field, in a real Chromium against a real server: a link that dies without closing (a
local relay that stops forwarding, tests/relay.py), messages written offline and their order,
long texts, Enter at a desk, the typing line, and what a screen reader is told."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, WebSocket, expect

from tests.live import LiveServer, SignedInDemo
from tests.relay import relay_to
from tests.test_browser import (
    JAN,
    OUTAGE,
    PHONE,
    SMART_METER,
    TABLET_DE_DARK,
    WEBER,
    api_post,
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
    """A demo server of this test's own (the dead-link test puts a relay in front of it)."""
    with signed_in_demo.server(tmp_path) as s:
        yield s


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    """Browsers on a demo server of this test's own; no JavaScript errors allowed."""
    return own_server_devices


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


# The page's own ping comes after 4 s without a frame; asked by a trigger, it comes at once.
ASKED_WITHIN_MS = 2_500
TRIGGERS = {
    "the network comes back": "window.dispatchEvent(new Event('online'))",
    "the network goes": "window.dispatchEvent(new Event('offline'))",
    "the app returns to the foreground": "document.dispatchEvent(new Event('visibilitychange'))",
}


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_a_network_change_or_the_foreground_makes_the_socket_prove_it_is_alive_at_once(
    devices: Devices, trigger: str
) -> None:
    customer = devices.open(WEBER)
    sockets: list[WebSocket] = []
    customer.on("websocket", lambda ws: sockets.append(ws))
    open_thread(customer, thread_id(customer, OUTAGE))
    socket = sockets[-1]
    # A quiet socket's own ping was just answered: the next one is PING_EVERY_MS away.
    with socket.expect_event("framereceived", lambda p: '"pong"' in str(p), timeout=15_000):
        pass
    with socket.expect_event("framesent", lambda p: '"ping"' in str(p), timeout=ASKED_WITHIN_MS):
        said = customer.evaluate(
            f"() => {{ {TRIGGERS[trigger]}; return document.getElementById('conn').dataset.state }}"
        )
    assert said == ("offline" if trigger == "the network goes" else "live")
    # The socket answers, so the page says "live" again (a dead one is given up; test above).
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")


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


# -- long texts -------------------------------------------------------------------------------


def test_a_long_text_shows_a_counter_near_the_limit_and_is_refused_not_cut(
    devices: Devices,
) -> None:
    server = devices.server
    page = devices.open(WEBER, DESK)
    tid = thread_id(page, OUTAGE)
    open_thread(page, tid)
    body, counter = page.locator("#body"), page.locator("#body-count")
    too_long = "Too long to send: please shorten it."

    body.fill("x" * 8_999)
    expect(counter).to_be_hidden()
    body.fill("x" * 9_412)
    expect(counter).to_have_text("9,412 / 10,000")
    text = "y" * 10_000 + "z"
    body.fill(text)
    expect(counter).to_have_text(f"10,001 / 10,000 · {too_long}")
    page.locator("#composer button[type=submit]").click()
    body.press("Enter")
    assert body.evaluate("el => el.validationMessage") == too_long
    expect(body).to_have_value(text)  # nothing cut
    expect(page.locator("#messages > li.pending")).to_have_count(0)
    assert page.evaluate(OUTBOX) == []

    body.press("Backspace")
    expect(counter).to_have_text("10,000 / 10,000")
    body.press("Enter")
    expect(body).to_have_value("")
    expect(counter).to_be_hidden()
    expect(page.locator("#messages > li.msg:not(.pending)", has_text="y" * 100)).to_have_count(1)
    expect(page.locator("#messages > li.pending")).to_have_count(0)
    assert stored_bodies(server, JAN, tid)[0] == "y" * 10_000

    page.goto("/threads/new")
    page.fill("#title", "A very long question")
    page.fill("#body", text)
    expect(page.locator("#body-count")).to_have_text(f"10,001 / 10,000 · {too_long}")
    assert page.locator("#body").evaluate("el => el.matches(':invalid')")  # htmx won't post it
    page.get_by_role("button", name="Post").click()
    expect(page.locator("#body")).to_have_value(text)
    assert page.url.endswith("/threads/new")

    german = devices.open(WEBER, TABLET_DE_DARK)
    open_thread(german, tid)
    german.locator("#body").fill("x" * 9_412)
    expect(german.locator("#body-count")).to_have_text("9.412 / 10.000")


# -- at a desk --------------------------------------------------------------------------------


def test_enter_sends_at_a_desk_and_makes_a_new_line_on_a_touch_screen(devices: Devices) -> None:
    desk = devices.open(WEBER, DESK)
    tid = thread_id(desk, OUTAGE)
    open_thread(desk, tid)
    hint = desk.locator("#composer .enter-hint")
    expect(hint).to_be_visible()
    expect(hint).to_have_text("Enter to send · Shift+Enter for a new line")
    body = desk.locator("#body")
    body.press_sequentially("Zähler 1: 4711")
    body.press("Shift+Enter")
    body.press_sequentially("Zähler 2: 815")
    expect(body).to_have_value("Zähler 1: 4711\nZähler 2: 815")
    body.press("Enter")
    expect(body).to_have_value("")
    confirmed(desk, "Zähler 2: 815")
    assert stored_bodies(devices.server, JAN, tid)[0] == "Zähler 1: 4711\nZähler 2: 815"

    phone = devices.open(WEBER, PHONE)
    assert phone.evaluate("matchMedia('(pointer: fine)').matches") is False
    open_thread(phone, tid)
    expect(phone.locator("#composer .enter-hint")).to_be_hidden()
    body = phone.locator("#body")
    body.press_sequentially("Zeile eins")
    body.press("Enter")
    expect(body).to_have_value("Zeile eins\n")  # a new line, not sent
    expect(phone.locator("#messages > li.pending")).to_have_count(0)
    body.press_sequentially("Zeile zwei")
    phone.locator("#composer button[type=submit]").click()
    confirmed(phone, "Zeile zwei")
    assert stored_bodies(devices.server, JAN, tid)[0] == "Zeile eins\nZeile zwei"


# Notes what the typing line said at the moment a message with the text was added.
TYPING_WHEN_ARRIVED = """text => {
  window.__typingWhenArrived = [];
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1 && n.textContent.includes(text)) {
        window.__typingWhenArrived.push(document.getElementById("typing").textContent);
      }
    }
  }).observe(document.getElementById("messages"), { childList: true });
}"""


def test_the_typing_line_goes_when_that_persons_message_arrives(devices: Devices) -> None:
    staff = devices.open(JAN, DESK)
    tid = thread_id(staff, OUTAGE)
    open_thread(staff, tid)
    customer = devices.open(WEBER, PHONE)
    open_thread(customer, tid)
    text = f"Licht flackert wieder ({uuid.uuid4().hex[:6]})"
    staff.evaluate(TYPING_WHEN_ARRIVED, text)

    customer.locator("#body").press_sequentially(text[:8])
    expect(staff.locator("#typing")).to_have_text("Gisela Weber is typing…")
    customer.locator("#body").fill(text)
    customer.locator("#composer button[type=submit]").click()
    confirmed(staff, text)
    assert staff.evaluate("window.__typingWhenArrived") == [""]
    expect(staff.locator("#typing")).to_have_text("")


def test_typing_in_a_staff_note_is_sent_for_staff_only(devices: Devices) -> None:
    staff = devices.context(JAN, DESK).new_page()
    sockets: list[WebSocket] = []
    staff.on("websocket", lambda ws: sockets.append(ws))
    staff.goto("/threads")
    tid = thread_id(staff, OUTAGE)
    open_thread(staff, tid)
    staff.get_by_label("Staff note").check()  # the composer's Reply / Staff note switch
    with sockets[-1].expect_event("framesent", lambda p: '"typing"' in str(p)) as frame:
        staff.locator("#body").press_sequentially("Intern: ")
    assert json.loads(str(frame.value)) == {"type": "typing", "thread": tid, "audience": "staff"}


# -- screen readers ---------------------------------------------------------------------------


def test_the_message_list_is_a_polite_log_and_new_messages_arrive_inside_it(
    devices: Devices,
) -> None:
    customer = devices.open(WEBER, PHONE)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    log = customer.get_by_role("log", name="Messages")
    expect(log).to_have_count(1)
    expect(log).to_have_attribute("aria-live", "polite")
    expect(log).to_have_attribute("aria-relevant", "additions")
    expect(log.locator("#messages > li").first).to_be_attached()  # the history is inside
    expect(customer.locator("#typing")).to_have_attribute("aria-live", "polite")
    expect(customer.locator("#typing")).to_have_attribute("role", "status")

    text = f"Der Techniker ist unterwegs ({uuid.uuid4().hex[:6]})"
    api_post(devices.server, devices.server.token(JAN), tid, text)
    expect(log.locator("#messages > li", has_text=text)).to_have_count(1)
    expect(log.locator("#messages > li").last).to_contain_text(text)


# The outbox as version 1 of outbox.js kept it: keyed by client id, no order of its own.
OUTBOX_V1 = """items => new Promise((resolve, reject) => {
  const req = indexedDB.open("dreiklang", 1);
  req.onupgradeneeded = () => {
    const store = req.result.createObjectStore("outbox", { keyPath: "client_id" });
    store.createIndex("thread", "thread");
  };
  req.onsuccess = () => {
    const tx = req.result.transaction("outbox", "readwrite");
    for (const item of items) tx.objectStore("outbox").put(item);
    tx.oncomplete = () => { req.result.close(); resolve(); };
    tx.onerror = () => reject(tx.error);
  };
  req.onerror = () => reject(req.error);
})"""


def test_an_outbox_kept_by_the_older_app_keeps_its_items_in_the_order_written(
    devices: Devices,
) -> None:
    page = devices.context(None, PHONE).new_page()
    page.goto("/login")  # a page that has not opened the outbox yet
    written = [
        {"client_id": f"z{9 - n}", "thread": "t1", "body": f"written {n}", "csrf": "",
         "created": 1_700_000_000_000 + n, "state": "waiting"}
        for n in range(3)
    ]  # fmt: skip
    page.evaluate(OUTBOX_V1, written)
    items = page.evaluate("() => Outbox.all()")
    assert [i["body"] for i in items] == ["written 0", "written 1", "written 2"]
    assert [i["seq"] for i in items] == [1, 2, 3]
    page.evaluate(
        "() => Outbox.add({client_id: 'a0', thread: 't1', body: 'written 3', state: 'waiting'})"
    )
    items = page.evaluate("() => Outbox.forThread('t1')")
    assert [i["body"] for i in items] == [f"written {n}" for n in range(4)]


def test_a_tab_of_the_older_app_holding_the_outbox_does_not_stall_the_newer_one(
    devices: Devices,
) -> None:
    page = devices.context(None, PHONE).new_page()
    page.goto("/login")
    page.evaluate(OUTBOX_V1, [])
    # An older tab keeps version 1 open and does not give way when asked.
    page.evaluate("""() => new Promise((resolve) => {
      const req = indexedDB.open("dreiklang", 1);
      req.onsuccess = () => { window.__olderTab = req.result; resolve(); };
    })""")
    answer = """() => Promise.race([
      Outbox.all().then(() => "opened", (err) => err.message),
      new Promise((resolve) => setTimeout(() => resolve("still waiting"), 20000)),
    ])"""  # the bound only turns a hang into a failure
    assert page.evaluate(answer) == "outbox: an older tab holds the database"
    page.evaluate("() => window.__olderTab.close()")
    assert page.evaluate(answer) == "opened"
