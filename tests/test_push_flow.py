"""End to end: what happens in a thread becomes one encrypted, signed push on the right devices.

A real server (a uvicorn subprocess with the demo company) sends through pywebpush to the local
push service (tests/pushservice.py, a subprocess so it can be taken down and brought back). The
service checks the VAPID JWT like FCM and autopush do, decrypts each message with the keys it
issued the subscription with, and records what a browser's service worker would get. People use
the server as a browser does (form posts, JSON with the x-csrftoken header) or over the JSON API
and sockets. The basic flow runs on SQLite and PostgreSQL; the other scenarios share one SQLite
server, each with its own threads and devices.

The last part drives the push worker by hand against a real database, for what a live server
cannot show deterministically: a message read, deleted or on screen before the worker runs,
and replies piling up in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from push.expansion import INTENT_MAX_AGE_SECONDS
from push.vapid import VapidKeys, load_or_create
from push.worker import PushConfig, PushWorker
from server.actions.accounts import create_user
from server.actions.messages import delete_message, send_message
from server.actions.notifications import save_subscription
from server.actions.reads import mark_read
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.models import (
    NotificationIntent,
    PushJob,
    PushJobState,
    PushSubscription,
    Role,
    Thread,
    User,
)
from server.publisher import Publisher
from server.settings import Settings
from tests.conftest import (
    DEMO_PASSWORD,
    PASSWORD,
    csrf_of,
    make_settings,
    signup,
)
from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import WAIT_SECONDS, Api, Scene, WsClient, new_client_id
from tests.pushservice import PushService, Received, Subscription

SUBJECT = "mailto:ops@nordlicht.example"
WEBER = "weber@example.org"  # customer
TOM = "tom@example.org"  # customer
LENA = "lena@example.org"  # customer
JAN = "jan@nordlicht.example"  # Jan Petersen, employee, team "Field service"
MIRA = "mira@nordlicht.example"  # Mira Yilmaz, employee, team "Billing"
OLE = "ole@nordlicht.example"  # Ole Hansen, employee, team "Grid operations"

PUSH_SECONDS = 15.0  # a push the worker sends at once arrives well within this
RETRY_SECONDS = 30.0  # a retried push waits out a 5 s backoff; this bounds the wait
QUIET_SECONDS = 1.0  # after the push that proves the worker ran, stray pushes show up by then
REPLY_TTL = str(2 * 24 * 3600)


# -- the site: server, push service, people ---------------------------------------------------


@dataclass
class PushSite:
    server: LiveServer
    service: PushService
    key: str  # the server's VAPID public key (applicationServerKey)


@contextlib.contextmanager
def running_site(database_url: str, tmp: Path, demo: DemoTemplates) -> Iterator[PushSite]:
    """Start the push service, then the demo server that may send to it."""
    service = PushService(subprocess_dir=tmp / "pushservice")
    service.start()
    (tmp / "server").mkdir(parents=True, exist_ok=True)
    env = {"PUSH_TEST_ENDPOINT_PREFIX": service.endpoint_prefix, "VAPID_SUBJECT": SUBJECT}
    server = LiveServer(database_url, tmp / "server", env_extra=env, push_child=True)
    try:
        demo.load_into(server)
        server.start()
        key = httpx.get(server.url + "/push/key", trust_env=False).json()["public_key"]
        yield PushSite(server, service, key)
    finally:
        server.stop()
        service.stop()


@pytest.fixture
def site(database_url: str, tmp_path: Path, demo_templates: DemoTemplates) -> Iterator[PushSite]:
    """A fresh server and push service, on SQLite and (if configured) PostgreSQL."""
    with running_site(database_url, tmp_path, demo_templates) as s:
        yield s


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory, demo_templates: DemoTemplates
) -> Iterator[PushSite]:
    """One SQLite server and push service for the scenarios."""
    tmp = tmp_path_factory.mktemp("push-flow")
    with running_site(f"sqlite://{tmp / 'db.sqlite3'}", tmp, demo_templates) as s:
        yield s


@dataclass(frozen=True)
class Device:
    """A browser's push subscription, registered with the server."""

    sub: Subscription
    id: str
    label: str


class Browser:
    """A person signed in through the sign-in form: cookies, and the token scripts send."""

    def __init__(self, site: PushSite) -> None:
        self.site = site
        self.http = httpx.AsyncClient(
            base_url=site.server.url, timeout=WAIT_SECONDS, trust_env=False
        )
        self.devices: list[Device] = []

    async def sign_in(self, email: str) -> None:
        await self.http.get("/login")
        r = await self.form("/login", email=email, password=DEMO_PASSWORD)
        assert r.status_code == 303, r.text

    @property
    def csrf(self) -> str:
        return str(self.http.cookies["dreiklang_csrf"])

    async def form(self, path: str, **data: str) -> httpx.Response:
        """Submit a form as the page does, with the CSRF field."""
        return await self.http.post(path, data={**data, "csrftoken": self.csrf})

    async def start_thread(self, title: str, body: str = "The meter display blinks.") -> str:
        """Open a thread through the form, then its page (which marks it read)."""
        r = await self.form("/threads", title=title, body=body, client_id=new_client_id())
        assert r.status_code == 303, r.text
        path = r.headers["location"]
        assert (await self.http.get(path)).status_code == 200
        return str(path.rsplit("/", 1)[1])

    async def write(self, thread: str, body: str) -> None:
        """Send a message through the form fallback."""
        r = await self.form(f"/threads/{thread}/messages", body=body, client_id=new_client_id())
        assert r.status_code == 303, r.text

    async def follow(self, thread: str, state: str) -> None:
        r = await self.form(f"/threads/{thread}/follow", state=state)
        assert r.status_code == 303, r.text

    async def add_device(self, label: str) -> Device:
        """Subscribe at the push service as PushManager.subscribe() would, then register the
        subscription like the settings page's script: JSON with the x-csrftoken header."""
        sub = await asyncio.to_thread(self.site.service.subscribe, self.site.key)
        r = await self.http.post(
            "/push/devices", json={**sub.to_json(), "label": label},
            headers={"x-csrftoken": self.csrf},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        device = Device(sub, str(r.json()["id"]), label)
        self.devices.append(device)
        return device

    async def devices_html(self) -> str:
        r = await self.http.get("/settings/devices", headers={"HX-Request": "true"})
        assert r.status_code == 200, r.text
        return str(r.text)

    async def close(self) -> None:
        """Remove this browser's devices (the server is shared), then close."""
        for device in self.devices:
            await self.http.post(
                f"/push/devices/{device.id}/delete", headers={"x-csrftoken": self.csrf}
            )
        await self.http.aclose()


class Cast:
    """The people of one test: browsers, API clients and sockets, closed at the end."""

    def __init__(self, site: PushSite) -> None:
        self.site = site
        self.scene = Scene(site.server)
        self.browsers: list[Browser] = []

    async def __aenter__(self) -> Cast:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            for browser in self.browsers:
                await browser.close()
        finally:
            await self.scene.__aexit__(*exc_info)

    async def browser(self, email: str) -> Browser:
        b = Browser(self.site)
        self.browsers.append(b)
        await b.sign_in(email)
        return b

    async def api(self, email: str) -> Api:
        return await self.scene.person(email)

    async def socket(self, who: Api) -> WsClient:
        return await self.scene.socket(who)


async def pushes(site: PushSite, device: Device, count: int = 0, timeout: float = 0) -> list[Any]:
    """Return the decrypted payloads a device got, waiting up to `timeout` s for `count`."""
    return [m.json() for m in await received(site, device, count, timeout)]


async def received(
    site: PushSite, device: Device, count: int = 0, timeout: float = 0
) -> list[Received]:
    return await site.service.wait_for_async(device.sub, count, timeout)


async def exactly(
    site: PushSite, device: Device, count: int, timeout: float = PUSH_SECONDS
) -> list[Received]:
    """Wait for `count` pushes, then make sure no more follow."""
    await received(site, device, count, timeout)
    await asyncio.sleep(QUIET_SECONDS)
    got = await received(site, device)
    assert len(got) == count, [m.json() for m in got]
    return got


async def message_id(response: httpx.Response) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()["message"]["id"])


async def wait_until(check: Callable[[], Any], what: str, timeout: float = PUSH_SECONDS) -> None:
    """Poll an async check until it is true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.2)


# -- the basic flow, on both databases --------------------------------------------------------


async def test_a_reply_reaches_a_followers_device_once_encrypted_signed_and_linked_to_it(
    site: PushSite,
) -> None:
    title = "Smart meter display shows E-04"
    async with Cast(site) as cast:
        weber, jan_browser = await cast.browser(WEBER), await cast.browser(JAN)
        jan, weber_api = await cast.api(JAN), await cast.api(WEBER)
        thread = await weber.start_thread(title, "Since this morning the display shows E-04.")
        phone = await weber.add_device("Phone of Gisela")
        tablet = await jan_browser.add_device("Tablet of Jan")
        assert "Phone of Gisela" in await weber.devices_html()
        assert "Phone of Gisela" not in await jan_browser.devices_html()

        assert (await jan_browser.http.get(f"/threads/{thread}")).status_code == 200  # read
        sent_at = time.time()
        reply = await message_id(await jan.post(thread, "We swap the meter on Tuesday, 8-12."))
        [push] = await exactly(site, phone, 1)
        listed = (await weber_api.http.get("/api/v1/threads")).json()["threads"]
        unread = sum(t["unread"] for t in listed)  # the app icon's badge
        assert push.json() == {
            "kind": "reply",
            "title": title,
            "body": "Jan Petersen (staff): We swap the meter on Tuesday, 8-12.",
            "url": f"/threads/{thread}#msg-{reply}",
            "tag": f"thread-{thread}",
            "badge": unread,
        }
        assert unread >= 1
        assert push.headers == {"TTL": REPLY_TTL, "Urgency": "normal", "Topic": f"thread-{thread}"}
        # The service verified the JWT's signature and k; these are the claims it read.
        assert push.claims["aud"] == site.service.url
        assert push.claims["sub"] == SUBJECT
        assert sent_at < push.claims["exp"] <= sent_at + 24 * 3600
        # Jan wrote it and follows the thread now: nothing for him about his own message.
        assert await pushes(site, tablet) == []

        await weber.write(thread, "Tuesday works, thank you!")
        [back] = await exactly(site, tablet, 1)
        # One new reply for Jan: his own, sent over the API (which marks nothing read), is no news.
        assert back.json()["body"] == "Gisela Weber: Tuesday works, thank you!"
        assert back.json()["url"].startswith(f"/threads/{thread}#msg-")
        assert len(await received(site, phone)) == 1, "nothing for her own message"
        assert site.service.stats()["refusals"] == []


# -- who hears about what ---------------------------------------------------------------------


async def test_a_customer_following_a_public_thread_hears_nothing_of_a_staff_note(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber, mira = await cast.browser(WEBER), await cast.browser(MIRA)
        thread = await weber.start_thread("Advance payment went up by 30 euros")
        await mira.follow(thread, "following")
        phone, laptop = await weber.add_device("Phone"), await mira.add_device("Laptop")
        jan = await cast.socket(await cast.api(JAN))
        note = "Staff note: meter was estimated, not read."
        ack = await jan.send_message(thread, note, audience="staff")
        assert ack["duplicate"] is False
        [push] = await exactly(site, laptop, 1)  # staff following the thread hear about it
        assert push.json()["body"].endswith("Jan Petersen (staff): " + note)
        assert push.json()["url"] == f"/threads/{thread}#msg-{ack['id']}"
        assert await pushes(site, phone) == []
        await jan.send_message(thread, "Dear Mrs Weber, we will read the meter again.")
        [public] = await pushes(site, phone, 1, PUSH_SECONDS)
        assert "estimated" not in str(public) and public["body"].startswith("Jan Petersen")


async def test_a_mention_by_handle_or_team_notifies_people_not_following_with_high_urgency(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan, mira, ole = [await cast.browser(e) for e in (JAN, MIRA, OLE)]
        thread = await weber.start_thread("Meter cabinet door is broken")
        devices = {name: await b.add_device("Phone") for name, b in
                   (("jan", jan), ("mira", mira), ("ole", ole))}  # fmt: skip
        await weber.write(
            thread, "Could @field-service fix it? And @mira, bill me. Not ole@nordlicht.example."
        )
        for name in ("jan", "mira"):
            [push] = await exactly(site, devices[name], 1)
            assert push.json()["kind"] == "mention"
            assert push.json()["body"].startswith(
                "Gisela Weber mentioned you: Could @field-service"
            )
            assert push.headers["Urgency"] == "high" and push.headers["TTL"] == REPLY_TTL
        assert await pushes(site, devices["ole"]) == [], "an e-mail address is no mention"
        # Mentions do not make anyone follow: Weber's next message reaches nobody of them.
        await weber.write(thread, "Thanks, @jan!")
        [_, again] = await exactly(site, devices["jan"], 2)
        assert again.json()["body"] == "Gisela Weber mentioned you: Thanks, @jan!"
        assert len(await received(site, devices["mira"])) == 1


async def test_the_follow_button_and_mute_decide_who_hears_about_replies_but_not_mentions(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber, tom = await cast.browser(WEBER), await cast.browser(TOM)
        jan = await cast.api(JAN)
        thread = await weber.start_thread("Street light flickers in Hafenstrasse")
        phone, toms = await weber.add_device("Phone"), await tom.add_device("Phone")
        await jan.post(thread, "Thanks, we will check it.")
        await exactly(site, phone, 1)
        assert await pushes(site, toms) == [], "Tom does not follow yet"

        await tom.follow(thread, "following")
        r = await tom.http.get(f"/threads/{thread}/follow")
        assert "You follow this thread." in r.text
        await jan.post(thread, "A technician is on the way.")
        assert (await pushes(site, toms, 1, PUSH_SECONDS))[0]["body"].endswith("on the way.")
        await received(site, phone, 2, PUSH_SECONDS)  # delivered, so it cannot merge below

        await tom.follow(thread, "muted")
        assert "Muted" in (await tom.http.get(f"/threads/{thread}/follow")).text
        await jan.post(thread, "Fixed.")
        await exactly(site, phone, 3)
        assert len(await received(site, toms)) == 1, "a muted thread stays quiet"
        await jan.post(thread, "@tom the light is fixed, as you asked.")
        [*_, mention] = await exactly(site, toms, 2)
        assert mention.json()["kind"] == "mention"


async def test_a_status_change_notifies_the_threads_author(shared: PushSite) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan = await cast.api(JAN)
        thread = await weber.start_thread("When is the next meter reading?")
        phone = await weber.add_device("Phone")
        r = await jan.http.patch(f"/api/v1/threads/{thread}", json={"status": "answered"})
        assert r.status_code == 200, r.text
        [push] = await exactly(site, phone, 1)
        assert push.json()["kind"] == "status"
        assert push.json()["body"] == "Status: Answered"
        assert push.json()["url"] == f"/threads/{thread}"


async def test_a_recipient_with_the_thread_open_gets_no_push_until_they_leave(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber, mira = await cast.browser(WEBER), await cast.browser(MIRA)
        jan, weber_api = await cast.api(JAN), await cast.api(WEBER)
        thread = await weber.start_thread("Solar feed-in is not on my bill")
        await mira.follow(thread, "following")
        phone, laptop = await weber.add_device("Phone"), await mira.add_device("Laptop")
        watching = await cast.socket(weber_api)
        await watching.subscribe(thread, None)
        await jan.post(thread, "Checking with billing.")
        await watching.next_of_type("event", thread=thread)  # she sees it live
        await exactly(site, laptop, 1)  # the same message reaches Mira's laptop
        assert await pushes(site, phone) == [], "she is looking at the thread"
        await watching.send_json({"type": "unsubscribe", "thread": thread})
        await watching.next_of_type("unsubscribed", thread=thread)
        await jan.post(thread, "Found it: the feed-in is on page 2.")
        [push] = await exactly(site, phone, 1)
        assert push.json()["body"].endswith("Found it: the feed-in is on page 2.")


async def test_quiet_hours_hold_back_a_reply_but_let_a_mention_through(
    shared: PushSite,
) -> None:
    site = shared
    zone = "America/New_York"
    local = datetime.now(ZoneInfo(zone))
    window = {"quiet_start": (local - timedelta(hours=1)).strftime("%H:%M"),
              "quiet_end": (local + timedelta(hours=1)).strftime("%H:%M")}  # fmt: skip
    async with Cast(site) as cast:
        weber, lena = await cast.browser(WEBER), await cast.browser(LENA)
        jan = await cast.api(JAN)
        r = await lena.form(
            "/settings/notifications", replies="1", mentions="1", status_changes="1",
            quiet_hours="1", time_zone=zone, urgent_in_quiet_hours="1", **window,
        )  # fmt: skip
        assert r.status_code == 303, r.text
        try:
            thread = await weber.start_thread("Gas smell near the substation?")
            await lena.follow(thread, "following")
            phone, lenas = await weber.add_device("Phone"), await lena.add_device("Phone")
            await jan.post(thread, "We are sending someone now.")
            await exactly(site, phone, 1)  # the same reply, to someone without quiet hours
            assert await pushes(site, lenas) == [], "quiet hours hold back a reply"
            await jan.post(thread, "@lena please keep your windows closed.")
            [push] = await exactly(site, lenas, 1)
            assert push.json()["kind"] == "mention"
            assert push.headers["Urgency"] == "high"
        finally:
            r = await lena.form("/settings/notifications", replies="1", mentions="1",
                                status_changes="1", time_zone=zone)  # fmt: skip
            assert r.status_code == 303


# -- what the push service answers ------------------------------------------------------------


async def test_a_device_the_push_service_calls_gone_is_forgotten(shared: PushSite) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan = await cast.api(JAN)
        thread = await weber.start_thread("Old phone still gets notifications?")
        phone = await weber.add_device("Old phone 410")
        assert "Old phone 410" in await weber.devices_html()
        site.service.expire(phone.sub)
        await jan.post(thread, "Please check your settings.")

        async def forgotten() -> bool:
            return "Old phone 410" not in await weber.devices_html()

        await wait_until(forgotten, "forgetting the expired device")
        assert await pushes(site, phone) == []
        r = await weber.http.post(
            f"/push/devices/{phone.id}/test", headers={"x-csrftoken": weber.csrf}
        )
        assert r.status_code == 404, "the device is gone for good"
        weber.devices.remove(phone)


async def test_a_push_refused_with_429_is_retried_after_a_pause_and_delivered_once(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan = await cast.api(JAN)
        thread = await weber.start_thread("Meter reading appointment")
        phone = await weber.add_device("Phone 429")
        site.service.fail_next(429, retry_after="1", body="slow down")
        attempts = site.service.stats()["attempts"]
        sent_at = time.time()
        await jan.post(thread, "How about Friday?")
        [push] = await exactly(site, phone, 1, RETRY_SECONDS)
        assert push.received_at - sent_at >= 1.0, "not before Retry-After"
        assert push.json()["body"] == "Jan Petersen (staff): How about Friday?"
        assert site.service.stats()["attempts"] == attempts + 2

        async def delivered_shown() -> bool:
            html = await weber.devices_html()
            return "last delivered" in html

        await wait_until(delivered_shown, "the device list showing the delivery")
        assert "last error" not in await weber.devices_html(), "the 429 is history"


async def test_with_the_push_service_down_a_reply_is_stored_and_live_at_once_and_pushed_later(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan, mira = await cast.api(JAN), await cast.api(MIRA)
        thread = await weber.start_thread("Power cut in the old town")
        phone = await weber.add_device("Phone down")
        jan_ws, mira_ws = await cast.socket(jan), await cast.socket(mira)
        await mira_ws.subscribe(thread, None)
        site.service.stop()
        try:
            # The push service's outage holds up neither the answer nor the live event.
            ack = await jan_ws.send_message(thread, "Crews are on site, about one hour.")
            event = await mira_ws.next_of_type("event", timeout=5, thread=thread)
            assert event["id"] == ack["id"]
            stored = await weber_messages(cast, thread)
            assert stored[-1] == "Crews are on site, about one hour."
            await asyncio.sleep(1.5)  # the worker tries and fails meanwhile
        finally:
            site.service.start()
        [push] = await exactly(site, phone, 1, RETRY_SECONDS)
        assert push.json()["url"] == f"/threads/{thread}#msg-{ack['id']}"


async def weber_messages(cast: Cast, thread: str) -> list[str]:
    api = await cast.api(WEBER)
    return [m["body"] for m in await api.messages(thread)]


async def test_replies_piling_up_for_an_unreachable_device_arrive_as_one_notification(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        jan = await cast.api(JAN)
        first = await weber.start_thread("Hot water boiler question")
        other = await weber.start_thread("Second question: the app login")
        phone = await weber.add_device("Phone offline")
        site.service.stop()
        try:
            for text in ("One moment.", "Checking the boiler model.", "It is covered."):
                await jan.post(first, text)
            last = await message_id(await jan.post(first, "Appointment: Monday 9:00."))
            other_reply = await message_id(await jan.post(other, "Reset it in settings."))
            await asyncio.sleep(1.5)  # the worker tries and fails meanwhile
        finally:
            site.service.start()
        got = await exactly(site, phone, 2, RETRY_SECONDS)
        by_thread = {m.json()["tag"]: m.json() for m in got}
        assert by_thread[f"thread-{first}"]["body"] == (
            "4 new replies, the latest from Jan Petersen (staff): Appointment: Monday 9:00."
        )
        assert by_thread[f"thread-{first}"]["url"] == f"/threads/{first}#msg-{last}"
        assert by_thread[f"thread-{other}"]["url"] == f"/threads/{other}#msg-{other_reply}"


# -- the device list and the test notification ------------------------------------------------


async def test_send_test_notification_delivers_and_the_device_list_says_when(
    shared: PushSite,
) -> None:
    site = shared
    async with Cast(site) as cast:
        weber = await cast.browser(WEBER)
        phone = await weber.add_device("Kitchen tablet")
        assert "last delivered" not in await weber.devices_html()
        r = await weber.http.post(
            f"/push/devices/{phone.id}/test",
            headers={"HX-Request": "true", "x-csrftoken": weber.csrf},
        )
        assert r.status_code == 200 and 'id="devices"' in r.text
        [push] = await exactly(site, phone, 1)
        assert push.json() == {"kind": "test", "title": "Dreiklang",
                               "body": "Notifications work on this device.", "url": "/settings",
                               "tag": "test", "badge": 0}  # fmt: skip
        assert push.headers == {"TTL": "600", "Urgency": "high"}

        async def shown() -> bool:
            return "last delivered" in await weber.devices_html()

        await wait_until(shown, "the device list showing the delivery")


# -- the endpoint guard with the default settings ---------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("{local}", "push endpoints must use https, not 'http'"),
        ("https://127.0.0.1/push/x", "must name a host, not the address '127.0.0.1'"),
        ("https://[::1]/push/x", "must name a host, not the address '::1'"),
        ("https://10.1.2.3/push/x", "must name a host, not the address '10.1.2.3'"),
        ("https://169.254.169.254/latest", "not the address '169.254.169.254'"),
        ("https://localhost/push/x", "'localhost' is not a known push service"),
        ("https://fcm.googleapis.com:8443/x", "must use port 443, not 8443"),
    ],
)
def test_with_the_default_settings_a_private_or_loopback_endpoint_is_refused_with_a_clear_400(
    client: TestClient, fast_passwords: None, endpoint: str, reason: str
) -> None:
    signup(client, "weber@example.org", "Gisela Weber")
    with PushService() as service:  # a real subscription on 127.0.0.1, as in the other tests
        key = client.get("/push/key").json()["public_key"]
        sub = service.subscribe(key).to_json()
        sub["endpoint"] = endpoint.replace("{local}", sub["endpoint"])
        r = client.post(
            "/push/devices", json={**sub, "label": "Phone"},
            headers={"x-csrftoken": csrf_of(client)},
        )  # fmt: skip
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "endpoint_refused"
    assert reason in error["message"]
    assert "No device gets notifications yet." in client.get("/settings/devices").text


# -- the worker, driven by hand -----------------------------------------------------------------


@dataclass
class Queue:
    """A database, the people, a push service and a worker that runs only when told."""

    settings: Settings
    service: PushService
    keys: VapidKeys
    worker: PushWorker
    viewing: dict[str, set[str]]  # thread id -> ids of users with it open
    people: dict[str, User]
    publisher: Publisher  # tells the actions who has a thread open, as the fan-out would

    async def device(self, who: str) -> Subscription:
        sub = await asyncio.to_thread(self.service.subscribe, self.keys.public_key)
        prefixed = self.settings.with_overrides(
            push_test_endpoint_prefix=self.service.endpoint_prefix
        )
        await save_subscription(prefixed, self.people[who], sub.endpoint, sub.p256dh,
                                sub.auth, "Phone")  # fmt: skip
        return sub

    async def run(self) -> None:
        """One round of the worker: expand intents, deliver what is due."""
        await self.worker.run_once()

    async def got(self, sub: Subscription) -> list[Received]:
        return await self.service.wait_for_async(sub, 0, 0)


@pytest.fixture
async def queue(database_url: str, tmp_path: Path, fast_passwords: None) -> AsyncIterator[Queue]:
    settings = make_settings(database_url, tmp_path)
    await open_database(settings)
    try:
        people = {
            "weber": await create_user(WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER, ""),
            "jan": await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE,
                                     "Field service"),
        }  # fmt: skip
        keys = load_or_create(tmp_path, "", SUBJECT)
        viewing: dict[str, set[str]] = {}
        with PushService() as service:
            config = PushConfig.from_settings(
                settings.with_overrides(push_test_endpoint_prefix=service.endpoint_prefix), keys
            )
            worker = PushWorker(config)
            publisher = Publisher(viewers=lambda thread: viewing.get(thread, set()))
            # The worker's own session, without its background loop: rounds run when told.
            async with aiohttp.ClientSession() as session:
                worker._session = session
                yield Queue(settings, service, keys, worker, viewing, people, publisher)
    finally:
        await close_database()


async def weber_thread(q: Queue) -> Thread:
    """Mrs Weber's thread, which she has read; her phone is registered."""
    thread, _, _ = await start_thread(
        q.publisher, q.people["weber"], "Meter swap", "When do you come?", new_client_id()
    )
    await mark_read(q.publisher, q.people["weber"], thread)
    await q.run()  # her own first message notifies nobody
    return thread


async def jan_says(q: Queue, thread: Thread, text: str) -> str:
    message, _ = await send_message(q.publisher, q.people["jan"], thread.id, text, new_client_id())
    return str(message.id)


async def outcomes(thread: Thread) -> list[str]:
    return [j.outcome for j in await PushJob.filter(thread_id=thread.id).order_by("id")]


async def test_a_reply_read_before_the_worker_ran_is_not_pushed(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    await jan_says(q, thread, "Tuesday at 8.")
    # She saw it in the open app first (which loads the thread as it is now).
    await mark_read(q.publisher, q.people["weber"], await Thread.get(id=thread.id))
    await q.run()
    assert await q.got(phone) == []
    assert await outcomes(thread) == ["skipped: already read"]
    await jan_says(q, thread, "Or Wednesday?")
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["body"] == "Jan Petersen (staff): Or Wednesday?"


async def test_a_reply_deleted_before_the_worker_ran_is_not_pushed(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    message = await jan_says(q, thread, "Sent to the wrong customer")
    await q.worker.expand_intents()  # queued for her phone...
    await delete_message(
        q.publisher, q.people["jan"], message
    )  # ...then deleted before it went out
    await q.run()
    assert await q.got(phone) == []
    assert await outcomes(thread) == ["skipped: deleted or not visible"]


async def test_a_reply_to_someone_looking_at_the_thread_is_not_pushed(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    q.viewing[thread.id] = {q.people["weber"].id}
    await jan_says(q, thread, "Are you there?")
    await q.run()
    assert await q.got(phone) == []
    assert await outcomes(thread) == [], "no job for her phone at all"
    assert await NotificationIntent.all().count() == 0
    q.viewing.clear()  # she left the thread
    await jan_says(q, thread, "Call us when you are back.")
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["body"].startswith("2 new replies")


async def test_replies_waiting_together_become_one_notification_about_the_latest(
    queue: Queue,
) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    for text in ("One moment.", "Checking the boiler model."):
        await jan_says(q, thread, text)
    last = await jan_says(q, thread, "It is covered by the warranty.")
    await q.run()  # one round finds all three due at once
    [push] = await q.got(phone)
    assert push.json()["body"] == (
        "3 new replies, the latest from Jan Petersen (staff): It is covered by the warranty."
    )
    assert push.json()["url"] == f"/threads/{thread.id}#msg-{last}"
    assert await outcomes(thread) == ["delivered"], "the older two never became jobs"


async def test_a_newer_reply_seen_live_does_not_cover_an_older_one(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    first = await jan_says(q, thread, "Are you there?")
    q.viewing[thread.id] = {q.people["weber"].id}  # she opens the thread, and sees the next
    await jan_says(q, thread, "Ah, now I see you.")
    q.viewing.clear()
    await q.run()  # one round expands both: only the first one is news to her phone
    [push] = await q.got(phone)
    assert push.json()["url"] == f"/threads/{thread.id}#msg-{first}"
    assert await outcomes(thread) == ["delivered"]


async def test_a_reply_waiting_to_be_retried_is_covered_by_the_next_one(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    q.service.fail_next(503)
    await jan_says(q, thread, "First try.")
    await q.run()
    assert await q.got(phone) == []
    [retrying] = await PushJob.filter(thread_id=thread.id)
    assert retrying.state == PushJobState.QUEUED and retrying.attempts == 1
    last = await jan_says(q, thread, "Second message.")
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["url"] == f"/threads/{thread.id}#msg-{last}"
    assert push.json()["body"].startswith("2 new replies")
    assert await outcomes(thread) == ["merged", "delivered"]


async def test_a_mention_is_not_merged_into_a_newer_plain_reply(queue: Queue) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    await jan_says(q, thread, "@weber please send a photo of the meter.")
    await jan_says(q, thread, "A photo of the whole cabinet helps too.")
    await q.run()
    got = sorted(await q.got(phone), key=lambda m: str(m.json()["kind"]))
    assert [(m.json()["kind"], m.headers["Urgency"]) for m in got] == [
        ("mention", "high"),
        ("reply", "normal"),
    ]


async def test_the_notification_shows_the_message_as_plain_text_without_markup_or_escapes(
    queue: Queue,
) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    await jan_says(q, thread, 'Fuses 3 & 4 are **<16 A>**, see `label` "F3".')
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["body"] == 'Jan Petersen (staff): Fuses 3 & 4 are <16 A>, see label "F3".'


async def test_news_older_than_an_hour_notifies_nobody_when_a_worker_starts_late(
    queue: Queue,
) -> None:
    q = queue
    phone = await q.device("weber")
    thread = await weber_thread(q)
    await jan_says(q, thread, "Written while no process ran the push worker.")
    long_ago = datetime.now(UTC) - timedelta(seconds=INTENT_MAX_AGE_SECONDS + 60)
    await NotificationIntent.all().update(created_at=long_ago)
    fresh = await jan_says(q, thread, "Written just now.")
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["url"].endswith(fresh)
    assert push.json()["body"].startswith("2 new replies")  # still counts what she missed
    assert await NotificationIntent.all().count() == 0
    assert await outcomes(thread) == ["delivered"]


async def test_a_renewed_subscription_replaces_the_old_device_and_keeps_its_name(
    queue: Queue,
) -> None:
    q = queue
    old = await q.device("weber")
    jans = await q.device("jan")
    fresh = await asyncio.to_thread(q.service.subscribe, q.keys.public_key)
    prefixed = q.settings.with_overrides(push_test_endpoint_prefix=q.service.endpoint_prefix)
    weber = q.people["weber"]
    # Someone else's endpoint named as replaced is left alone.
    for replaces in (old.endpoint, jans.endpoint):
        await save_subscription(prefixed, weber, fresh.endpoint, fresh.p256dh, fresh.auth,
                                None, replaces)  # fmt: skip
    [device] = await PushSubscription.filter(user_id=weber.id)
    assert (device.endpoint, device.label) == (fresh.endpoint, "Phone")
    assert await PushSubscription.filter(endpoint=jans.endpoint).exists()


async def test_an_intent_another_worker_holds_waits_and_a_half_done_one_is_resumed(
    queue: Queue,
) -> None:
    q = queue
    for _ in range(2):
        await q.device("weber")  # her phone and her tablet
    thread = await weber_thread(q)
    await jan_says(q, thread, "Tuesday at 8.")
    held_until = datetime.now(UTC) + timedelta(seconds=30)
    await NotificationIntent.all().update(claimed_until=held_until)
    await q.worker.expand_intents()
    assert await PushJob.filter(thread_id=thread.id).count() == 0, "another worker holds it"
    # That worker died after queueing the job for its first device (in device order).
    devices = sorted(
        await PushSubscription.filter(user_id=q.people["weber"].id), key=lambda d: d.id
    )
    await NotificationIntent.all().update(
        claimed_until=datetime.now(UTC) - timedelta(seconds=1), expanded_upto=devices[0].id
    )
    await q.worker.expand_intents()
    jobs = await PushJob.filter(thread_id=thread.id)
    assert [j.subscription_id for j in jobs] == [devices[1].id], "the rest, and only the rest"
    assert await NotificationIntent.all().count() == 0


async def test_replies_nobody_has_a_device_for_leave_nothing_queued(queue: Queue) -> None:
    q = queue
    thread = await weber_thread(q)  # she follows it, but has no device
    await jan_says(q, thread, "Tuesday at 8.")
    assert await NotificationIntent.all().count() == 1
    await q.run()
    assert await NotificationIntent.all().count() == 0
    assert await PushJob.all().count() == 0
    phone = await q.device("weber")
    await jan_says(q, thread, "Or Wednesday, @weber?")  # a mention goes the full way
    await q.run()
    [push] = await q.got(phone)
    assert push.json()["body"].startswith("Jan Petersen (staff) mentioned you")


# -- the worker's process ---------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":  # exited, waiting for its parent to collect it
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def bare_server(sqlite_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A live server on an empty database, with its push worker child (stopped at the end)."""
    server = LiveServer(sqlite_url, tmp_path, push_child=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_the_push_worker_child_runs_niced_beside_the_server_and_ends_with_it(
    how: str, bare_server: LiveServer
) -> None:
    server = bare_server
    assert server.proc is not None
    [child] = children_of(server.proc.pid)  # /healthz answers once the worker is ready
    command = Path(f"/proc/{child}/cmdline").read_text().split("\0")
    assert command[-3:-1] == ["push-worker", "--wake-pipe"], command
    nice = int(Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[16])
    assert nice == 10, "push work must yield the CPU to live chat"
    if how == "killed":
        server.proc.kill()  # no shutdown code runs: the closed pipe must stop the child
        server.proc.wait()
    else:
        server.stop()
    assert gone_within(child, 10), f"the push worker outlived a {how} server"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_a_push_worker_that_dies_is_started_again(bare_server: LiveServer) -> None:
    server = bare_server
    assert server.proc is not None
    [first] = children_of(server.proc.pid)
    os.kill(first, signal.SIGKILL)
    assert gone_within(first, 10)
    deadline, again = time.monotonic() + 30, list[int]()
    while time.monotonic() < deadline and not again:
        again = [c for c in children_of(server.proc.pid) if c != first]
        time.sleep(0.2)
    assert again, "no new push worker"
    command = Path(f"/proc/{again[0]}/cmdline").read_text().split("\0")
    assert "push-worker" in command
    assert "the push worker exited" in server.log_text()
