"""End to end: an admin changes a role or deactivates an account, and it applies at once: on
open sockets (closed with 4401, reconnecting with the new rights), on cookies and on tokens.

Against a uvicorn subprocess with the demo company, on SQLite and PostgreSQL, with real
`websockets` clients and browser sessions (tests/live_helpers.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.conftest import DEMO_PASSWORD, csrf_of
from tests.live import LiveServer
from tests.live_helpers import (
    CUSTOMER,
    STAFF,
    STAFF_2,
    WAIT_SECONDS,
    Api,
    Scene,
    WsClient,
    browser_session,
    cookie_header,
)

ADMIN = "admin@nordlicht.example"


@pytest.fixture
async def scene(live_server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(live_server) as s:
        yield s


async def admin_post(server: LiveServer, admin: httpx.Client, path: str, **form: str) -> str:
    """Submit a form of the admin page as the admin's browser does; return the next page."""
    data = {**form, "csrftoken": csrf_of(admin)}
    r = await asyncio.to_thread(admin.post, path, data=data)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == "/admin?changed=1", r.headers["location"]
    return str((await asyncio.to_thread(admin.get, r.headers["location"])).text)


async def thread_with_a_staff_note(scene: Scene) -> tuple[str, Api, Api]:
    """A customer's question with a staff note in it; the customer and a colleague of Jan."""
    customer = await scene.person(CUSTOMER)
    colleague = await scene.person(STAFF_2)
    thread = (await customer.start_thread("Wrong meter number on my bill"))["id"]
    r = await colleague.post(thread, "Note: the meter was swapped in March", audience="staff")
    assert r.status_code == 201, r.text
    return thread, customer, colleague


def bodies(frames: list[dict[str, Any]]) -> list[str]:
    """What a JSON-mode socket was shown of messages."""
    return [f["message"]["body"] for f in frames if f.get("message")]


async def test_a_demoted_employees_socket_closes_and_comes_back_without_staff_rights(
    scene: Scene,
) -> None:
    thread, customer, colleague = await thread_with_a_staff_note(scene)
    internal = (await colleague.internal_thread())["id"]
    jan = await asyncio.to_thread(browser_session, scene.server, STAFF)
    admin = await asyncio.to_thread(browser_session, scene.server, ADMIN)
    try:
        cookies = cookie_header(jan)
        ws = await WsClient.open(scene.server, cookies=cookies, origin=scene.server.url)
        assert ws.hello["staff"] is True
        replay, _ = await ws.subscribe(thread, since=0)
        assert "Note: the meter was swapped in March" in bodies(replay), "a staff note is there"

        page = await admin_post(
            scene.server, admin, f"/admin/users/{ws.hello['user']}/role", role="customer"
        )
        await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
        assert ws.close_code == 4401
        assert "changed the role of Jan Petersen" in page, "the audit trail shows it"

        # The client reconnects with the same cookie, as the page does: now as a customer.
        again = await WsClient.open(scene.server, cookies=cookies, origin=scene.server.url)
        scene.sockets.append(again)
        assert again.hello["staff"] is False
        replay, _ = await again.subscribe(thread, since=0)
        assert bodies(replay) == ["First message of Wrong meter number on my bill"]
        r = await colleague.post(thread, "Note: he is no longer staff", audience="staff")
        assert r.status_code == 201, r.text
        r = await customer.post(thread, "Any news?")
        assert r.status_code == 201, r.text
        [seen] = await again.events(thread, 1)
        assert seen["message"]["body"] == "Any news?", "the note after it did not arrive"
        await again.send_json({"type": "send", "thread": thread, "client_id": "n-1",
                               "body": "my note", "audience": "staff"})  # fmt: skip
        refused = await again.next_of_type("error", client_id="n-1")
        assert refused["code"] == "forbidden", refused
        await again.send_json({"type": "subscribe", "thread": internal, "since": 0})
        refused = await again.next_of_type("error", thread=internal)
        assert refused["code"] == "not_found", refused
        await again.quiet()
        assert again.unclaimed("event") == []
    finally:
        jan.close()
        admin.close()


async def test_a_deactivated_account_is_locked_out_at_once_everywhere(scene: Scene) -> None:
    jan_api = await scene.person(STAFF)
    script_ws = await scene.socket(jan_api)
    jan = await asyncio.to_thread(browser_session, scene.server, STAFF)
    admin = await asyncio.to_thread(browser_session, scene.server, ADMIN)
    mira_ws = await scene.socket(await scene.person(STAFF_2))
    try:
        browser_ws = await scene.browser_socket(jan)
        page = await admin_post(scene.server, admin, f"/admin/users/{jan_api.id}/deactivate")
        assert "deactivated Jan Petersen" in page
        for ws in (script_ws, browser_ws):
            await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
            assert ws.close_code == 4401
        await mira_ws.sync()  # others keep theirs
        assert (await jan_api.http.get("/api/v1/me")).status_code == 401
        r = await asyncio.to_thread(jan.get, "/api/v1/me")
        assert r.status_code == 401
        with httpx.Client(base_url=scene.server.url, trust_env=False) as fresh:
            r = fresh.post("/login", data={"email": STAFF, "password": DEMO_PASSWORD,
                                           "csrftoken": csrf_of(fresh)})  # fmt: skip
            assert r.status_code == 403
            assert "This account is deactivated. Ask an administrator" in r.text
            r = fresh.post("/api/v1/tokens", json={"email": STAFF, "password": DEMO_PASSWORD})
            assert r.status_code == 403 and r.json()["error"]["code"] == "deactivated"
            r = fresh.post("/api/v1/tokens", json={"email": STAFF, "password": "wrong guess!"})
            assert r.status_code == 401, "only the password's owner learns of the deactivation"
        await admin_post(scene.server, admin, f"/admin/users/{jan_api.id}/reactivate")
        again = await asyncio.to_thread(browser_session, scene.server, STAFF)
        again.close()
    finally:
        jan.close()
        admin.close()
