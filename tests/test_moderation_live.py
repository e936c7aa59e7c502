"""End to end, moderation as people meet it: a real server (uvicorn subprocess, demo company) on
SQLite and PostgreSQL, browser sessions and real `websockets` clients. Hidden text reaches no
customer by any path (page, fragment, JSON API, live frame, replay) and staff fetch it alone;
locks, held posts, alerts and sanctions act on open sockets at once; and with two server
processes on PostgreSQL, flags sent to both count exactly and hide once."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx2 as httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import PASSWORD, POSTGRES_URL, Databases, csrf_of, signup
from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import (
    CUSTOMER,
    CUSTOMER_2,
    CUSTOMER_3,
    STAFF,
    STAFF_2,
    WAIT_SECONDS,
    Api,
    Scene,
    WsClient,
    browser_session,
    cookie_header,
    new_client_id,
)

AYLIN, ADMIN = "aylin@nordlicht.example", "admin@nordlicht.example"  # moderator, admin
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
SECRET = "Kundennummer 4711-0815, IBAN DE02 1203 0000 0000 2020 51"
# Posting limits are tests/test_posting_limits.py's; newcomers' first post waits for approval.
ENV = {"POSTS_PER_MINUTE": "", "HOLD_FIRST_POSTS": "1", "FLAGS_TO_HIDE": "3"}


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, demo_templates: DemoTemplates
) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path, env_extra=ENV)
    demo_templates.load_into(server)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def scene(server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(server) as s:
        yield s


async def alert(ws: WsClient, kind: str) -> dict[str, Any]:
    """Take the next `alert` frame of this kind (others before it stay unclaimed)."""
    for _ in range(10):
        frame = await ws.next_of_type("alert")
        if frame["kind"] == kind:
            return frame
    raise AssertionError(f"no {kind!r} alert")


async def form(session: httpx.Client, path: str, htmx: bool = False, **data: str) -> Any:
    """Submit a form as the browser does (htmx sends the CSRF token as a header)."""
    if htmx:
        headers = {"HX-Request": "true", "x-csrftoken": csrf_of(session)}
        return await asyncio.to_thread(session.post, path, data=data, headers=headers)
    data["csrftoken"] = csrf_of(session)
    return await asyncio.to_thread(session.post, path, data=data, follow_redirects=False)


async def get(session: httpx.Client, path: str, htmx: bool = False) -> Any:
    return await asyncio.to_thread(
        session.get, path, headers={"HX-Request": "true"} if htmx else {}
    )


async def sessions(scene: Scene, *emails: str) -> list[httpx.Client]:
    """Sign people in through the form, as their browsers do (the caller closes them)."""
    return [await asyncio.to_thread(browser_session, scene.server, e) for e in emails]


def text_of(frames: list[dict[str, Any]]) -> str:
    return json.dumps(frames, ensure_ascii=False)


async def test_a_hidden_message_reaches_no_one_by_any_path_and_staff_fetch_its_text_alone(
    scene: Scene,
) -> None:
    weber, tom, jan = [await scene.person(e) for e in (CUSTOMER, CUSTOMER_2, STAFF)]
    thread = (await weber.start_thread("Abschlag zu hoch"))["id"]
    r = await tom.post(thread, SECRET)
    assert r.status_code == 201, r.text
    mid = r.json()["message"]["id"]
    aylin, weber_browser, jan_browser = await sessions(scene, AYLIN, CUSTOMER, STAFF)
    try:
        watching = [await scene.socket(weber), await scene.browser_socket(weber_browser),
                    await scene.socket(jan), await scene.browser_socket(jan_browser)]  # fmt: skip
        for ws in watching:
            await ws.subscribe(thread, since=None)
        r = await form(aylin, f"/moderation/messages/{mid}", decision="hide", reason="confidential")
        assert r.status_code == 303, r.text
        for ws in watching:  # everyone, staff too, gets the line with the reason, not the text
            [frame] = await ws.events(thread, 1)
            assert frame["name"] == "message.hidden" and SECRET not in text_of([frame]), frame
            assert frame.get("message", {"hidden": True})["hidden"] is True
        for again in (await scene.socket(weber), await scene.browser_socket(weber_browser)):
            replay, _ = await again.subscribe(thread, since=0)  # reconnected: the whole thread
            assert len(replay) >= 3 and SECRET not in text_of(replay)
        for api in (weber, tom, jan):
            [shown] = [m for m in await api.messages(thread) if m["id"] == mid]
            assert shown["hidden"] is True and shown["body"] == shown["html"] == "", shown
            assert shown["hidden_reason"] == "confidential"
        for browser in (weber_browser, jan_browser):
            page = await get(browser, f"/threads/{thread}")
            assert page.status_code == 200 and f'id="msg-{mid}"' in page.text
            assert SECRET not in page.text and "A moderator hid this" in page.text
            for htmx in (False, True):
                fragment = await get(browser, f"/messages/{mid}", htmx)
                assert fragment.status_code == 200 and SECRET not in fragment.text
        for browser, status in ((weber_browser, 404), (jan_browser, 200), (aylin, 200)):
            r = await get(browser, f"/messages/{mid}/hidden", htmx=True)
            assert r.status_code == status and (SECRET in r.text) == (status == 200)
        tom_browser = await asyncio.to_thread(browser_session, scene.server, CUSTOMER_2)
        r = await get(tom_browser, f"/messages/{mid}/hidden")
        tom_browser.close()
        assert r.status_code == 404 and SECRET not in r.text, "not even its author"

        # The official answer, shown above the thread, goes with the reply it quotes.
        answer = (await jan.post(thread, "Ihr Vertrag 99-123 läuft bis März")).json()["message"]
        assert (await form(jan_browser, f"/messages/{answer['id']}/answer")).status_code == 303
        page = await get(weber_browser, f"/threads/{thread}")
        assert 'class="official-answer"' in page.text and "99-123" in page.text
        r = await form(aylin, f"/moderation/messages/{answer['id']}", decision="hide",
                       reason="confidential")  # fmt: skip
        assert r.status_code == 303, r.text
        page = await get(weber_browser, f"/threads/{thread}")
        assert "99-123" not in page.text
        replay, _ = await (await scene.socket(weber)).subscribe(thread, since=0)
        assert "99-123" not in text_of(replay)
    finally:
        for s in (aylin, weber_browser, jan_browser):
            s.close()


async def test_moving_to_a_staff_note_leaves_customers_a_tombstone_and_staff_the_text(
    scene: Scene,
) -> None:
    weber, tom, jan = [await scene.person(e) for e in (CUSTOMER, CUSTOMER_2, STAFF)]
    thread = (await weber.start_thread("Zählerwechsel"))["id"]
    mid = (await tom.post(thread, SECRET)).json()["message"]["id"]
    customer_ws, staff_ws = await scene.socket(weber), await scene.socket(jan)
    for ws in (customer_ws, staff_ws):
        await ws.subscribe(thread, since=None)
    [aylin] = await sessions(scene, AYLIN)
    try:
        r = await form(aylin, f"/moderation/messages/{mid}", decision="move_to_note")
        assert r.status_code == 303, r.text
    finally:
        aylin.close()
    [gone] = await customer_ws.events(thread, 1)
    assert gone["name"] == "message.deleted" and SECRET not in text_of([gone])
    await customer_ws.quiet()
    assert customer_ws.unclaimed("event") == [], "no news of the note"
    staff_seen = await staff_ws.events(thread, 2)
    assert [f["name"] for f in staff_seen] == ["message.deleted", "message.created"]
    note = staff_seen[1]["message"]
    assert (note["body"], note["staff_only"], note["author"]["name"]) == (
        SECRET, True, "Tom Becker"
    )  # fmt: skip
    [tombstone] = [m for m in await weber.messages(thread) if m["id"] == mid]
    assert tombstone["deleted"] is True and SECRET not in text_of(await weber.messages(thread))
    replay, _ = await (await scene.socket(weber)).subscribe(thread, since=0)
    assert SECRET not in text_of(replay)
    assert note["id"] in {m["id"] for m in await jan.messages(thread)}
    for email, shown in ((CUSTOMER, False), (STAFF, True)):
        [browser] = await sessions(scene, email)
        page = (await get(browser, f"/threads/{thread}")).text
        browser.close()
        assert "A moderator moved this message out of public view." in page
        assert (SECRET in page) == shown, email


async def test_a_locked_thread_refuses_a_customers_reply_by_form_api_and_socket_not_a_moderators(
    scene: Scene,
) -> None:
    weber, mod = await scene.person(CUSTOMER), await scene.person(AYLIN)
    thread = (await weber.start_thread("Streit um Zähler"))["id"]
    customer_ws = await scene.socket(weber)
    await customer_ws.subscribe(thread, since=None)
    aylin, browser = await sessions(scene, AYLIN, CUSTOMER)
    try:
        assert (
            await form(aylin, f"/moderation/threads/{thread}", decision="lock")
        ).status_code == 303
        r = await form(aylin, f"/moderation/threads/{thread}", decision="rename",
                       title="Zählerstreit (gesperrt)")  # fmt: skip
        assert r.status_code == 303
        renamed = [f for f in await customer_ws.events(thread, 2)
                   if f["name"] == "thread.updated"]  # fmt: skip
        assert renamed[-1]["thread_data"]["title"] == "Zählerstreit (gesperrt)", renamed
        assert renamed[-1]["thread_data"]["locked"] is True
        before = len(await weber.messages(thread))
        r = await weber.post(thread, "Aber ich habe recht!")
        assert r.status_code == 403 and "a moderator locked this thread" in r.text
        r = await form(browser, f"/threads/{thread}/messages", body="Doch!", client_id="f-1")
        assert r.status_code == 403
        cid = new_client_id()
        await customer_ws.send_json({"type": "send", "thread": thread, "client_id": cid,
                                     "body": "Per Socket!"})  # fmt: skip
        refused = await customer_ws.next_of_type("error", client_id=cid)
        assert refused["code"] == "forbidden" and "locked" in refused["message"], refused
        assert len(await weber.messages(thread)) == before
        r = await mod.post(thread, "Dieser Thread ist gesperrt.")
        assert r.status_code == 201, r.text
        [seen] = await customer_ws.events(thread, 1)
        assert seen["message"]["body"] == "Dieser Thread ist gesperrt."
    finally:
        aylin.close()
        browser.close()


async def test_a_newcomers_post_waits_for_approval_and_moderators_are_alerted_customers_not(
    scene: Scene,
) -> None:
    weber, tom = await scene.person(CUSTOMER), await scene.person(CUSTOMER_2)
    thread = (await weber.start_thread("Neu hier?"))["id"]
    newbie = httpx.Client(base_url=scene.server.url, timeout=WAIT_SECONDS, trust_env=False)
    await asyncio.to_thread(signup, newbie, "neu@example.org", "Nina Neu")
    credentials = {"email": "neu@example.org", "password": PASSWORD}
    tokens = scene.server.url + "/api/v1/tokens"
    r = await asyncio.to_thread(httpx.post, tokens, json=credentials, trust_env=False)
    assert r.status_code == 201, r.text
    nina = Api(scene.server, r.json()["token"], r.json()["user"])
    scene.apis.append(nina)
    mod_ws = await scene.socket(await scene.person(AYLIN))
    customer_ws, author_ws = await scene.socket(tom), await scene.socket(nina)
    for ws in (customer_ws, author_ws):
        await ws.subscribe(thread, since=None)
    [aylin] = await sessions(scene, AYLIN)
    try:
        r = await nina.post(thread, "Hallo, ich bin neu hier")
        assert r.status_code == 201 and r.json()["message"]["held"] is True, r.text
        mid = r.json()["message"]["id"]
        held = await alert(mod_ws, "held")
        assert (held["thread"], held["url"]) == (thread, f"/moderation?thread={thread}")
        [own] = await author_ws.events(thread, 1)
        assert own["message"]["held"] is True, "its author sees it, marked as waiting"
        await customer_ws.quiet()
        assert customer_ws.unclaimed("event") == []
        assert mid not in {m["id"] for m in await weber.messages(thread)}
        queue = await get(aylin, f"/moderation?thread={thread}")
        assert queue.status_code == 200 and "Hallo, ich bin neu hier" in queue.text
        r = await form(aylin, f"/moderation/messages/{mid}", decision="approve")
        assert r.status_code == 303, r.text
        [out] = await customer_ws.events(thread, 1)
        assert out["name"] == "message.approved"
        assert out["message"]["body"] == "Hallo, ich bin neu hier"
        assert mid in {m["id"] for m in await weber.messages(thread)}
        assert (await alert(mod_ws, "decided"))["thread"] == thread
        await customer_ws.quiet()
        assert customer_ws.since(0, "alert") == [] and author_ws.since(0, "alert") == []
    finally:
        aylin.close()
        newbie.close()


async def test_a_flag_alerts_every_moderator_and_admin_socket_and_nobody_else(
    scene: Scene,
) -> None:
    weber, tom = await scene.person(CUSTOMER), await scene.person(CUSTOMER_2)
    thread = (await tom.start_thread("Werbung"))["id"]
    aylin_browser, weber_browser = await sessions(scene, AYLIN, CUSTOMER)
    try:
        alerted = [await scene.socket(await scene.person(AYLIN)),
                   await scene.browser_socket(aylin_browser),
                   await scene.socket(await scene.person(ADMIN))]  # fmt: skip
        quiet = [await scene.socket(await scene.person(STAFF)), await scene.socket(weber),
                 await scene.socket(tom, lists=True)]  # fmt: skip
        r = await form(weber_browser, f"/threads/{thread}/flag", htmx=True, reason="spam")
        assert r.status_code == 200 and "A moderator will look at it" in r.text, r.text
        for ws in alerted:
            flagged = await alert(ws, "flag")
            assert flagged["url"] == f"/moderation?thread={thread}"
            assert (flagged["thread"], flagged["title"]) == (thread, "Werbung")
        r = await form(weber_browser, f"/threads/{thread}/flag", htmx=True, reason="spam")
        assert r.status_code == 409, "once per person"
        for ws in quiet:
            await ws.quiet()
            assert ws.since(0, "alert") == [], ws.hello
    finally:
        aylin_browser.close()
        weber_browser.close()


async def test_a_sanction_closes_the_persons_sockets_at_once_and_refuses_what_they_send(
    scene: Scene,
) -> None:
    weber, tom = await scene.person(CUSTOMER), await scene.person(CUSTOMER_2)
    thread = (await weber.start_thread("Lärm"))["id"]
    earlier = (await tom.post(thread, "Ruhe bitte")).json()["message"]["id"]
    aylin, tom_browser = await sessions(scene, AYLIN, CUSTOMER_2)
    try:
        open_ = [await scene.socket(tom), await scene.browser_socket(tom_browser)]
        others = await scene.socket(weber)
        person = f"/moderation/people/{tom.id}"
        r = await form(aylin, person, kind="mute", hours="1", reason="Beleidigungen")
        assert r.status_code == 303, r.text
        for ws in open_:
            await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
            assert ws.close_code == 4401
        await others.sync()  # others keep theirs
        muted = await scene.socket(tom)  # reconnects: reads, but cannot write
        await muted.subscribe(thread, since=0)
        cid = new_client_id()
        await muted.send_json({"type": "send", "thread": thread, "client_id": cid, "body": "Hi"})
        refused = await muted.next_of_type("error", client_id=cid)
        assert refused["code"] == "forbidden" and "Beleidigungen" in refused["message"]
        await muted.send_json({"type": "edit", "id": earlier, "body": "Geändert"})
        refused = await muted.next_of_type("error", id=earlier)
        assert refused["code"] == "forbidden" and "muted" in refused["message"]
        bodies = [m["body"] for m in await weber.messages(thread)]
        assert "Hi" not in bodies and "Geändert" not in bodies and "Ruhe bitte" in bodies

        r = await form(aylin, person, kind="suspend", hours="24", reason="Wiederholt")
        assert r.status_code == 303, r.text
        await asyncio.wait_for(muted.wait_closed(), WAIT_SECONDS)
        assert muted.close_code == 4401
        with pytest.raises(InvalidStatus) as no:  # nor reconnect, by token or cookie
            await WsClient.open(scene.server, token=tom.token)
        assert no.value.response.status_code == 403
        with pytest.raises(InvalidStatus) as no:
            await WsClient.open(scene.server, cookies=cookie_header(tom_browser),
                                origin=scene.server.url)  # fmt: skip
        assert no.value.response.status_code == 403
        assert (await tom.http.get("/api/v1/me")).status_code == 401

        assert (await form(aylin, person, kind="lift")).status_code == 303
        back = await scene.socket(tom)
        await back.subscribe(thread, since=None)
        ack = await back.send_message(thread, "Entschuldigung")
        assert ack["type"] == "ack"
    finally:
        aylin.close()
        tom_browser.close()


# -- two processes ----------------------------------------------------------------------------


@pytest.fixture
def two_servers(
    databases: Databases, tmp_path: Path, demo_templates: DemoTemplates
) -> Iterator[tuple[LiveServer, LiveServer, str]]:
    """Two server processes on one PostgreSQL database and one Redis broker."""
    if not (POSTGRES_URL and REDIS_URL):
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_POSTGRES_URL and TEST_REDIS_URL")
        pytest.skip("TEST_POSTGRES_URL or TEST_REDIS_URL is not set")
    url = databases.postgres_url(migrated=False)
    env = {**ENV, "BROKER_URL": REDIS_URL, "RATELIMIT_URL": REDIS_URL}
    one = LiveServer(url, tmp_path / "one", env_extra=env)
    two = LiveServer(url, tmp_path / "two", env_extra=env)
    try:
        for server in (one, two):
            server.data_dir.mkdir()
        demo_templates.load_into(one)
        one.start()
        two.start()
        yield one, two, url
    finally:
        one.stop()
        two.stop()
        databases.drop(url)


async def test_flags_sent_at_once_to_two_processes_count_exactly_and_hide_once(
    two_servers: tuple[LiveServer, LiveServer, str],
) -> None:
    one, two, url = two_servers
    flaggers = (CUSTOMER, CUSTOMER_3, STAFF, STAFF_2, AYLIN, ADMIN)
    async with Scene(one) as scene:
        tom = await scene.person(CUSTOMER_2)
        thread = (await tom.start_thread("Zweimal gemeldet"))["id"]
        mid = (await tom.post(thread, SECRET)).json()["message"]["id"]
        people = [await asyncio.to_thread(browser_session, (one, two)[i % 2], email)
                  for i, email in enumerate(flaggers)]  # fmt: skip
        try:
            for round_ in range(2):  # the second time, each person is told they did already
                answers = await asyncio.gather(
                    *(form(p, f"/messages/{mid}/flag", htmx=True, reason="confidential")
                      for p in people)
                )  # fmt: skip
                codes = sorted(a.status_code for a in answers)
                assert codes == ([200] * 6 if round_ == 0 else [409] * 6), codes
                if round_ == 0:
                    hid = [a for a in answers if "Enough people flagged it" in a.text]
                    assert len(hid) == 1, [a.text for a in answers]
        finally:
            for p in people:
                p.close()
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        flags = await conn.fetchval("SELECT flags FROM reviews WHERE target = $1", f"message:{mid}")
        rows = await conn.fetchval("SELECT count(*) FROM flags WHERE target = $1", f"message:{mid}")
        hidden = await conn.fetchval(
            "SELECT count(*) FROM events WHERE name = 'message.hidden' AND message_id = $1", mid
        )
        reason = await conn.fetchval("SELECT hidden_reason FROM messages WHERE id = $1", mid)
    finally:
        await conn.close()
    assert (flags, rows, hidden, reason) == (6, 6, 1, "@flags")
