"""Web Push in a real Chromium, end to end: "Notify me on this device" on /settings, the
device list, a reply in a followed thread reaching the push service, and the service worker's
push, notificationclick and pushsubscriptionchange handlers.

Headless Chromium cannot reach a real push service (its PushManager.subscribe never settles
offline, see /work/shared/TESTING.md), so an init script replaces PushManager.subscribe with
one that asks the local push service (tests/pushservice.py) for a subscription to the
applicationServerKey the page passes. Everything after that is real: notify.js, the server,
the push worker, VAPID, encryption, and the push service decrypting what arrives. The service
worker's real `push` event is fired through CDP ServiceWorker.deliverPushMessage. No API taps a
notification, so the worker's notificationclick logic (openFromNotification) is called on the
real notification, with focus()/openWindow() standing in for the permission a tap grants.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Worker,
    expect,
)

from tests.live import TIMEOUT_MS, LiveServer, SignedInDemo
from tests.pushservice import PushService, Subscription
from tests.test_browser import (
    JAN,
    OUTAGE,
    PHONE,
    SCREENSHOTS,
    WEBER,
    api_post,
    no_horizontal_overflow,
    sign_in,
    thread_id,
)

pytestmark = pytest.mark.browser

PUSH_WAIT_SECONDS = 15.0  # a push normally arrives within a second of the commit
CHARGING = "More charging points at the harbour"  # Tom's public idea; Weber has no part in it
PUSH_ON = "Notifications are on for this device."
NO_DEVICE = "No device gets notifications yet."
# A phone as the device list should name it: Chrome on Android.
ANDROID: dict[str, Any] = {
    **PHONE,
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36",
}

# Test instrumentation (pages only; workers get no init scripts):
# - records every Notification.requestPermission() call (the real one still runs);
# - PushManager.subscribe asks the local push service, through a function the test exposes,
#   for a subscription to the key the page passes; getSubscription returns it afterwards, as
#   a browser would (kept in localStorage, per origin, like the browser's own record).
PUSH_STUB = """
(() => {
  window.__permissionRequests = [];
  window.__subscribeCalls = [];
  if (!("Notification" in window) || !("PushManager" in window)) return;
  const request = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => {
    window.__permissionRequests.push(location.pathname);
    return request(...args);
  };
  const STORED = "__stubPushSubscription";
  const toB64url = (bytes) => btoa(String.fromCharCode(...bytes))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const fromB64url = (text) => Uint8Array.from(
    atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4)),
    (c) => c.charCodeAt(0));
  function subscription(data) {
    const key = fromB64url(data.applicationServerKey);
    return {
      endpoint: data.endpoint,
      expirationTime: null,
      options: { userVisibleOnly: true, applicationServerKey: key.buffer },
      getKey: (name) => fromB64url(data.keys[name]).buffer,
      toJSON: () => ({ endpoint: data.endpoint, expirationTime: null, keys: data.keys }),
      unsubscribe: async () => { localStorage.removeItem(STORED); return true; },
    };
  }
  PushManager.prototype.subscribe = async function (options) {
    const raw = options && options.applicationServerKey;
    const key = typeof raw === "string" ? raw : toB64url(new Uint8Array(raw.buffer || raw));
    window.__subscribeCalls.push({ userVisibleOnly: options.userVisibleOnly, key });
    if (options.userVisibleOnly !== true) {
      throw new DOMException("Chromium requires userVisibleOnly", "NotAllowedError");
    }
    if (Notification.permission !== "granted") {
      throw new DOMException("Registration failed - permission denied", "NotAllowedError");
    }
    const issued = await window.__pushServiceSubscribe(key);
    const data = { ...issued, applicationServerKey: key };
    localStorage.setItem(STORED, JSON.stringify(data));
    return subscription(data);
  };
  PushManager.prototype.getSubscription = async function () {
    const stored = localStorage.getItem(STORED);
    return stored ? subscription(JSON.parse(stored)) : null;
  };
})();
"""

NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.ready;
  return (await reg.getNotifications()).map(
    (n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data, timestamp: n.timestamp }));
}"""
CLOSE_NOTIFICATIONS = """async () => {
  const reg = await navigator.serviceWorker.ready;
  for (const n of await reg.getNotifications()) n.close();
}"""
WORKER_CONTROLS = "() => navigator.serviceWorker.controller !== null"
# Test instrumentation in the worker: records every showNotification() once it has settled
# (the real method still runs).
SHOW_RECORDER = """() => {
  if (self.__shows) return;
  self.__shows = [];
  const show = ServiceWorkerRegistration.prototype.showNotification;
  ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
    const tag = options && options.tag;
    return show.call(this, title, options).then(
      (done) => { self.__shows.push({ tag, ok: true }); return done; },
      (err) => { self.__shows.push({ tag, ok: false, error: String(err) }); throw err; });
  };
}"""

# Runs the worker's notificationclick logic (openFromNotification in sw.js) on the notification
# it shows, as a tap on it would. A real tap lets the handler focus or open a window; an
# evaluate() call is no tap and Chromium refuses both ("Not allowed to focus a window"), so for
# the duration of the call focus() and openWindow() stand in for the tap's permission: they
# record the call, focus() resolves with the client as the browser's does and openWindow()
# with null. Navigation (WindowClient.navigate) needs no permission and stays real.
CLICK = """async (tag) => {
  const found = await self.registration.getNotifications({ tag });
  if (found.length !== 1) throw new Error("expected one notification, found " + found.length);
  const calls = { focused: [], opened: [] };
  const focus = WindowClient.prototype.focus;
  WindowClient.prototype.focus = function () {
    calls.focused.push(this.url);
    return Promise.resolve(this);
  };
  self.clients.openWindow = (url) => {
    calls.opened.push(url);
    return Promise.resolve(null);
  };
  try {
    await openFromNotification({ notification: found[0] });
  } finally {
    WindowClient.prototype.focus = focus;
    delete self.clients.openWindow;
  }
  calls.left = (await self.registration.getNotifications({ tag })).length;
  return calls;
}"""

# Runs the worker's pushsubscriptionchange logic (resubscribe in sw.js) for a subscription the
# push service replaced: the old one (with the key it was made with) and the new one.
RESUBSCRIBE = """async ({ oldEndpoint, key, fresh }) => {
  const keyBytes = Uint8Array.from(
    atob(key.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((key.length + 3) % 4)),
    (c) => c.charCodeAt(0));
  await resubscribe({
    oldSubscription: { endpoint: oldEndpoint, options: { applicationServerKey: keyBytes.buffer } },
    newSubscription: { endpoint: fresh.endpoint, toJSON: () => fresh },
  });
}"""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    with PushService() as service:
        yield service


@pytest.fixture
def server(
    signed_in_demo: SignedInDemo, tmp_path: Path, push_service: PushService
) -> Iterator[LiveServer]:
    """A real server (with its push worker) that may push to the local push service."""
    with signed_in_demo.server(
        tmp_path, push_child=True, PUSH_TEST_ENDPOINT_PREFIX=push_service.endpoint_prefix
    ) as s:
        yield s


@pytest.fixture
def sessions(signed_in_demo: SignedInDemo) -> dict[str, Any]:
    """Browser storage states (cookies) of the demo people, by e-mail; valid on every copy."""
    return dict(signed_in_demo.states)


@dataclass
class Phones:
    """Browser contexts with notifications allowed and the push stub; collects page errors."""

    browser: Browser
    server: LiveServer
    push: PushService
    sessions: dict[str, Any]
    issued: list[tuple[str, Subscription]] = field(default_factory=list)  # (key, subscription)
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def _subscribe(self, key: str) -> dict[str, Any]:
        """Called by the page's PushManager.subscribe stub: a subscription to this key."""
        sub = self.push.subscribe(key)
        self.issued.append((key, sub))
        return sub.to_json()

    def context(
        self, email: str, device: dict[str, Any] = ANDROID, allow: bool = True
    ) -> BrowserContext:
        if email not in self.sessions:
            ctx = self.browser.new_context(base_url=self.server.url, **PHONE)
            ctx.set_default_timeout(TIMEOUT_MS)
            sign_in(ctx.new_page(), email)
            self.sessions[email] = ctx.storage_state()
            ctx.close()
        ctx = self.browser.new_context(
            base_url=self.server.url, storage_state=self.sessions[email], **device
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        if allow:
            ctx.grant_permissions(["notifications"], origin=self.server.url)
        ctx.expose_function("__pushServiceSubscribe", self._subscribe)
        ctx.add_init_script(PUSH_STUB)
        ctx.on("page", self._watch)
        self.contexts.append(ctx)
        return ctx

    def _watch(self, page: Page) -> None:
        page.on("pageerror", lambda err: self.errors.append(f"{page.url}: {err}"))

    def open(
        self, email: str, path: str, device: dict[str, Any] = ANDROID, allow: bool = True
    ) -> Page:
        """Open a page on a new device of this person, with its service worker in control
        (and notifications allowed, unless `allow` is False)."""
        page = self.context(email, device, allow).new_page()
        page.goto(path)
        page.wait_for_function(WORKER_CONTROLS)
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def phones(
    browser: Browser, server: LiveServer, push_service: PushService, sessions: dict[str, Any]
) -> Iterator[Phones]:
    p = Phones(browser, server, push_service, sessions)
    try:
        yield p
    finally:
        p.close()
    assert p.errors == [], "JavaScript errors in the pages"


# -- helpers ----------------------------------------------------------------------------------


def vapid_key(server: LiveServer) -> str:
    r = httpx.get(server.url + "/push/key", timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["public_key"])


def notifications_section(page: Page) -> None:
    """Open /settings and wait for the lazily loaded notifications section."""
    page.goto("/settings")
    expect(page.get_by_role("button", name="Notify me on this device")).to_be_visible()
    page.wait_for_function(WORKER_CONTROLS)


def turn_on(page: Page, phones: Phones) -> Subscription:
    """Tap "Notify me on this device" on /settings; return the subscription it registered."""
    notifications_section(page)
    before = len(phones.issued)
    page.get_by_role("button", name="Notify me on this device").tap()
    expect(page.locator("#push-status")).to_have_text(PUSH_ON)
    assert len(phones.issued) == before + 1, "the page did not subscribe exactly once"
    return phones.issued[-1][1]


def devices(page: Page) -> Any:
    return page.locator("#devices li.device")


def reload_until(page: Page, text: str, seconds: float = PUSH_WAIT_SECONDS) -> None:
    """Reload /settings until the device list shows `text` (the server records a delivery
    just after the push service answered)."""
    deadline = time.monotonic() + seconds
    while True:
        notifications_section(page)
        if text in page.locator("#devices").inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"the device list never showed {text!r}: {page.content()[-800:]}")
        page.wait_for_timeout(200)


@dataclass
class WorkerProbe:
    """CDP access to the page's service worker: push messages in, errors out, and a record of
    the notifications it has finished showing.

    Waiting for a notification by polling getNotifications() is not safe: Chromium drops a
    notification it is still displaying from the list when getNotifications() runs at the same
    moment, and it stays missing. So the probe waits until the worker's showNotification() has
    settled (a recorder wraps it), then reads getNotifications() once."""

    page: Page
    cdp: CDPSession
    origin: str
    worker: Worker
    registrations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    delivered: int = 0

    @classmethod
    def attach(cls, page: Page, origin: str) -> WorkerProbe:
        worker = service_worker(page)
        worker.evaluate(SHOW_RECORDER)
        cdp = page.context.new_cdp_session(page)
        probe = cls(page, cdp, origin, worker)
        cdp.on("ServiceWorker.workerRegistrationUpdated", probe._registrations)
        cdp.on("ServiceWorker.workerErrorReported", lambda e: probe.errors.append(e))
        cdp.send("ServiceWorker.enable")
        return probe

    def _registrations(self, event: dict[str, Any]) -> None:
        self.registrations.extend(event["registrations"])

    def registration_id(self) -> str:
        scope = self.origin + "/"
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            for reg in self.registrations:
                if reg["scopeURL"] == scope and not reg["isDeleted"]:
                    return str(reg["registrationId"])
            self.page.wait_for_timeout(50)  # CDP events are dispatched during Playwright calls
        raise AssertionError(f"no service worker registration for {scope}: {self.registrations}")

    def deliver(self, data: str) -> list[dict[str, Any]]:
        """Fire the worker's real `push` event with this payload; wait until the worker has
        shown its notification and return the notifications on screen."""
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": self.origin, "registrationId": self.registration_id(), "data": data},
        )
        self.delivered += 1
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while True:
            shows = self.worker.evaluate("self.__shows || null")
            assert shows is not None, "the service worker restarted (the recorder is gone)"
            if len(shows) >= self.delivered:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"push {data!r} showed no notification: {self.errors}")
            self.page.wait_for_timeout(50)
        failed = [s for s in shows if not s["ok"]]
        assert failed == [], f"showNotification failed: {failed}"
        assert len(shows) == self.delivered, f"a push showed several notifications: {shows}"
        return shown(self.page)


def shown(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(NOTIFICATIONS)
    return result


def closed_all(page: Page) -> None:
    """Close every notification and wait until none is listed."""
    page.evaluate(CLOSE_NOTIFICATIONS)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while left := shown(page):
        assert time.monotonic() < deadline, f"notifications stay after close(): {left}"
        page.wait_for_timeout(50)


def service_worker(page: Page) -> Worker:
    """Return the Playwright handle of the worker controlling the page."""
    page.wait_for_function(WORKER_CONTROLS)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not page.context.service_workers:
        if time.monotonic() > deadline:
            raise AssertionError("Playwright never saw the service worker")
        page.wait_for_timeout(50)
    return page.context.service_workers[0]


# -- tests ------------------------------------------------------------------------------------


def test_notifications_are_turned_on_only_after_a_tap_and_a_device_can_be_tested_and_removed(
    phones: Phones, server: LiveServer, push_service: PushService
) -> None:
    page = phones.open(WEBER, "/settings")
    notifications_section(page)
    expect(page.locator("#devices")).to_contain_text(NO_DEVICE)
    page.wait_for_timeout(300)  # anything asked for on load has been asked for by now
    assert page.evaluate("window.__permissionRequests") == [], "the page asked on load"
    assert page.evaluate("window.__subscribeCalls") == [], "the page subscribed on load"
    assert phones.issued == []

    page.get_by_role("button", name="Notify me on this device").tap()
    expect(page.locator("#push-status")).to_have_text(PUSH_ON)
    assert page.evaluate("window.__permissionRequests") == ["/settings"]
    key = vapid_key(server)
    assert page.evaluate("window.__subscribeCalls") == [{"userVisibleOnly": True, "key": key}]
    assert [k for k, _ in phones.issued] == [key], "subscribed with another key than /push/key"
    sub = phones.issued[0][1]
    expect(devices(page)).to_have_count(1)
    expect(devices(page).locator(".device-name")).to_have_text("Chrome on Android")
    expect(devices(page)).not_to_contain_text("last delivered")

    devices(page).get_by_role("button", name="Send test notification").tap()
    (received,) = push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    assert received.json() == {
        "kind": "test",
        "title": "Dreiklang",
        "body": "Notifications work on this device.",
        "url": "/settings",
        "tag": "test",
        "badge": 0,
    }
    assert received.headers["TTL"] == "600"
    assert received.headers["Urgency"] == "high"
    assert received.claims["aud"] == push_service.url
    reload_until(page, "last delivered")
    expect(devices(page)).to_have_count(1)
    expect(devices(page)).not_to_contain_text("last error")

    devices(page).get_by_role("button", name="Remove").tap()
    expect(page.locator("#devices")).to_contain_text(NO_DEVICE)
    expect(devices(page)).to_have_count(0)
    notifications_section(page)
    expect(devices(page)).to_have_count(0)
    assert len(push_service.messages(sub)) == 1
    assert page.evaluate("window.__permissionRequests") == [], "a reload asked again"


def test_when_the_browser_refuses_notifications_the_page_says_so_and_subscribes_nothing(
    phones: Phones,
) -> None:
    page = phones.open(WEBER, "/settings", allow=False)
    notifications_section(page)
    page.get_by_role("button", name="Notify me on this device").tap()
    expect(page.locator("#push-status")).to_contain_text("Notifications are blocked")
    assert page.evaluate("window.__permissionRequests") == ["/settings"]
    assert page.evaluate("window.__subscribeCalls") == []
    assert phones.issued == []
    expect(page.locator("#devices")).to_contain_text(NO_DEVICE)


def test_a_reply_in_a_followed_thread_reaches_the_push_service_for_the_subscribed_device(
    phones: Phones, server: LiveServer, push_service: PushService
) -> None:
    page = phones.open(WEBER, "/threads")
    tid = thread_id(page, CHARGING)
    page.goto(f"/threads/{tid}")
    follow = page.locator("#follow")
    follow.get_by_role("button", name="Follow").tap()
    expect(follow).to_contain_text("You follow this thread.")
    sub = turn_on(page, phones)  # Weber now looks at /settings, not at the thread

    token = server.token(JAN)
    api_post(server, token, tid, "Internal: the harbour lot is leased until 2027.", "staff")
    reply = "We are planning four more charging points at the harbour by spring."
    mid = api_post(server, token, tid, reply)

    (received,) = push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    note = received.json()
    assert note["kind"] == "reply"
    assert note["title"] == CHARGING
    assert note["url"] == f"/threads/{tid}#msg-{mid}"
    assert note["tag"] == f"thread-{tid}"
    assert note["body"].endswith(f"(staff): {reply}"), note["body"]
    assert "leased" not in json.dumps(note), "a staff note reached a customer's lock screen"
    assert isinstance(note["badge"], int) and note["badge"] >= 1
    assert received.headers["Topic"] == f"thread-{tid}"
    assert received.headers["Urgency"] == "normal"
    assert int(received.headers["TTL"]) > 0
    assert received.claims["sub"].startswith(("mailto:", "https:"))
    page.wait_for_timeout(1000)  # nothing else follows: not the staff note, not a duplicate
    assert len(push_service.messages(sub)) == 1


def test_the_service_worker_shows_every_push_as_a_notification_one_per_thread(
    phones: Phones, server: LiveServer
) -> None:
    page = phones.open(WEBER, "/threads")
    tid = thread_id(page, OUTAGE)
    probe = WorkerProbe.attach(page, server.url)
    first = {
        "kind": "reply",
        "title": "Stromausfall in der Hafenstraße",
        "body": "Jan Hoffmann (staff): Die Umschaltung ist erfolgt.",
        "url": f"/threads/{tid}#msg-first",
        "tag": f"thread-{tid}",
        "badge": 2,
    }
    (note,) = probe.deliver(json.dumps(first))
    assert {k: v for k, v in note.items() if k != "timestamp"} == {
        "title": first["title"],
        "body": first["body"],
        "tag": first["tag"],
        "data": {"url": first["url"]},
    }

    second = {**first, "body": "2 new replies, the latest from Tom Becker: Danke!",
              "url": f"/threads/{tid}#msg-second", "badge": 3}  # fmt: skip
    (note,) = probe.deliver(json.dumps(second))  # replaces the first: one per thread
    assert note["body"] == second["body"]
    assert note["data"] == {"url": second["url"]}
    assert note["tag"] == first["tag"]

    other = {**first, "title": CHARGING, "tag": "thread-other", "url": "/threads/other"}
    tags = {str(n["tag"]) for n in probe.deliver(json.dumps(other))}
    assert tags == {f"thread-{tid}", "thread-other"}, "one notification per thread"

    # Never silent: a push the worker cannot read still shows something (browsers withdraw the
    # permission from sites whose pushes show nothing). Each replaces the last (same tag); the
    # timestamp tells a new one from the one before.
    closed_all(page)
    last = 0
    for data in ("", "not JSON {", "null", "3", '"text"', "[1, 2]", '{"title": ""}'):
        (note,) = probe.deliver(data)
        assert note["title"] == "Dreiklang", data
        assert note["data"] == {"url": "/threads"}, data
        assert note["timestamp"] > last, data
        last = note["timestamp"]
    assert probe.errors == [], "the service worker reported errors"


def test_a_tap_on_a_notification_opens_the_thread_in_a_window_of_the_app(
    phones: Phones, server: LiveServer
) -> None:
    page = phones.open(WEBER, "/threads")
    tid = thread_id(page, OUTAGE)
    probe = WorkerProbe.attach(page, server.url)
    url = f"/threads/{tid}#msg-latest"

    def show(case: str, link: str = url) -> str:
        """Show a notification; return its tag (one of its own: Chromium may apply the close
        of a tapped notification late, to a newer one with the same tag)."""
        tag = f"thread-{tid}-{case}"
        note = {"kind": "reply", "title": OUTAGE, "body": "Jan: Update", "url": link,
                "tag": tag, "badge": 1}  # fmt: skip
        assert tag in [n["tag"] for n in probe.deliver(json.dumps(note))]
        return tag

    # A window of the app shows another page: it goes to the thread, and comes to the front.
    calls = probe.worker.evaluate(CLICK, show("elsewhere"))
    page.wait_for_url(server.url + url)
    expect(page.locator("#thread")).to_have_attribute("data-thread", tid)
    assert calls["focused"] == [server.url + "/threads"]
    assert calls["opened"] == []
    assert calls["left"] == 0, "the tapped notification stays on screen"

    # The window already shows the thread: it only comes to the front (no reload).
    page.wait_for_function(WORKER_CONTROLS)
    page.evaluate("window.__stayed = true")
    calls = probe.worker.evaluate(CLICK, show("there"))
    assert calls["focused"] == [page.url]
    assert calls["opened"] == []
    assert page.evaluate("window.__stayed") is True, "the thread was loaded again"

    # A link to another site is never followed.
    calls = probe.worker.evaluate(CLICK, show("phish", "https://evil.example/phish"))
    assert calls == {"focused": [], "opened": [], "left": 0}
    assert page.evaluate("window.__stayed") is True

    # No window of the app is open: a new one opens on the thread.
    tag = show("closed")
    page.close()  # the worker lives on for a while without a page
    calls = probe.worker.evaluate(CLICK, tag)
    assert calls == {"focused": [], "opened": [server.url + url], "left": 0}
    assert probe.errors == [], "the service worker reported errors"


def test_a_replaced_subscription_is_swapped_on_the_server_by_the_service_worker(
    phones: Phones, server: LiveServer, push_service: PushService
) -> None:
    page = phones.open(WEBER, "/settings")
    old = turn_on(page, phones)
    expect(devices(page)).to_have_count(1)
    key = vapid_key(server)
    fresh = push_service.subscribe(key)  # what the browser got from the push service instead

    service_worker(page).evaluate(
        RESUBSCRIBE, {"oldEndpoint": old.endpoint, "key": key, "fresh": fresh.to_json()}
    )

    notifications_section(page)
    expect(devices(page)).to_have_count(1)
    # Still the device the person named when turning notifications on, not a new stranger.
    expect(devices(page).locator(".device-name")).to_have_text("Chrome on Android")
    # The one device the server knows now pushes to the new subscription, not the old one.
    devices(page).get_by_role("button", name="Send test notification").tap()
    (received,) = push_service.wait_for(fresh, 1, PUSH_WAIT_SECONDS)
    assert received.json()["kind"] == "test"
    assert push_service.messages(old) == []


def test_screenshot_of_the_notification_settings_with_a_device_on_a_phone(
    phones: Phones, push_service: PushService
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = phones.open(WEBER, "/settings")
    sub = turn_on(page, phones)
    devices(page).get_by_role("button", name="Send test notification").tap()
    push_service.wait_for(sub, 1, PUSH_WAIT_SECONDS)
    reload_until(page, "last delivered")
    # The section's heading just below the sticky top bar, the device list in view.
    below_bar = page.evaluate(
        """() => {
          const bar = document.querySelector(".topbar").getBoundingClientRect().height;
          const title = document.getElementById("notifications-title");
          window.scrollTo(0, title.getBoundingClientRect().top + window.scrollY - bar - 12);
          return title.getBoundingClientRect().top >= bar;
        }"""
    )
    assert below_bar, "the heading is hidden under the top bar"
    expect(page.locator("#notifications-title")).to_be_in_viewport()
    expect(devices(page)).to_be_in_viewport()
    no_horizontal_overflow(page)
    png = SCREENSHOTS / "phone-notifications.png"
    page.screenshot(path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 400_000, f"{png.name} is too large for the README"
