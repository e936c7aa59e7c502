"""Readable and easy to hit for an older customer on a tablet, and side by side at a desk, in
a real Chromium: every visible text and every tap target measured on the thread list, a thread
and Settings; the own-message menu by keyboard; the list beside the thread from 1,100 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.live import TIMEOUT_MS, LiveServer, SignedInDemo
from tests.test_pwa import axe_violations

pytestmark = pytest.mark.browser

TABLET: dict[str, Any] = {"viewport": {"width": 820, "height": 1180}, "has_touch": True,
                          "locale": "en-GB", "color_scheme": "light"}  # fmt: skip
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                         "has_touch": True, "locale": "en-GB"}  # fmt: skip
WEBER, JAN, MIRA = "weber@example.org", "jan@nordlicht.example", "mira@nordlicht.example"
OUTAGE = "Stromausfall in der Hafenstraße"  # Weber's own thread
ROLLOUT = "Rollout of the new smart meters"  # internal; Jan takes part, so it counts as unread

CONTENT_PX, META_PX, TARGET_PX = 16, 14, 44
# Meta text may be smaller than content: badges, chips, times, the top bar, the typing line.
META = (
    ".meta, .tmeta, .badge, .chip, .conn, .unread, .topbar, time, .typing, .edited, .composer-hint"
)

SMALL_TEXT = """([meta, content, small]) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || el.closest(".sr-only, script, style")) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const box = range.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (box.width < 1 || box.height < 1 || style.visibility === "hidden") continue;
    const least = el.closest(meta) ? small : content;
    const size = parseFloat(style.fontSize);
    if (size < least) found.push(`${el.tagName.toLowerCase()}.${el.className} ` +
      `"${n.textContent.trim().slice(0, 30)}": ${size}px < ${least}px`);
  }
  return found;
}"""

SMALL_TARGETS = """(least) => {
  const found = [];
  const all = "a[href], button, input:not([type=hidden]), select, textarea, summary";
  for (const el of document.querySelectorAll(all)) {
    if (el.closest(".msg .body")) continue;  // a link inside a sentence (WCAG 2.5.8 exception)
    let box = el.getBoundingClientRect();
    if (!box.width || !box.height || box.right <= 0) continue;  // hidden, or the skip link
    if (el.matches("input[type=checkbox], input[type=radio]") && el.closest("label")) {
      box = el.closest("label").getBoundingClientRect();  // tapped through its label
    }
    if (box.width < least || box.height < least) {
      const name = (el.textContent || el.getAttribute("aria-label") || el.name || "").trim();
      found.push(`${el.tagName.toLowerCase()}.${el.className} "${name.slice(0, 30)}": ` +
                 `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def axe() -> str:
    from axe_playwright_python.base import AXE_SCRIPT  # the test extra installs it

    return str(AXE_SCRIPT)


@pytest.fixture
def server(signed_in_demo: SignedInDemo, tmp_path: Path) -> Iterator[LiveServer]:
    with signed_in_demo.server(tmp_path, COMPANY_NAME="Stadtwerke Nordlicht") as s:
        yield s


@pytest.fixture
def open_page(browser: Browser, server: LiveServer, signed_in_demo: SignedInDemo) -> Iterator[Any]:
    """Open a page for a demo person on a device; page errors fail the test."""
    contexts = []
    errors: list[str] = []

    def open_(email: str, device: dict[str, Any], path: str = "/threads") -> Page:
        ctx = browser.new_context(base_url=server.url, storage_state=signed_in_demo.states[email],
                                  **device)  # fmt: skip
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        page.goto(path)
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
    assert errors == []


def thread_id(page: Page, title: str) -> str:
    item = page.locator("#thread-list .titem", has_text=title).first
    return (item.get_attribute("id") or "")[2:]


def measure(page: Page) -> list[str]:
    """Everything on the page too small to read or to hit."""
    small: list[str] = page.evaluate(SMALL_TEXT, [META, CONTENT_PX, META_PX])
    small += page.evaluate(SMALL_TARGETS, TARGET_PX)
    return [f"{page.url}: {s}" for s in small]


def test_on_a_tablet_every_text_is_readable_and_every_control_big_enough_to_tap(
    open_page: Any, axe: str
) -> None:
    found: list[str] = []
    customer = open_page(WEBER, TABLET)
    found += measure(customer)
    tid = thread_id(customer, OUTAGE)
    customer.goto(f"/threads/{tid}")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    found += measure(customer)
    customer.locator(".msg-actions:visible .menu-button").last.click()  # the menu, open
    expect(customer.get_by_role("button", name="Delete")).to_be_visible()
    found += measure(customer)
    customer.goto("/settings")
    customer.wait_for_selector("#devices")  # the notifications section loads itself
    found += measure(customer)

    staff = open_page(JAN, TABLET, f"/threads/{tid}")  # with the status form
    found += measure(staff)
    assert found == [], "\n".join(found)
    assert axe_violations(customer, axe) + axe_violations(staff, axe) == []


def test_the_own_message_actions_are_one_menu_that_works_by_keyboard(open_page: Any) -> None:
    customer = open_page(WEBER, TABLET)
    customer.goto(f"/threads/{thread_id(customer, OUTAGE)}")
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
    own = customer.locator(".msg", has=customer.locator(".msg-actions:visible"))
    menus = customer.get_by_role("button", name="Message actions")
    expect(menus).to_have_count(own.count())  # one per own message, none on others'
    assert own.count() == 2
    expect(customer.get_by_role("button", name="Edit")).to_have_count(0)  # all closed

    menu = menus.last
    menu.focus()
    customer.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    edit = own.last.get_by_role("button", name="Edit")
    expect(edit).to_be_focused()
    customer.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(edit).to_be_hidden()
    expect(menu).to_be_focused()

    menu.click()
    edit.click()
    expect(customer.locator(".msg.editing textarea")).to_be_visible()


def test_settings_are_a_labelled_header_entry_and_sign_out_lives_there(open_page: Any) -> None:
    customer = open_page(WEBER, PHONE)
    header = customer.locator(".topbar")
    expect(header.get_by_role("button", name="Sign out")).to_have_count(0)
    header.get_by_role("link", name="Settings").click()
    customer.wait_for_url("**/settings")
    expect(customer.locator("h1")).to_have_text("Settings")
    customer.get_by_role("button", name="Sign out on this device").click()
    customer.wait_for_url("**/login")


def test_a_desk_shows_the_list_beside_the_open_thread_and_keeps_both_live(
    open_page: Any, server: LiveServer, axe: str
) -> None:
    desk = open_page(JAN, DESK)
    tid, other = thread_id(desk, OUTAGE), thread_id(desk, ROLLOUT)
    desk.goto(f"/threads/{tid}")
    expect(desk.locator("#conn")).to_have_attribute("data-state", "live")
    side, thread = desk.locator(".side-list"), desk.locator("#thread")
    expect(side).to_be_visible()
    expect(thread).to_be_visible()
    a, b = side.bounding_box(), thread.bounding_box()
    assert a and b and a["x"] + a["width"] <= b["x"] and b["x"] + b["width"] <= 1280
    assert a["y"] < 800 and b["y"] < 800, "both start on the screen"
    expect(side.locator(f"#t-{tid} a")).to_have_attribute("aria-current", "page")
    assert axe_violations(desk, axe) == []
    assert measure(desk) == []

    # Someone writes in another thread and in this one: the list counts it, the thread shows it.
    badge = side.locator(f"#t-{other} .unread .n")
    before = int(badge.text_content() or "0")
    for who, where, text in (
        (MIRA, other, "Liste kommt morgen."),
        (WEBER, tid, "Alles wieder gut hier."),
    ):
        auth = {"Authorization": f"Bearer {server.token(who)}"}
        r = httpx.post(f"{server.url}/api/v1/threads/{where}/messages", headers=auth,
                       json={"body": text, "client_id": f"desk-{where}"})  # fmt: skip
        assert r.status_code == 201, r.text
    expect(badge).to_have_text(str(before + 1))
    expect(desk.locator("#messages .msg", has_text="Alles wieder gut hier.")).to_be_visible()
    expect(side.locator(f"#t-{tid} .unread")).to_be_hidden()  # read here, as it arrives

    phone = open_page(JAN, PHONE, f"/threads/{tid}")
    expect(phone.locator("#thread")).to_be_visible()
    expect(phone.locator(".side-list")).to_be_hidden()
    phone.goto("/threads")
    expect(phone.locator("#thread-list")).to_be_visible()
    expect(phone.locator("#thread")).to_have_count(0)
