"""Real Chromium (Debian's, driven by Playwright) against a real server with the demo company:
a customer on a phone and an employee on a German tablet in dark mode talk live."""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from server.demo import DEMO_COMPANY
from tests.conftest import DEMO_PASSWORD, ROOT
from tests.live import NEVER_SIGNED_IN, TIMEOUT_MS, LiveServer, SignedInDemo

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"

PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "color_scheme": "light",
}
TABLET_DE_DARK: dict[str, Any] = {
    "viewport": {"width": 820, "height": 1180},
    "has_touch": True,
    "locale": "de-DE",
    "color_scheme": "dark",
}
TABLET_EN_DARK: dict[str, Any] = {**TABLET_DE_DARK, "locale": "en-GB"}
DESK: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}, "locale": "en-GB"}

WEBER = "weber@example.org"
TOM = "tom@example.org"
JAN = "jan@nordlicht.example"
LENA = NEVER_SIGNED_IN  # signed in nowhere before her test
OUTAGE = "Stromausfall in der Hafenstraße"
SMART_METER = "Wie lese ich meinen neuen Smart Meter ab?"

# Test instrumentation only: keep every frame the page receives and every pending copy it shows,
# so a test can wait for "subscribed" and prove that a pending copy existed before it turned
# into the confirmed message.
RECORDER = """
(() => {
  const Native = window.WebSocket;
  window.__frames = [];
  window.__pendingSeen = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (e) => {
        try { window.__frames.push(JSON.parse(e.data)); } catch (err) { /* not JSON */ }
      });
    }
  };
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType === 1 && n.classList.contains("pending")) {
        window.__pendingSeen.push(n.textContent);
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture
def server(signed_in_demo: SignedInDemo, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server on a fresh SQLite copy of the demo (the flows don't depend on the DB)."""
    with signed_in_demo.server(tmp_path, COMPANY_NAME=DEMO_COMPANY) as s:
        yield s


@pytest.fixture
def signed_in(signed_in_demo: SignedInDemo) -> dict[str, Any]:
    """Browser storage states (cookies) of the demo people, by e-mail; valid on every copy."""
    return dict(signed_in_demo.states)


@dataclass
class Screens:
    """Browser contexts (one per person and device) on one server; collects page errors."""

    browser: Browser
    server: LiveServer
    sessions: dict[str, Any]
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def open(self, email: str | None, device: dict[str, Any]) -> Page:
        """Open a new context for a device, signed in as `email` (unless it is None)."""
        state = self.sessions.get(email or "")
        ctx = self.browser.new_context(base_url=self.server.url, storage_state=state, **device)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.add_init_script(RECORDER)
        self.contexts.append(ctx)
        page = ctx.new_page()
        who = email or "anonymous"
        page.on("pageerror", lambda err: self.errors.append(f"{who}: {err}"))
        if email is not None and state is None:
            sign_in(page, email)  # through the form, as a person would
            self.sessions[email] = ctx.storage_state()
        elif email is not None:
            page.goto("/threads")
            expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def screens(browser: Browser, server: LiveServer, signed_in: dict[str, Any]) -> Iterator[Screens]:
    s = Screens(browser, server, signed_in)
    try:
        yield s
    finally:
        s.close()
    assert s.errors == [], "JavaScript errors in the pages"


# -- helpers ----------------------------------------------------------------------------


def sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/threads")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def thread_id(page: Page, title: str) -> str:
    """Return the id of a thread from the thread list shown on the page."""
    href = page.locator(".titem a", has_text=title).get_attribute("href")
    assert href and href.startswith("/threads/"), href
    return href.removeprefix("/threads/")


def subscribed_count(page: Page) -> int:
    return int(page.evaluate("() => window.__frames.filter(f => f.type === 'subscribed').length"))


def open_thread(page: Page, tid: str) -> None:
    """Open a thread and wait until the live subscription is in place."""
    page.goto(f"/threads/{tid}")
    wait_subscribed(page, 1)


def wait_subscribed(page: Page, times: int) -> None:
    page.wait_for_function(
        "n => window.__frames.filter(f => f.type === 'subscribed').length >= n", arg=times
    )
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def message(page: Page, text: str) -> Any:
    return page.locator("#messages > li", has_text=text)


def write(page: Page, text: str) -> None:
    page.fill("#body", text)
    page.locator("#composer button[type=submit]").click()


def confirmed(page: Page, text: str) -> None:
    """Wait until exactly one confirmed (not pending) message with the text is on the page."""
    expect(page.locator("#messages > li.msg:not(.pending)", has_text=text)).to_have_count(1)
    expect(page.locator("#messages > li.pending")).to_have_count(0)
    expect(message(page, text)).to_have_count(1)


NEWEST_MESSAGE_ON_SCREEN = """() => {
  const last = document.querySelector("#messages > li:last-child").getBoundingClientRect();
  const composer = document.getElementById("composer").getBoundingClientRect();
  const topbar = document.querySelector(".topbar").getBoundingClientRect();
  return {ok: last.bottom <= composer.top + 1 && last.top >= topbar.bottom - 1,
          message: [last.top, last.bottom], composer: composer.top, topbar: topbar.bottom};
}"""


def newest_message_on_screen(page: Page) -> None:
    """Assert the newest message is entirely visible: not under the composer or the top bar."""
    with contextlib.suppress(PlaywrightTimeoutError):  # the assertion below says what is wrong
        page.wait_for_function(f"() => ({NEWEST_MESSAGE_ON_SCREEN})().ok", timeout=3_000)
    where = page.evaluate(NEWEST_MESSAGE_ON_SCREEN)
    assert where["ok"], f"the newest message is hidden in part: {where}"


def api_post(server: LiveServer, token: str, tid: str, body: str, audience: str = "all") -> str:
    r = httpx.post(
        f"{server.url}/api/v1/threads/{tid}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"body": body, "client_id": uuid.uuid4().hex, "audience": audience},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["message"]["id"])


def no_horizontal_overflow(page: Page) -> None:
    """Assert nothing is wider than the screen (a phone would zoom the whole page out)."""
    widths = page.evaluate(
        """() => new Promise((done) => requestAnimationFrame(() => done({
          page: document.documentElement.scrollWidth, layout: innerWidth,
          topbar: document.querySelector(".topbar").scrollWidth})))"""
    )
    screen = page.viewport_size["width"]  # type: ignore[index]
    assert max(widths.values()) <= screen, f"wider than the {screen}px screen: {widths} {page.url}"


def show_connection_state(page: Page, state: str) -> None:
    """Show a connection state's label as app.js would, to measure the longest labels."""
    page.evaluate(
        """s => { const c = document.getElementById("conn");
                  c.dataset.state = s;
                  c.textContent = c.dataset["label" + s[0].toUpperCase() + s.slice(1)]; }""",
        state,
    )


# -- tests ------------------------------------------------------------------------------


def test_a_customer_on_a_phone_and_an_employee_on_a_tablet_see_each_others_messages_live(
    screens: Screens,
) -> None:
    customer = screens.open(WEBER, PHONE)
    employee = screens.open(JAN, TABLET_DE_DARK)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    open_thread(employee, tid)

    question = "Is the street lighting on the Hafenstraße affected too?"
    write(customer, question)
    expect(message(employee, question)).to_be_visible()
    confirmed(customer, question)
    confirmed(employee, question)
    expect(message(employee, question).locator(".author")).to_have_text("Gisela Weber")
    expect(message(employee, question).locator(".staff-badge")).to_have_count(0)

    answer = "Ja, die Straßenbeleuchtung hängt am selben Abzweig – sie ist wieder an."
    write(employee, answer)
    on_customer = message(customer, answer)
    expect(on_customer).to_be_visible()
    expect(on_customer.locator(".author")).to_have_text("Jan Petersen")
    expect(on_customer.locator(".staff-badge")).to_have_text("Staff · Field service")
    expect(on_customer).to_have_class(re.compile(r"\bby-staff\b"))
    confirmed(employee, answer)
    confirmed(customer, answer)
    newest_message_on_screen(customer)  # scrolled into view, not under the composer
    newest_message_on_screen(employee)

    # Each sender saw its own pending copy before it turned into the confirmed message.
    assert any(question in t for t in customer.evaluate("() => window.__pendingSeen"))
    assert any(answer in t for t in employee.evaluate("() => window.__pendingSeen"))

    for page in (customer, employee):
        page.reload()
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        confirmed(page, question)
        confirmed(page, answer)
    expect(message(customer, answer).locator(".staff-badge")).to_be_visible()


def test_the_thread_list_counts_unread_messages_live_and_forgets_them_once_read(
    screens: Screens,
) -> None:
    reader = screens.open(TOM, PHONE)
    writer = screens.open(WEBER, PHONE)
    tid = thread_id(reader, OUTAGE)  # Tom took part in it: it counts (tests/test_unread*.py)
    item = reader.locator(f"#t-{tid}")
    badge = item.locator(".unread")
    before = int(item.get_attribute("data-count") or 0) - int(item.get_attribute("data-read") or 0)
    if before:
        expect(badge.locator(".n")).to_have_text(str(before))
    else:
        expect(badge).to_be_hidden()

    open_thread(writer, tid)
    write(writer, "Nachtrag: Der Techniker hat auch den Sicherungskasten geprüft.")
    expect(badge).to_be_visible()
    expect(badge.locator(".n")).to_have_text(str(before + 1))
    expect(reader.locator(".titem").first).to_have_id(f"t-{tid}")  # most recent activity first

    write(writer, "Und die Straßenlaterne vor Nr. 12 leuchtet auch wieder.")
    expect(badge.locator(".n")).to_have_text(str(before + 2))

    item.locator("a").click()
    reader.wait_for_url(f"**/threads/{tid}")
    expect(message(reader, "Straßenlaterne")).to_be_visible()
    reader.go_back()
    reader.wait_for_url("**/threads")
    expect(reader.locator(f"#t-{tid} .unread")).to_be_hidden()
    reader.reload()
    expect(reader.locator(f"#t-{tid} .unread")).to_be_hidden()


def test_an_edit_and_a_delete_through_the_htmx_forms_show_live_on_the_other_screen(
    screens: Screens,
) -> None:
    author = screens.open(WEBER, PHONE)
    other = screens.open(JAN, TABLET_DE_DARK)
    tid = thread_id(author, OUTAGE)
    open_thread(author, tid)
    open_thread(other, tid)
    original = "Licht ist wieder an."
    mine = message(author, original)
    msg_id = mine.get_attribute("id")
    assert msg_id and msg_id.startswith("msg-")
    # Only the author gets the menu with the edit and delete buttons.
    expect(other.locator(f"#{msg_id} .msg-actions")).to_be_hidden()

    mine.get_by_role("button", name="Message actions").click()
    mine.get_by_role("button", name="Edit").click()
    form = author.locator(f"#{msg_id}.editing form")
    expect(form.locator("textarea")).to_have_value(original + " Vielen Dank!")
    form.locator("textarea").fill("Licht ist wieder an, auch die Heizung läuft. Vielen Dank!")
    form.get_by_role("button", name="Save").click()
    for page in (author, other):
        edited = page.locator(f"#{msg_id}")
        expect(edited.locator(".body")).to_have_text(
            "Licht ist wieder an, auch die Heizung läuft. Vielen Dank!"
        )
        expect(edited.locator(".edited")).to_be_visible()
    expect(author.locator(f"#{msg_id} .edited")).to_have_text("edited")

    author.once("dialog", lambda dialog: dialog.accept())
    author.locator(f"#{msg_id}").get_by_role("button", name="Message actions").click()
    author.locator(f"#{msg_id}").get_by_role("button", name="Delete").click()
    for page in (author, other):
        gone = page.locator(f"#{msg_id}")
        expect(gone.locator(".tombstone")).to_be_visible()
        expect(gone.locator(".body")).to_have_count(0)
        expect(gone).not_to_contain_text("Heizung")
    expect(author.locator(f"#{msg_id} .tombstone")).to_have_text("This message was deleted.")

    other.reload()
    expect(other.locator(f"#{msg_id} .tombstone")).to_be_visible()


def test_the_customer_sees_when_the_employee_is_typing_and_the_german_ui_says_so_in_german(
    screens: Screens,
) -> None:
    customer = screens.open(WEBER, PHONE)
    employee = screens.open(JAN, TABLET_DE_DARK)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    open_thread(employee, tid)

    employee.locator("#body").press_sequentially("Ich schaue ", delay=20)
    expect(customer.locator("#typing")).to_have_text("Jan Petersen (staff) is typing…")
    expect(employee.locator("#typing")).to_have_text("")  # nobody sees their own typing

    # The employee's browser asks for German: the page and its live labels are German.
    expect(employee.locator("html")).to_have_attribute("lang", "de")
    expect(employee.locator("#composer button[type=submit]")).not_to_have_text("Send")
    assert employee.locator("#body").get_attribute("placeholder") != "Write a message…"
    customer.locator("#body").press_sequentially("Danke", delay=20)
    typing_de = employee.locator("#typing")
    expect(typing_de).to_contain_text("Gisela Weber")
    expect(typing_de).not_to_contain_text("is typing")
    expect(typing_de).not_to_contain_text("(staff)")

    # The notice fades once the typing stops.
    expect(customer.locator("#typing")).to_have_text("", timeout=8_000)


def test_both_screens_reconnect_by_themselves_after_a_server_restart_and_miss_nothing(
    screens: Screens,
) -> None:
    server = screens.server
    customer = screens.open(WEBER, PHONE)
    employee = screens.open(JAN, TABLET_DE_DARK)
    token = server.token(JAN)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    open_thread(employee, tid)
    lister = screens.open(TOM, PHONE)  # a third person watches the thread list
    unread = lister.locator(f"#t-{tid} .unread .n")
    before = int(unread.text_content() or 0)
    expect(customer.locator("#conn")).to_have_text("live")
    expect(employee.locator("#conn")).to_have_text("verbunden")

    server.stop()
    for page in (customer, employee, lister):
        expect(page.locator("#conn")).to_have_attribute("data-state", "reconnecting")
    expect(customer.locator("#conn")).to_have_text("reconnecting…")
    expect(employee.locator("#conn")).to_have_text("verbinde erneut…")

    server.start()
    during = "Kurze Wartung am Server – Ihre Meldung ist angekommen."
    api_post(server, token, tid, during)  # most likely before the pages are back: replayed
    for page in (customer, employee):
        expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
        wait_subscribed(page, 2)
    after = "Und wieder da: alle Haushalte in der Hafenstraße sind versorgt."
    api_post(server, token, tid, after)  # live
    for page in (customer, employee):
        confirmed(page, during)
        confirmed(page, after)
        expect(message(page, during).locator(".staff-badge")).to_be_visible()
    expect(customer.locator("#conn")).to_have_text("live")
    expect(lister.locator("#conn")).to_have_attribute("data-state", "live")
    expect(unread).to_have_text(str(before + 2))  # also what happened while it was away
    # The order is the thread's order: the replayed message comes before the live one.
    last_two = customer.locator("#messages > li .body").all_inner_texts()[-2:]
    assert last_two == [during, after]


def test_a_staff_note_is_tinted_and_labelled_for_staff_and_never_reaches_the_customer(
    screens: Screens,
) -> None:
    server = screens.server
    customer = screens.open(WEBER, PHONE)
    employee = screens.open(JAN, TABLET_EN_DARK)
    token = server.token(JAN)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    open_thread(employee, tid)

    secret = "Grid team: cable joint at Hafenstraße 14 is provisional, replace next week."
    api_post(server, token, tid, secret, audience="staff")
    note = message(employee, secret)
    expect(note).to_be_visible()
    expect(note).to_have_class(re.compile(r"\bstaff-note\b"))
    expect(note.locator(".note-badge")).to_have_text("Staff note · only staff")
    note_bg = note.evaluate("el => getComputedStyle(el).backgroundColor")
    plain = employee.locator("#messages > li:not(.staff-note)").first
    assert note_bg != plain.evaluate("el => getComputedStyle(el).backgroundColor"), "not tinted"

    public = "All cables are repaired; thank you for your patience."
    api_post(server, token, tid, public)
    expect(message(customer, public)).to_be_visible()  # later than the note, so the note passed
    expect(customer.locator("#messages")).not_to_contain_text("cable joint")
    expect(customer.locator(".staff-note, .note-badge")).to_have_count(0)
    frames = customer.evaluate("() => JSON.stringify(window.__frames)")
    assert "cable joint" not in frames
    customer.reload()
    expect(message(customer, public)).to_be_visible()
    expect(customer.locator("#messages")).not_to_contain_text("cable joint")
    confirmed(employee, secret)


IPAD_SAFARI = (  # the tablet as Safari on an iPad names itself (Playwright emulates the rest)
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)


def test_sign_out_everywhere_else_sends_the_other_device_to_the_sign_in_page_at_once(
    screens: Screens,
) -> None:
    tablet = screens.open(None, {**TABLET_EN_DARK, "user_agent": IPAD_SAFARI})
    sign_in(tablet, LENA)  # through the form, as a person would; thread list open and live
    phone = screens.open(None, PHONE)
    sign_in(phone, LENA)
    phone.goto("/settings")
    sessions = phone.locator("#sessions .device")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="this browser")).to_have_count(1)
    expect(sessions.filter(has_text="Mobile Safari on iOS")).to_have_count(1)
    section = phone.locator("section[aria-labelledby=sessions-title]")
    section.scroll_into_view_if_needed()
    section.screenshot(path=SCREENSHOTS / "phone-sessions.png")
    phone.locator("#end-other-sessions").click()
    expect(sessions).to_have_count(1)
    tablet.wait_for_url(re.compile(r"/login\?next="))  # its socket closed (4401), it followed
    phone.goto("/threads")
    expect(phone.locator("#conn")).to_have_attribute("data-state", "live")
    tablet.goto("/threads")
    tablet.wait_for_url(re.compile(r"/login\?next="))  # the old cookie is worth nothing now


def test_a_frame_or_event_the_page_does_not_know_is_ignored_with_a_warning(
    screens: Screens,
) -> None:
    """A newer server may send what this page does not know yet (an old page kept open, an
    app cached offline): it warns in the console, shows nothing, and goes on with what follows."""
    server = screens.server
    page = screens.open(WEBER, PHONE)
    tid = thread_id(page, OUTAGE)
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type == "warning" else None)
    sockets: list[WebSocketRoute] = []

    def through(ws: WebSocketRoute) -> None:
        ws.connect_to_server()  # frames pass both ways; the test adds some of its own
        sockets.append(ws)

    page.route_web_socket(re.compile(r"/ws"), through)
    open_thread(page, tid)
    shown = page.locator("#messages > li").count()
    [ws] = sockets
    ws.send(json.dumps({"type": "poll.opened", "thread": tid}))
    unknown = {"type": "event", "thread": tid, "seq": None, "name": "idea.voted", "id": "x1"}
    ws.send(json.dumps({**unknown, "html": '<li id="msg-x1">A vote for an idea</li>'}))
    text = "Crews are on site, about one hour."
    api_post(server, server.token(JAN), tid, text)
    expect(message(page, text)).to_have_count(1)  # what follows still arrives, in order
    expect(page.locator("#messages > li")).to_have_count(shown + 1)
    expect(page.get_by_text("A vote for an idea")).to_have_count(0)
    assert any("unknown type poll.opened" in w for w in warnings), warnings
    assert any("unknown name idea.voted" in w for w in warnings), warnings


def test_a_link_to_one_message_opens_the_thread_there_below_the_top_bar(
    screens: Screens,
) -> None:
    """A notification or a shared link names one message: the phone shows it, not the end of
    the thread, and not hidden under the sticky top bar."""
    server = screens.server
    token = server.token(JAN)
    reader = screens.open(WEBER, PHONE)
    tid = thread_id(reader, OUTAGE)
    ids = [api_post(server, token, tid, f"Update {i}: crews are on site.") for i in range(14)]
    reader.goto(f"/threads/{tid}#msg-{ids[2]}")
    wait_subscribed(reader, 1)
    where = reader.evaluate(
        """(id) => ({top: document.getElementById(id).getBoundingClientRect().top,
                     bar: document.querySelector(".topbar").getBoundingClientRect().bottom,
                     height: innerHeight, scrolled: scrollY,
                     end: document.documentElement.scrollHeight - innerHeight})""",
        f"msg-{ids[2]}",
    )
    assert where["scrolled"] > 0, f"the thread did not scroll to the message: {where}"
    assert where["scrolled"] < where["end"] - 1, f"it opened at the end instead: {where}"
    assert where["bar"] - 1 <= where["top"] < where["height"] / 2, where
    # Without a link, the thread opens at its newest message as before.
    open_thread(reader, tid)
    newest_message_on_screen(reader)


def test_screenshots_of_the_main_screens_on_a_phone_and_a_tablet(screens: Screens) -> None:
    """Regenerate docs/screenshots/ (the README shows them) and check phones don't scroll
    sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    server = screens.server
    token = server.token(JAN)

    login = screens.open(None, PHONE)
    login.goto("/login")
    login.fill("#email", WEBER)
    no_horizontal_overflow(login)
    login.screenshot(path=SCREENSHOTS / "phone-login.png")

    customer = screens.open(WEBER, PHONE)
    no_horizontal_overflow(customer)
    customer.screenshot(path=SCREENSHOTS / "phone-threads.png")
    tid = thread_id(customer, OUTAGE)
    api_post(
        server,
        token,
        tid,
        "Grid team: the joint at **Hafenstraße 14** is provisional – replacement next week.",
        audience="staff",
    )

    customer.goto("/threads/new")
    customer.fill("#title", "Can I get my meter reading reminder by SMS?")
    no_horizontal_overflow(customer)
    customer.screenshot(path=SCREENSHOTS / "phone-new-thread.png")

    staff_phone = screens.open(JAN, PHONE)
    open_thread(staff_phone, tid)
    newest_message_on_screen(staff_phone)  # the staff note, posted last
    expect(staff_phone.locator(".staff-badge").last).to_be_in_viewport()
    staff_phone.locator("#body").fill("Ich bin in 10 Minuten vor Ort.")
    no_horizontal_overflow(staff_phone)
    staff_phone.screenshot(path=SCREENSHOTS / "phone-thread.png")

    open_thread(customer, tid)
    expect(customer.locator("#composer")).to_be_in_viewport()
    newest_message_on_screen(customer)
    no_horizontal_overflow(customer)
    customer.screenshot(path=SCREENSHOTS / "phone-thread-customer.png")

    tablet = screens.open(JAN, TABLET_EN_DARK)
    tablet.screenshot(path=SCREENSHOTS / "tablet-threads-dark.png")
    open_thread(tablet, tid)
    expect(tablet.locator(".staff-note").last).to_be_in_viewport()  # the newest of two
    tablet.screenshot(path=SCREENSHOTS / "tablet-thread-dark.png")

    desk = screens.open(JAN, DESK)  # the list beside the open thread
    open_thread(desk, tid)
    expect(desk.locator(".side-list")).to_be_visible()
    desk.screenshot(path=SCREENSHOTS / "desk-thread.png")

    german = screens.open(JAN, TABLET_DE_DARK)
    expect(german.locator("html")).to_have_attribute("lang", "de")
    german.screenshot(path=SCREENSHOTS / "tablet-threads-de.png")

    # The narrowest phone with the longest labels (German, staff badge): the top bar stays one
    # row, as on the tablet, in every connection state, and never makes the page wider.
    one_row = german.locator(".topbar").evaluate("el => el.getBoundingClientRect().height")
    narrow = screens.open(
        JAN, {**PHONE, "viewport": {"width": 360, "height": 740}, "locale": "de-DE"}
    )
    for state in ("connecting", "reconnecting", "offline", "live"):
        show_connection_state(narrow, state)
        no_horizontal_overflow(narrow)
        height = narrow.locator(".topbar").evaluate("el => el.getBoundingClientRect().height")
        assert height <= one_row + 1, f"the top bar wraps to {height}px when {state}"
    open_thread(narrow, tid)
    no_horizontal_overflow(narrow)
    expect(narrow.locator("#composer")).to_be_in_viewport()
    newest_message_on_screen(narrow)

    for name in ("phone-login", "phone-threads", "phone-new-thread", "phone-thread",
                 "tablet-thread-dark", "tablet-threads-de", "desk-thread"):  # fmt: skip
        png = SCREENSHOTS / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.stat().st_size < 400_000, f"{png.name} is too large for the README"
