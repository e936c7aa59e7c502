"""Dreiklang as an installed, offline-ready app: manifest, service worker, saved pages, the
offline outbox, caching and weight, the app badge, and accessibility of every main page.

The browser tests drive Debian's Chromium through Playwright against a real server (see
tests/test_browser.py and /work/shared/TESTING.md for the facts they rely on)."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    expect,
)
from starlette.testclient import TestClient

from server import assets
from server.assets import shell_urls, shell_version, static_url
from server.settings import Settings
from tests.live import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, LiveServer, SignedInDemo
from tests.test_browser import (
    JAN,
    OUTAGE,
    PHONE,
    RECORDER,
    SMART_METER,
    TABLET_EN_DARK,
    WEBER,
    confirmed,
    message,
    open_thread,
    sign_in,
    thread_id,
    wait_subscribed,
    write,
)

ADMIN = "admin@nordlicht.example"
IMMUTABLE = "public, max-age=31536000, immutable"
SAVED_COPY = "Offline — showing a saved copy"
# 60 kB until issue 15; photos and files added ~8 kB compressed (attachment rendering and
# upload queue in app.js and outbox.js, the viewer's 1.7 kB loader). The composer's attach.js
# and PhotoSwipe itself load only when used.
COLD_LOAD_MAX_BYTES = 70_000
WARM_LOAD_MAX_BYTES = 10_000

# -- what the page can tell about the app's storage -------------------------------------------

WORKER_CONTROLS = "() => navigator.serviceWorker.controller !== null"
OUTBOX = "() => Outbox.all().then(items => items.map(i => ({body: i.body, state: i.state})))"
SAVED_PAGES = """async () => {
  if (!(await caches.has("dk-pages"))) return [];
  const cache = await caches.open("dk-pages");
  return (await cache.keys()).map((r) => new URL(r.url).pathname);
}"""
CACHE_NAMES = "() => caches.keys()"

# Records the numbers the app puts on its icon; the real methods still run afterwards.
BADGE_RECORDER = """
(() => {
  window.__badges = [];
  window.__nativeBadge = "setAppBadge" in navigator;
  if (!window.__nativeBadge) return;
  const set = navigator.setAppBadge.bind(navigator);
  const clear = navigator.clearAppBadge.bind(navigator);
  navigator.setAppBadge = (n) => {
    window.__badges.push(n);
    return set(n).catch(() => undefined);
  };
  navigator.clearAppBadge = () => {
    window.__badges.push(0);
    return clear().catch(() => undefined);
  };
})();
"""


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def server(signed_in_demo: SignedInDemo, tmp_path: Path) -> Iterator[LiveServer]:
    with signed_in_demo.server(tmp_path) as s:
        yield s


@pytest.fixture
def sessions(signed_in_demo: SignedInDemo) -> dict[str, Any]:
    """Browser storage states (cookies) of the demo people, by e-mail; valid on every copy."""
    return dict(signed_in_demo.states)


@dataclass
class Devices:
    """Browser contexts on one server (one per person and device); collects page errors."""

    browser: Browser
    server: LiveServer
    sessions: dict[str, Any]
    contexts: list[BrowserContext] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page, who: str) -> None:
        page.on("pageerror", lambda err: self.errors.append(f"{who} {page.url}: {err}"))

    def session(self, email: str) -> Any:
        """Return the storage state of a signed-in person (signing in through the form once)."""
        if email not in self.sessions:
            ctx = self.context(None, PHONE)
            sign_in(ctx.new_page(), email)
            self.sessions[email] = ctx.storage_state()
            ctx.close()
            self.contexts.remove(ctx)
        return self.sessions[email]

    def context(self, email: str | None, device: dict[str, Any], *scripts: str) -> BrowserContext:
        """A new context (its own storage and service worker), signed in unless email is None."""
        state = self.session(email) if email else None
        ctx = self.browser.new_context(base_url=self.server.url, storage_state=state, **device)
        ctx.set_default_timeout(TIMEOUT_MS)
        for script in (RECORDER, *scripts):
            ctx.add_init_script(script)
        ctx.on("page", lambda page: self.watch(page, email or "anonymous"))
        self.contexts.append(ctx)
        return ctx

    def open(self, email: str | None, device: dict[str, Any] = PHONE, *scripts: str) -> Page:
        """Open the thread list (or, anonymous, the sign-in page) on a new device."""
        page = self.context(email, device, *scripts).new_page()
        if email is None:
            page.goto("/login")
        else:
            page.goto("/threads")
            expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        return page

    def close(self) -> None:
        for ctx in self.contexts:
            ctx.close()


@pytest.fixture
def devices(browser: Browser, server: LiveServer, sessions: dict[str, Any]) -> Iterator[Devices]:
    d = Devices(browser, server, sessions)
    try:
        yield d
    finally:
        d.close()
    assert d.errors == [], "JavaScript errors in the pages"


# -- helpers ----------------------------------------------------------------------------------


def worker_controls(page: Page) -> None:
    """Wait until the service worker is active and controls the page."""
    page.wait_for_function(WORKER_CONTROLS)


def outbox_bodies(page: Page) -> list[str]:
    return [item["body"] for item in page.evaluate(OUTBOX)]


def wait_outbox(page: Page, count: int) -> None:
    page.wait_for_function(f"() => Outbox.all().then(items => items.length === {count})")


def stored_bodies(server: LiveServer, email: str, tid: str) -> list[str]:
    """The message bodies the server has in a thread (newest first), as the API lists them."""
    r = httpx.get(
        f"{server.url}/api/v1/threads/{tid}/messages?limit=100",
        headers={"Authorization": f"Bearer {server.token(email)}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return [m["body"] for m in r.json()["messages"]]


def post(server: LiveServer, token: str, tid: str, body: str) -> None:
    r = httpx.post(
        f"{server.url}/api/v1/threads/{tid}/messages",
        headers={"Authorization": f"Bearer {token}"},
        json={"body": body, "client_id": uuid.uuid4().hex},
        timeout=10,
    )
    assert r.status_code == 201, r.text


def png_size(data: bytes) -> tuple[int, int]:
    """Return (width, height) from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


class HeadTags(HTMLParser):
    """Collect <meta name=…>, <link rel=…> and <script> tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.scripts: list[dict[str, str | None]] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and a.get("name"):
            self.meta[str(a["name"])] = str(a.get("content"))
        elif tag == "link" and a.get("rel"):
            self.links[str(a["rel"])] = str(a.get("href"))
        elif tag == "script":
            self.scripts.append(a)
        for key in ("href", "src"):
            if a.get(key):
                self.urls.append(str(a[key]))


def head_tags(html: str) -> HeadTags:
    parser = HeadTags()
    parser.feed(html)
    return parser


# -- manifest, icons and iOS tags (no browser needed) ------------------------------------------


def test_the_manifest_describes_a_standalone_app_with_icons_and_shortcuts(
    client: TestClient, settings: Settings
) -> None:
    r = client.get("/manifest.webmanifest")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/manifest+json")
    assert r.headers["cache-control"] == "no-cache"
    m = r.json()
    assert m["name"] == settings.app_name == "Dreiklang"
    assert m["short_name"] == settings.app_short_name
    assert m["id"] == "/"
    assert m["start_url"] == "/threads"
    assert m["scope"] == "/"
    assert m["start_url"].startswith(m["scope"])
    assert m["display"] == "standalone"
    assert m["theme_color"] == settings.theme_color
    assert m["background_color"] == settings.background_color
    assert re.fullmatch(r"#[0-9a-f]{6}", m["theme_color"]), m["theme_color"]
    assert re.fullmatch(r"#[0-9a-f]{6}", m["background_color"]), m["background_color"]
    assert m["description"]

    any_purpose = {i["sizes"] for i in m["icons"] if "any" in i.get("purpose", "any").split()}
    assert {"192x192", "512x512"} <= any_purpose
    assert any("maskable" in i.get("purpose", "").split() for i in m["icons"])
    for icon in m["icons"]:
        assert icon["type"] == "image/png"
        res = client.get(icon["src"])
        assert res.status_code == 200, icon["src"]
        assert res.headers["content-type"] == "image/png", icon["src"]
        width, height = png_size(res.content)
        assert f"{width}x{height}" == icon["sizes"], icon["src"]

    shortcuts = {s["name"]: s["url"] for s in m["shortcuts"]}
    assert shortcuts == {"My threads": "/threads", "New question": "/threads/new"}
    for url in shortcuts.values():
        assert url.startswith(m["scope"])


def test_every_page_links_the_manifest_and_has_the_ios_home_screen_tags(client: TestClient) -> None:
    tags = head_tags(client.get("/login").text)
    assert tags.links["manifest"] == "/manifest.webmanifest"
    assert tags.meta["apple-mobile-web-app-capable"] == "yes"
    assert tags.meta["mobile-web-app-capable"] == "yes"
    assert tags.meta["apple-mobile-web-app-title"] == "Dreiklang"
    assert tags.meta["apple-mobile-web-app-status-bar-style"] in {
        "default",
        "black",
        "black-translucent",
    }
    assert re.fullmatch(r"#[0-9a-f]{6}", tags.meta["theme-color"])
    assert "width=device-width" in tags.meta["viewport"]
    touch_icon = tags.links["apple-touch-icon"]
    res = client.get(touch_icon)
    assert res.status_code == 200
    assert res.headers["content-type"] == "image/png"
    width, height = png_size(res.content)
    assert width == height >= 180, "iOS wants a square icon of at least 180 px"


# -- service worker and caching (no browser needed) --------------------------------------------


def test_the_service_worker_is_never_cached_and_precaches_a_shell_that_loads(
    client: TestClient,
) -> None:
    r = client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["content-type"].startswith("text/javascript")
    source = r.text
    assert "__VERSION__" not in source and "__SHELL__" not in source
    assert f'const VERSION = "{shell_version()}";' in source
    shell = re.search(r"const SHELL = (\[.*?\]);", source)
    assert shell, "the worker has no precache list"
    urls = json.loads(shell.group(1))
    assert urls == shell_urls()
    assert "/offline" in urls
    # cache.addAll() fails as a whole if a single URL does: every one must load.
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_a_changed_shell_file_gives_the_service_worker_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "static"
    shutil.copytree(assets.STATIC_DIR, copy)

    def version() -> tuple[str, str]:
        assets.file_hash.cache_clear()
        assets.shell_version.cache_clear()
        return assets.shell_version(), assets.static_url("app.css")

    monkeypatch.setattr(assets, "STATIC_DIR", copy)
    try:
        original, css_url = version()
        assert version() == (original, css_url), "the version must be stable"
        (copy / "unrelated.txt").write_text("not part of the shell")
        assert version()[0] == original
        (copy / "app.css").write_text((copy / "app.css").read_text() + "\n/* changed */\n")
        changed, changed_css_url = version()
        assert changed != original
        assert changed_css_url != css_url, "a changed file must get a new URL"
        (copy / "sw.js").write_text((copy / "sw.js").read_text() + "\n// changed\n")
        assert version()[0] not in {original, changed}
    finally:
        monkeypatch.undo()
        assets.file_hash.cache_clear()
        assets.shell_version.cache_clear()


def test_hashed_static_files_are_immutable_and_others_must_be_revalidated(
    client: TestClient,
) -> None:
    for path in ("app.css", "app.js", "pwa.js", "outbox.js", assets.HTMX, "icons/icon-192.png"):
        hashed = client.get(static_url(path))
        assert hashed.status_code == 200, path
        assert hashed.headers["cache-control"] == IMMUTABLE, path
        plain = client.get(f"/static/{path}")
        assert plain.status_code == 200, path
        assert plain.headers["cache-control"] == "no-cache", path
    # Every static URL a page refers to is a hashed one.
    tags = head_tags(client.get("/login").text)
    static = [u for u in tags.urls if u.startswith("/static/")]
    assert static
    for url in static:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url


def test_text_responses_are_compressed_when_the_client_accepts_it(client: TestClient) -> None:
    paths = [
        "/login",
        "/manifest.webmanifest",
        "/sw.js",
        static_url("app.css"),
        static_url("app.js"),
        static_url(assets.HTMX),
    ]
    for path in paths:
        for accept, expected in (("br", "br"), ("gzip", "gzip"), ("br, gzip", "br")):
            r = client.get(path, headers={"Accept-Encoding": accept})
            assert r.status_code == 200, path
            assert r.headers.get("content-encoding") == expected, (path, accept)
            assert "accept-encoding" in r.headers.get("vary", "").lower(), path
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, path


# -- browser: installability --------------------------------------------------------------------


@pytest.mark.browser
def test_the_app_is_installable_in_chromium_after_sign_in(
    playwright: Playwright, server: LiveServer, tmp_path: Path
) -> None:
    # Only a persistent (non-incognito) profile reports installability.
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        base_url=server.url,
        **PHONE,
    )
    errors: list[str] = []
    try:
        ctx.set_default_timeout(TIMEOUT_MS)
        page = ctx.pages[0] if ctx.pages else ctx.new_page()
        page.on("pageerror", lambda err: errors.append(str(err)))
        sign_in(page, WEBER)
        worker_controls(page)
        cdp = ctx.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["url"] == f"{server.url}/manifest.webmanifest"
        assert manifest["errors"] == []
        installability: list[Any] = ["not asked yet"]
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while installability and time.monotonic() < deadline:
            installability = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            if installability:
                page.wait_for_timeout(100)  # the manifest or its icons may still be loading
        assert installability == []
        scope = page.evaluate("() => navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == f"{server.url}/"
        cdp.detach()
    finally:
        ctx.close()
    assert errors == []


# -- browser: offline ---------------------------------------------------------------------------


def visit_online(page: Page, tid: str) -> None:
    """Visit the thread list and a thread with the worker in control, so both are saved."""
    worker_controls(page)
    page.goto("/threads")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    open_thread(page, tid)
    page.wait_for_function(
        f"() => ({SAVED_PAGES})().then(p => p.includes('/threads') && p.includes('/threads/{tid}'))"
    )


@pytest.mark.browser
def test_offline_the_app_shows_saved_pages_and_delivers_what_was_written_once_back_online(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    never_visited = thread_id(customer, SMART_METER)
    visit_online(customer, tid)
    staff = devices.open(JAN, TABLET_EN_DARK)
    open_thread(staff, tid)
    banner = customer.locator(".saved-banner")
    expect(banner).to_be_hidden()

    customer.context.set_offline(True)
    customer.reload()
    expect(banner).to_be_visible()
    expect(banner).to_have_text(SAVED_COPY)
    expect(customer.locator("#thread")).to_have_attribute("data-thread", tid)
    expect(message(customer, "Licht ist wieder an.")).to_be_visible()
    expect(customer.locator("#conn")).to_have_attribute("data-state", "offline")

    customer.goto("/threads")
    expect(banner).to_be_visible()
    expect(customer.locator(f"#t-{tid}")).to_be_visible()

    for path in ("/settings", f"/threads/{never_visited}"):
        customer.goto(path)
        expect(customer.locator("h1")).to_have_text("You are offline")
        expect(banner).to_be_hidden()

    customer.goto(f"/threads/{tid}")
    expect(banner).to_be_visible()
    text = "Written in the cellar without any signal: the meter shows 4711 kWh."
    write(customer, text)
    pending = customer.locator("#messages > li.pending", has_text=text)
    expect(pending).to_be_visible()
    expect(pending.locator(".state")).to_have_text("waiting for connection")
    wait_outbox(customer, 1)
    assert outbox_bodies(customer) == [text]
    assert text not in stored_bodies(server, WEBER, tid)

    customer.context.set_offline(False)
    expect(message(staff, text)).to_have_count(1)
    confirmed(customer, text)
    expect(banner).to_be_hidden()  # brought up to date: no longer a saved copy
    wait_outbox(customer, 0)
    assert stored_bodies(server, JAN, tid).count(text) == 1
    staff.reload()
    expect(message(staff, text)).to_have_count(1)


@pytest.mark.browser
def test_a_message_written_offline_survives_closing_the_page_and_is_delivered_once(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    visit_online(customer, tid)
    staff = devices.open(JAN, TABLET_EN_DARK)
    open_thread(staff, tid)
    ctx = customer.context

    ctx.set_offline(True)
    customer.reload()  # the saved copy, without a socket
    expect(customer.locator("#conn")).to_have_attribute("data-state", "offline")
    text = "Written offline, then the app was closed. Meter: 815 kWh."
    write(customer, text)
    expect(customer.locator("#messages > li.pending .state")).to_have_text("waiting for connection")
    wait_outbox(customer, 1)
    customer.close()
    assert text not in stored_bodies(server, WEBER, tid)

    ctx.set_offline(False)
    again = ctx.new_page()
    open_thread(again, tid)
    confirmed(again, text)
    expect(message(staff, text)).to_have_count(1)
    wait_outbox(again, 0)
    assert stored_bodies(server, JAN, tid).count(text) == 1
    again.reload()
    confirmed(again, text)


# -- browser: a send the server refuses ---------------------------------------------------------


def write_refused(page: Page, server: LiveServer, tid: str, text: str) -> None:
    """Write a message the server refuses: staff closed the thread after the page opened it
    (the page itself refuses what it can tell is wrong, such as a text over the limit)."""
    r = httpx.patch(
        f"{server.url}/api/v1/threads/{tid}",
        headers={"Authorization": f"Bearer {server.token(JAN)}"},
        json={"status": "closed"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    write(page, text)


@pytest.mark.browser
def test_a_message_the_server_refuses_shows_as_failed_and_can_be_discarded_or_edited(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    before = stored_bodies(server, WEBER, tid)
    reason = "this thread is closed"

    first = "Written after the thread was closed."
    write_refused(customer, server, tid, first)
    failed = customer.locator("#messages > li.failed")
    expect(failed).to_have_count(1)
    expect(failed.locator(".state")).to_have_text(f"not sent: {reason}")
    wait_outbox(customer, 1)
    assert customer.evaluate(OUTBOX)[0]["state"] == "failed"
    failed.get_by_role("button", name="Discard").click()
    expect(failed).to_have_count(0)
    wait_outbox(customer, 0)

    second = "Written again, still closed."
    write_refused(customer, server, tid, second)
    expect(failed.locator(".state")).to_have_text(f"not sent: {reason}")
    # A reload shows what is still waiting on this device, failed as before.
    customer.reload()
    wait_subscribed(customer, 1)
    expect(failed.locator(".state")).to_have_text(f"not sent: {reason}")
    failed.get_by_role("button", name="Edit").click()
    expect(failed).to_have_count(0)
    expect(customer.locator("#body")).to_have_value(second)
    expect(customer.locator("#body")).to_be_focused()
    wait_outbox(customer, 0)

    assert stored_bodies(server, WEBER, tid) == before


# -- browser: sign-out --------------------------------------------------------------------------


@pytest.mark.browser
def test_signing_out_forgets_the_saved_pages_and_the_outbox(devices: Devices) -> None:
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    visit_online(customer, tid)
    write_refused(customer, devices.server, tid, "To a closed thread")  # stays, failed
    expect(customer.locator("#messages > li.failed")).to_have_count(1)
    wait_outbox(customer, 1)

    customer.goto("/settings")  # sign-out lives in Settings
    customer.get_by_role("button", name="Sign out on this device").click()
    customer.wait_for_url("**/login")
    assert customer.evaluate(SAVED_PAGES) == []
    assert customer.evaluate(OUTBOX) == []

    # Offline, the next person on this device finds nothing of the last one's threads.
    customer.context.set_offline(True)
    for path in ("/threads", f"/threads/{tid}"):
        customer.goto(path)
        expect(customer.locator("h1")).to_have_text("You are offline")
    expect(customer.locator("body")).not_to_contain_text(OUTAGE)


@pytest.mark.browser
def test_signed_out_from_another_device_the_tablet_forgets_the_saved_pages_and_the_outbox(
    devices: Devices,
) -> None:
    tablet = devices.open(WEBER, TABLET_EN_DARK)
    tid = thread_id(tablet, OUTAGE)
    visit_online(tablet, tid)
    write_refused(tablet, devices.server, tid, "To a closed thread")  # stays, failed
    wait_outbox(tablet, 1)
    assert tablet.evaluate(SAVED_PAGES) != []

    phone = devices.open(None)
    sign_in(phone, WEBER)  # a session of its own
    phone.goto("/settings")
    phone.locator("#end-other-sessions").click()
    expect(phone.locator("#sessions .device")).to_have_count(1)

    tablet.wait_for_url(re.compile(r"/login\?next="))  # its socket closed with 4401
    assert tablet.evaluate(SAVED_PAGES) == []
    assert tablet.evaluate(OUTBOX) == []


# -- browser: worker updates ------------------------------------------------------------------


@pytest.mark.browser
def test_a_new_worker_deletes_the_shell_caches_of_older_versions(devices: Devices) -> None:
    page = devices.open(None)
    worker_controls(page)
    current = f"dk-shell-{shell_version()}"
    page.wait_for_function(f"() => caches.keys().then(k => k.includes('{current}'))")
    precached = page.evaluate(
        f"""() => caches.open('{current}').then(c => c.keys())
                 .then(keys => keys.map(r => {{ const u = new URL(r.url);
                                                return u.pathname + u.search; }}))"""
    )
    assert sorted(precached) == sorted(shell_urls())

    # A cache left by an older version of the app, then a new worker takes over.
    page.evaluate(
        """async () => {
          const old = await caches.open("dk-shell-000000000000");
          await old.put("/static/app.css?v=000000000000", new Response("old"));
          const reg = await navigator.serviceWorker.getRegistration();
          await reg.unregister();
        }"""
    )
    assert "dk-shell-000000000000" in page.evaluate(CACHE_NAMES)
    page.reload()
    worker_controls(page)
    page.wait_for_function("() => caches.keys().then(k => !k.includes('dk-shell-000000000000'))")
    shells = [n for n in page.evaluate(CACHE_NAMES) if n.startswith("dk-shell-")]
    assert shells == [current]


# -- browser: weight of the thread page ---------------------------------------------------------


@dataclass
class Traffic:
    """Bytes on the wire per request, from CDP Network events (page or service worker)."""

    urls: dict[str, str] = field(default_factory=dict)
    encoding: dict[str, str] = field(default_factory=dict)
    from_worker: dict[str, bool] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)

    def on(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.responseReceived":
            rid, res = params["requestId"], params["response"]
            self.urls[rid] = res["url"]
            headers = {k.lower(): v for k, v in res["headers"].items()}
            self.encoding[rid] = headers.get("content-encoding", "")
            self.from_worker[rid] = bool(res.get("fromServiceWorker"))
        elif method == "Network.loadingFinished":
            self.done[params["requestId"]] = int(params["encodedDataLength"])
        elif method == "Network.loadingFailed":
            self.done[params["requestId"]] = 0

    def listen(self, cdp: CDPSession) -> None:
        for method in ("Network.responseReceived", "Network.loadingFinished"):
            cdp.on(method, lambda params, m=method: self.on(m, params))
        cdp.on("Network.loadingFailed", lambda params: self.on("Network.loadingFailed", params))

    def finished(self) -> bool:
        return bool(self.urls) and all(rid in self.done for rid in self.urls)

    def total(self) -> int:
        return sum(self.done.values())

    def by_path(self) -> dict[str, tuple[int, str, bool]]:
        out = {}
        for rid, url in self.urls.items():
            path = re.sub(r"^https?://[^/]+", "", url)
            out[path] = (self.done.get(rid, -1), self.encoding[rid], self.from_worker[rid])
        return out


def wait_until(page: Page, condition: Any, what: str) -> None:
    """Let Playwright dispatch CDP events until the condition holds."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


class WorkerNetwork:
    """Network events of a service worker: a browser-level CDP session attached to its target
    (events arrive wrapped in Target.receivedMessageFromTarget)."""

    def __init__(self, browser: Browser, script_url: str) -> None:
        self.cdp = browser.new_browser_cdp_session()
        self.traffic = Traffic()
        targets = self.cdp.send("Target.getTargets")["targetInfos"]
        worker = [t for t in targets if t["type"] == "service_worker" and t["url"] == script_url]
        assert len(worker) == 1, targets
        self.session = self.cdp.send(
            "Target.attachToTarget", {"targetId": worker[0]["targetId"], "flatten": False}
        )["sessionId"]
        self.cdp.on("Target.receivedMessageFromTarget", self.received)
        self.cdp.send(
            "Target.sendMessageToTarget",
            {
                "sessionId": self.session,
                "message": json.dumps({"id": 1, "method": "Network.enable"}),
            },
        )

    def received(self, params: dict[str, Any]) -> None:
        msg = json.loads(params["message"])
        if "method" in msg:
            self.traffic.on(msg["method"], msg.get("params", {}))

    def close(self) -> None:
        self.cdp.detach()


@pytest.mark.browser
def test_a_thread_with_fifty_messages_is_light_on_a_cold_load_and_lighter_on_a_warm_one(
    devices: Devices,
) -> None:
    server = devices.server
    token = server.token(WEBER)
    r = httpx.post(
        f"{server.url}/api/v1/threads",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "title": "Meter readings for the whole house",
            "body": "Here are the readings of all flats, one message each.",
            "client_id": uuid.uuid4().hex,
        },
        timeout=10,
    )
    assert r.status_code == 201, r.text
    tid = r.json()["thread"]["id"]
    for i in range(49):
        post(server, token, tid, f"Flat {i + 1}: the meter in the **cellar** shows {1000 + i} kWh.")

    ctx = devices.context(WEBER, PHONE)
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cold = Traffic()
    cold.listen(cdp)
    cdp.send("Network.enable")
    page.goto(f"/threads/{tid}")
    wait_subscribed(page, 1)
    expect(page.locator("#messages > li")).to_have_count(50)
    wait_until(page, cold.finished, "the cold load to finish")
    paths = cold.by_path()
    assert cold.total() <= COLD_LOAD_MAX_BYTES, paths
    for path in (f"/threads/{tid}", static_url("app.css"), static_url("app.js")):
        assert paths[path][1] in {"br", "gzip"}, (path, paths[path])
    assert not any(from_worker for _, _, from_worker in paths.values())

    # Nothing blocks the first render but the app's own stylesheet; scripts are deferred.
    blocking = page.evaluate(
        """() => performance.getEntriesByType("resource")
                 .filter((e) => e.renderBlockingStatus === "blocking")
                 .map((e) => new URL(e.name).pathname + new URL(e.name).search)"""
    )
    assert blocking == [static_url("app.css")]
    assert page.locator("script:not([defer]):not([async])").count() == 0
    styles = page.locator("link[rel=stylesheet]").evaluate_all("els => els.map(e => e.href)")
    assert styles == [server.url + static_url("app.css")]

    worker_controls(page)
    worker = WorkerNetwork(devices.browser, f"{server.url}/sw.js")
    warm = Traffic()
    warm.listen(cdp)
    page.reload()
    wait_subscribed(page, 1)
    expect(page.locator("#messages > li")).to_have_count(50)
    wait_until(page, warm.finished, "the warm load to finish")
    wait_until(page, worker.traffic.finished, "the worker's fetches to finish")
    page_paths, worker_paths = warm.by_path(), worker.traffic.by_path()
    worker.close()
    # The static files came from the worker's cache; the worker fetched the page itself.
    static = {p: v for p, v in page_paths.items() if p.startswith("/static/")}
    assert static and all(from_worker for _, _, from_worker in static.values()), page_paths
    assert f"/threads/{tid}" in worker_paths, worker_paths
    assert not any(p.startswith("/static/") for p in worker_paths), worker_paths
    assert worker_paths[f"/threads/{tid}"][1] in {"br", "gzip"}
    warm_bytes = warm.total() + worker.traffic.total()
    assert 0 < warm_bytes <= WARM_LOAD_MAX_BYTES, (page_paths, worker_paths)
    cdp.detach()


# -- browser: app badge -------------------------------------------------------------------------


@pytest.mark.browser
def test_the_thread_list_puts_the_total_of_unread_messages_on_the_app_icon(
    devices: Devices,
) -> None:
    server = devices.server
    staff_token = server.token(JAN)
    customer = devices.open(WEBER, PHONE, BADGE_RECORDER)
    if not customer.evaluate("() => window.__nativeBadge"):
        pytest.skip("this Chromium has no navigator.setAppBadge")
    tid = thread_id(customer, OUTAGE)
    post(server, staff_token, tid, "The crew is on its way to the Hafenstraße.")
    customer.reload()
    expect(customer.locator("#conn")).to_have_attribute("data-state", "live")

    r = httpx.get(
        f"{server.url}/api/v1/threads?limit=100",
        headers={"Authorization": f"Bearer {server.token(WEBER)}"},
        timeout=10,
    )
    unread = sum(t["unread"] for t in r.json()["threads"])
    assert unread > 0
    customer.wait_for_function("n => window.__badges.at(-1) === n", arg=unread)

    post(server, staff_token, tid, "Power is back on in the whole street.")
    customer.wait_for_function("n => window.__badges.at(-1) === n", arg=unread + 1)


# -- browser: accessibility ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def axe_script() -> str:
    try:
        from axe_playwright_python.base import AXE_SCRIPT
    except ImportError:  # pragma: no cover - the test extra installs it
        if os.environ.get("CI"):
            pytest.fail("axe-playwright-python is missing: pip install -e '.[test]'")
        pytest.skip("axe-playwright-python is missing: pip install -e '.[test]'")
    return str(AXE_SCRIPT)


def axe_violations(page: Page, axe: str) -> list[str]:
    """Run axe-core on the page once the fragments it loads by itself (htmx) are in place."""
    page.wait_for_function("() => !document.querySelector('[hx-trigger=load], .htmx-request')")
    page.evaluate(axe)
    found = page.evaluate(
        """() => axe.run(document, {resultTypes: ["violations"]}).then((r) => r.violations.map(
             (v) => `${v.id} (${v.impact}): ${v.help} — ` +
                    v.nodes.map((n) => n.target.join(" ") + " " + n.failureSummary).join(" | ")))"""
    )
    return [f"{page.url}: {v}" for v in found]


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_main_page_has_no_accessibility_violations(
    devices: Devices, axe_script: str, scheme: str
) -> None:
    device = {**PHONE, "color_scheme": scheme}
    found: list[str] = []

    anonymous = devices.open(None, device)
    for path in ("/login", "/signup", "/offline"):
        anonymous.goto(path)
        found += axe_violations(anonymous, axe_script)

    customer = devices.open(WEBER, device)
    tid = thread_id(customer, OUTAGE)
    found += axe_violations(customer, axe_script)
    open_thread(customer, tid)
    found += axe_violations(customer, axe_script)
    for path in ("/threads/new", "/settings", "/search?q=Strom", "/mentions"):
        customer.goto(path)
        expect(customer.locator("#conn")).to_have_attribute("data-state", "live")
        found += axe_violations(customer, axe_script)

    staff = devices.open(JAN, device)
    open_thread(staff, tid)
    found += axe_violations(staff, axe_script)

    admin = devices.open(ADMIN, device)
    admin.goto("/admin")
    expect(admin.locator("#conn")).to_have_attribute("data-state", "live")
    found += axe_violations(admin, axe_script)

    assert found == [], "\n".join(found)
