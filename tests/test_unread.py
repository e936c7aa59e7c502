"""Unread counts: only threads a person follows or took part in count, in the list, the API,
the app icon and the push payload alike; the others stay readable, without a count.

The demo company is full of other people's threads, which is exactly what a new customer
sees right after signing up. (The page's app badge: tests/test_unread_browser.py.)"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.conftest import PASSWORD
from tests.live import DemoTemplates, LiveServer
from tests.test_push_flow import JAN, Browser, Cast, PushSite, exactly, running_site

OUTAGE = "Stromausfall in der Hafenstraße"
SHOWN_BADGE = re.compile(r'<span class="unread">')  # a badge the list shows (others are hidden)


def new_email() -> str:
    return f"new-{uuid.uuid4().hex[:8]}@example.org"


# -- the push payload's badge -----------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path, demo_templates: DemoTemplates) -> Iterator[PushSite]:
    with running_site(f"sqlite://{tmp_path / 'db.sqlite3'}", tmp_path, demo_templates) as s:
        yield s


def sign_up(server: LiveServer, email: str) -> httpx.Client:
    """A new customer, signed up through the form; returns their signed-in client."""
    http = httpx.Client(base_url=server.url, timeout=10, trust_env=False)
    http.get("/signup")
    r = http.post(
        "/signup",
        data={"email": email, "name": "Frieda Neu", "password": PASSWORD,
              "csrftoken": http.cookies["dreiklang_csrf"]},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    return http


def listed_unread(server: LiveServer, email: str) -> int:
    """The list's unread total, as the JSON API gives it."""
    token = server.token(email, PASSWORD)
    r = httpx.get(
        f"{server.url}/api/v1/threads?limit=100",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return sum(t["unread"] for t in r.json()["threads"])


async def test_the_push_payloads_badge_is_the_thread_lists_unread_total(site: PushSite) -> None:
    email = new_email()
    http = sign_up(site.server, email)
    assert not SHOWN_BADGE.search(http.get("/threads").text)
    http.close()
    assert listed_unread(site.server, email) == 0
    async with Cast(site) as cast:
        newcomer = Browser(site)  # signed in with their own password, not the demo's
        cast.browsers.append(newcomer)
        await newcomer.http.get("/login")
        r = await newcomer.form("/login", email=email, password=PASSWORD)
        assert r.status_code == 303, r.text
        phone = await newcomer.add_device("Phone")
        jan = await cast.api(JAN)
        listed = (await jan.http.get("/api/v1/threads?limit=100")).json()["threads"]
        outage = next(t["id"] for t in listed if t["title"].startswith(OUTAGE))
        await newcomer.write(outage, "Bei uns in Nr. 30 ist es auch dunkel.")
        assert listed_unread(site.server, email) == 0

        await jan.post(outage, "The crew is on its way.")
        [push] = await exactly(site, phone, 1)
        total = listed_unread(site.server, email)
        assert total == 1
        assert push.json()["badge"] == total
        html = (await newcomer.http.get("/threads")).text
        assert len(SHOWN_BADGE.findall(html)) == 1
