"""End to end: who may open a socket, what a customer can never see, and what bad frames get.

Each test runs against a uvicorn subprocess with the demo company, on SQLite and PostgreSQL
(the `live_server` fixture), with real `websockets` clients, a signed-in browser session and
the JSON API. See docs/protocol.md for the promises checked here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2 as httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import csrf_of
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
    new_client_id,
    random_id,
    without,
)

FOREIGN_ORIGINS = ["https://evil.example", "http://127.0.0.1:1", "null"]


@pytest.fixture
async def scene(live_server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(live_server) as s:
        yield s


async def refused_status(server: LiveServer, **how: Any) -> int:
    """Try to open a socket that must be refused; return the handshake's HTTP status."""
    with pytest.raises(InvalidStatus) as refused:
        ws = await WsClient.open(server, **how)
        await ws.close()
    return refused.value.response.status_code


# -- the internal thread, seen by a customer -------------------------------------------------


async def test_a_customer_cannot_reach_the_internal_thread_over_the_socket(scene: Scene) -> None:
    """Subscribing, posting, typing, marking read, editing: all answered like a made-up id."""
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    internal = await staff.internal_thread()
    stored = await staff.messages(internal["id"])
    note = stored[0]["id"]
    staff_ws = await scene.socket(staff, lists=True)
    await staff_ws.subscribe(internal["id"], since=None)
    customer_ws = await scene.socket(customer, lists=True)
    cid = new_client_id()

    def probes(thread: str, message: str) -> list[dict[str, Any]]:
        return [
            {"type": "subscribe", "thread": thread, "since": None},
            {"type": "subscribe", "thread": thread, "since": 0},
            {"type": "send", "thread": thread, "client_id": cid, "body": "Let me in"},
            {"type": "send", "thread": thread, "client_id": cid, "body": "x", "audience": "staff"},
            {"type": "typing", "thread": thread},
            {"type": "read", "thread": thread},
            {"type": "edit", "id": message, "body": "Changed by a customer"},
            {"type": "delete", "id": message},
        ]

    answers = []
    guesses = [(random_id(), random_id()), (random_id(40), random_id(40))]  # real-looking, long
    for thread, message in [(internal["id"], note), *guesses]:
        seen = []
        for probe in probes(thread, message):
            await customer_ws.send_json(probe)
            seen.append(await customer_ws.next_of_type("error"))
            await customer_ws.sync()  # the socket is still open and answering
        answers.append(seen)
    hidden, nowhere, overlong = answers
    assert [e["code"] for e in hidden] == [
        "not_found", "not_found", "not_found", "not_found",
        "not_subscribed", "not_found", "not_found", "not_found",
    ]  # fmt: skip
    # Word for word what a thread or message that does not exist gets.
    assert [without(e, "thread", "id") for e in hidden] == [
        without(e, "thread", "id") for e in nowhere
    ]
    assert [without(e, "thread", "id") for e in overlong] == [
        without(e, "thread", "id") for e in nowhere
    ]

    # Nothing reached the thread or its staff.
    await staff_ws.quiet()
    staff_ws_frames = staff_ws.unclaimed()
    assert all(f.get("thread") != internal["id"] for f in staff_ws_frames), staff_ws_frames
    assert (await staff.internal_thread())["seq"] == internal["seq"]
    assert await staff.messages(internal["id"]) == stored

    # Activity in the internal thread is not announced to the customer either.
    mark = customer_ws.mark()
    await staff_ws.send_message(internal["id"], "Meters arrive on Tuesday.")
    await staff_ws.next_of_type("activity", thread=internal["id"])
    await customer_ws.quiet()
    assert all(internal["id"] not in json.dumps(f) for f in customer_ws.since(mark))


async def test_a_customer_cannot_reach_the_internal_thread_over_http_or_the_json_api(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    internal = await staff.internal_thread()
    stored = await staff.messages(internal["id"])
    note = stored[0]
    listed = (await customer.http.get("/api/v1/threads", params={"limit": 100})).json()
    assert internal["id"] not in [t["id"] for t in listed["threads"]]

    async def api_probes(api: Api, thread: str, message: str) -> list[httpx.Response]:
        http = api.http
        return [
            await http.get(f"/api/v1/threads/{thread}"),
            await http.get(f"/api/v1/threads/{thread}/messages"),
            await api.post(thread, "Let me in"),
            await http.patch(f"/api/v1/threads/{thread}", json={"status": "closed"}),
            await http.patch(f"/api/v1/threads/{thread}", json={"title": "Renamed"}),
            await http.patch(f"/api/v1/messages/{message}", json={"body": "Changed"}),
            await http.delete(f"/api/v1/messages/{message}"),
        ]

    hidden = await api_probes(customer, internal["id"], note["id"])
    nowhere = await api_probes(customer, random_id(), random_id())
    overlong = await api_probes(customer, random_id(40), random_id(40))
    assert [r.status_code for r in hidden] == [404] * len(hidden)
    assert [r.json() for r in hidden] == [r.json() for r in nowhere]
    assert [r.json() for r in overlong] == [r.json() for r in nowhere]
    assert {r.json()["error"]["code"] for r in hidden} == {"not_found"}

    def page_probes(session: httpx.Client, thread: str, message: str) -> list[httpx.Response]:
        return [
            session.get(f"/threads/{thread}"),
            session.get(f"/messages/{message}"),
            session.get(f"/messages/{message}/edit"),
        ]

    def pages() -> list[list[httpx.Response]]:
        c = browser_session(scene.server, CUSTOMER)
        s = browser_session(scene.server, STAFF)
        try:
            return [
                page_probes(s, internal["id"], note["id"]),
                page_probes(c, internal["id"], note["id"]),
                page_probes(c, random_id(), random_id()),
                page_probes(c, random_id(40), random_id(40)),
            ]
        finally:
            c.close()
            s.close()

    staff_pages, hidden_pages, nowhere_pages, overlong_pages = await asyncio.to_thread(pages)
    assert [r.status_code for r in staff_pages[:2]] == [200, 200]  # the ids are real
    assert [r.status_code for r in hidden_pages] == [404, 404, 404]
    assert [r.text for r in hidden_pages] == [r.text for r in nowhere_pages]
    assert [r.text for r in overlong_pages] == [r.text for r in nowhere_pages]
    assert internal["title"] not in "".join(r.text for r in hidden_pages)

    # Nothing changed.
    now = await staff.internal_thread()
    assert (now["title"], now["status"], now["seq"]) == (
        internal["title"], internal["status"], internal["seq"],
    )  # fmt: skip
    assert await staff.messages(internal["id"]) == stored


# -- opening a socket ------------------------------------------------------------------------


async def test_a_socket_from_a_foreign_origin_is_refused_while_the_same_origin_is_accepted(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    session = await asyncio.to_thread(browser_session, scene.server, CUSTOMER)
    try:
        cookies = cookie_header(session)
        own = await scene.browser_socket(session)
    finally:
        session.close()
    assert own.hello["user"] == customer.id
    await own.sync()
    for origin in FOREIGN_ORIGINS:
        status = await refused_status(scene.server, cookies=cookies, origin=origin, fmt="html")
        assert status == 403, origin
        # A token does not make a foreign page trustworthy either.
        status = await refused_status(scene.server, token=customer.token, origin=origin)
        assert status == 403, origin
    # The accepted socket is unaffected.
    await own.sync()


async def test_a_socket_without_a_session_or_token_is_refused(scene: Scene) -> None:
    server = scene.server
    assert await refused_status(server) == 403
    assert await refused_status(server, origin=server.url, fmt="html") == 403
    assert await refused_status(server, token="dk_" + "x" * 43) == 403
    assert (
        await refused_status(server, cookies="dreiklang_session=forged", origin=server.url) == 403
    )


async def test_a_session_cookie_without_an_origin_is_refused_and_a_token_without_one_accepted(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    session = await asyncio.to_thread(browser_session, scene.server, CUSTOMER)
    cookies = cookie_header(session)
    session.close()
    # Browsers always send an Origin; whoever does not must use a token (docs/protocol.md).
    assert await refused_status(scene.server, cookies=cookies, fmt="html") == 403
    client = await scene.socket(customer)
    assert client.hello["user"] == customer.id


async def test_signing_out_closes_that_sessions_sockets_at_once_and_spares_the_others(
    scene: Scene,
) -> None:
    """Sign-out here, or "sign out everywhere else" from another browser: the ended session's
    open sockets close with 4401 (the page goes to sign-in) and cannot come back."""
    customer = await scene.person(CUSTOMER)
    phone, tablet, laptop = [
        await asyncio.to_thread(browser_session, scene.server, CUSTOMER) for _ in range(3)
    ]
    try:
        phone_ws, tablet_ws, laptop_ws = [
            await scene.browser_socket(s) for s in (phone, tablet, laptop)
        ]
        script_ws = await scene.socket(customer)  # an API token is not a browser session
        phone_cookies = cookie_header(phone)
        r = await asyncio.to_thread(phone.post, "/logout", data={"csrftoken": csrf_of(phone)})
        assert r.status_code == 303 and r.headers["location"] == "/login", r.text
        await asyncio.wait_for(phone_ws.wait_closed(), WAIT_SECONDS)
        assert phone_ws.close_code == 4401
        for still_open in (tablet_ws, laptop_ws, script_ws):
            await still_open.sync()
        origin = scene.server.url
        assert await refused_status(scene.server, cookies=phone_cookies, origin=origin) == 403
        r = await asyncio.to_thread(
            tablet.post, "/settings/sessions/others/end", data={"csrftoken": csrf_of(tablet)}
        )
        assert r.status_code == 303, r.text
        await asyncio.wait_for(laptop_ws.wait_closed(), WAIT_SECONDS)
        assert laptop_ws.close_code == 4401
        await tablet_ws.sync()
        await script_ws.sync()
        laptop_cookies = cookie_header(laptop)
        assert await refused_status(scene.server, cookies=laptop_cookies, origin=origin) == 403
        r = await customer.http.delete("/api/v1/tokens/current")  # the script signs out
        assert r.status_code == 204, r.text
        await asyncio.wait_for(script_ws.wait_closed(), WAIT_SECONDS)
        assert script_ws.close_code == 4401
        await tablet_ws.sync()
    finally:
        for s in (phone, tablet, laptop):
            s.close()


# -- staff notes -----------------------------------------------------------------------------


async def test_a_staff_note_reaches_staff_and_nothing_of_it_reaches_a_customer(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    colleague = await scene.person(STAFF_2)
    thread = (await customer.start_thread("Smart meter shows an error code"))["id"]
    customer_ws = await scene.socket(customer, lists=True)
    staff_ws = await scene.socket(staff)
    colleague_ws = await scene.socket(colleague, lists=True)
    for ws in (customer_ws, staff_ws, colleague_ws):
        await ws.subscribe(thread, since=None)
    row_before = await customer.thread_row(thread)
    listed_before = await customer.messages(thread)
    staff_row_before = await staff.thread_row(thread)
    mark = customer_ws.mark()

    secret = "Internal: this customer already called twice today"
    note = await staff_ws.send_message(thread, secret, audience="staff")
    [seen_note] = await colleague_ws.events(thread, 1)
    assert seen_note["id"] == note["id"]
    assert seen_note["message"]["staff_only"] is True
    assert seen_note["seq"] == staff_row_before["seq"] + 1
    await colleague_ws.next_of_type("activity", thread=thread)
    # Stored and committed: the customer's view has not moved.
    assert await customer.thread_row(thread) == row_before
    assert await customer.messages(thread) == listed_before
    note_answer = await customer.http.patch(f"/api/v1/messages/{note['id']}", json={"body": "x"})
    assert note_answer.status_code == 404

    answer = await staff_ws.send_message(thread, "We are sending a technician.")
    [public] = await customer_ws.events(thread, 1)
    assert public["id"] == answer["id"]
    assert public["seq"] == row_before["seq"] + 1
    activity = await customer_ws.next_of_type("activity", thread=thread)
    assert activity["count"] == row_before["messages"] + 1
    [staff_public] = await colleague_ws.events(thread, 1)
    assert staff_public["seq"] == seen_note["seq"] + 1

    await customer_ws.quiet()
    frames = customer_ws.since(mark)
    text = json.dumps(frames)
    assert note["id"] not in text and secret not in text and 'staff_only": true' not in text
    assert [f["type"] for f in frames if f["type"] in ("event", "activity")] == [
        "event", "activity",
    ]  # fmt: skip

    row_after = await customer.thread_row(thread)
    assert row_after["messages"] == row_before["messages"] + 1
    assert row_after["seq"] == row_before["seq"] + 1
    assert (await staff.thread_row(thread))["messages"] == staff_row_before["messages"] + 2
    listed = await customer.messages(thread)
    assert [m["id"] for m in listed] == [m["id"] for m in listed_before] + [answer["id"]]

    # A replay from the start is gapless for the customer and leaves the note out.
    fresh = await scene.socket(customer)
    replay, done = await fresh.subscribe(thread, since=0)
    assert [e["seq"] for e in replay] == list(range(1, done["seq"] + 1))
    assert note["id"] not in [e["id"] for e in replay]
    assert replay[-1]["id"] == answer["id"]
    staff_fresh = await scene.socket(colleague)
    staff_replay, _ = await staff_fresh.subscribe(thread, since=0)
    assert [e["id"] for e in staff_replay][-2:] == [note["id"], answer["id"]]


async def test_a_customer_cannot_write_a_staff_note(scene: Scene) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    await staff_ws.subscribe(thread, since=None)
    cid = new_client_id()
    await customer_ws.send_json(
        {"type": "send", "thread": thread, "client_id": cid, "body": "Psst", "audience": "staff"}
    )
    error = await customer_ws.next_of_type("error", client_id=cid)
    assert error["code"] == "forbidden"
    assert error["thread"] == thread
    over_api = await customer.post(thread, "Psst", audience="staff")
    assert over_api.status_code == 403
    assert over_api.json()["error"]["code"] == "forbidden"
    await staff_ws.quiet()
    assert staff_ws.unclaimed("event") == []
    assert len(await staff.messages(thread)) == 1
    # The same client_id is still free: nothing was stored under it.
    ack = await customer_ws.send_message(thread, "Hello everyone", client_id=cid)
    assert ack["duplicate"] is False


# -- bad frames ------------------------------------------------------------------------------


def bad_frames(thread: str) -> list[tuple[str, str | bytes, str]]:
    """Return (what is wrong, the raw frame, the error code it must get)."""

    def send(**fields: Any) -> str:
        frame = {"type": "send", "thread": thread, "client_id": new_client_id(), "body": "Hi"}
        frame.update(fields)
        return json.dumps({k: v for k, v in frame.items() if v is not None})

    def subscribe(since: Any) -> str:
        return json.dumps({"type": "subscribe", "thread": thread, "since": since})

    return [
        ("not JSON", "hello {", "bad_frame"),
        ("a JSON array", '[{"type": "ping"}]', "bad_frame"),
        ("a JSON string", '"ping"', "bad_frame"),
        ("no type", json.dumps({"thread": thread, "body": "Hi"}), "bad_frame"),
        ("a type that is not a string", json.dumps({"type": 7}), "bad_frame"),
        ("an unknown type", json.dumps({"type": "shout"}), "unknown_type"),
        ("a binary frame", b'{"type": "ping"}', "bad_frame"),
        ("an empty body", send(body=""), "empty"),
        ("a blank body", send(body=" \n\t "), "empty"),
        ("a body that is not text", send(body=42), "invalid"),
        ("a body over 10,000 characters", send(body="x" * 10_001), "too_long"),
        ("a frame over 128 KiB", send(body="x" * 140_000), "too_large"),
        ("since as a string", subscribe("5"), "bad_frame"),
        ("since as a boolean", subscribe(True), "bad_frame"),
        ("since as a fraction", subscribe(1.5), "bad_frame"),
        ("an empty client_id", send(client_id=""), "invalid_client_id"),
        ("a client_id over 64 characters", send(client_id="c" * 65), "invalid_client_id"),
        ("a non-ASCII client_id", send(client_id="nachricht-ü"), "invalid_client_id"),
        ("a client_id with a newline", send(client_id="abc\n"), "invalid_client_id"),
        ("a client_id that is a number", send(client_id=12345), "invalid_client_id"),
        ("an unknown audience", send(audience="everyone"), "invalid_audience"),
    ]


async def test_bad_frames_get_a_clear_error_and_the_socket_stays_usable(scene: Scene) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    await customer_ws.subscribe(thread, since=None)
    watcher = await scene.socket(staff)
    await watcher.subscribe(thread, since=None)

    good = []
    for what, raw, code in bad_frames(thread):
        await customer_ws.send_raw(raw)
        error = await customer_ws.next_of_type("error")
        assert error["code"] == code, what
        assert isinstance(error["message"], str) and error["message"], what
        if isinstance(raw, str) and code not in ("bad_frame", "too_large", "unknown_type"):
            sent = json.loads(raw)
            assert error["thread"] == thread, what
            assert error["client_id"] == sent["client_id"], what
        # The socket still works: the next valid send is stored.
        ack = await customer_ws.send_message(thread, f"Still here after {what}")
        assert ack["duplicate"] is False, what
        good.append(ack["id"])

    # A body of exactly 10,000 characters, each four bytes in UTF-8, is fine.
    longest = await customer_ws.send_message(thread, "😀" * 10_000)
    good.append(longest["id"])

    events = await watcher.events(thread, len(good))
    assert [e["id"] for e in events] == good
    await watcher.quiet()
    assert watcher.unclaimed("event") == []
    stored = await staff.messages(thread)
    assert [m["id"] for m in stored[1:]] == good
    assert stored[-1]["body"] == "😀" * 10_000


async def test_a_frame_over_one_mebibyte_closes_the_socket_with_1009(scene: Scene) -> None:
    customer = await scene.person(CUSTOMER)
    thread = (await customer.start_thread())["id"]
    ws = await scene.socket(customer)
    await ws.send_json(
        {"type": "send", "thread": thread, "client_id": new_client_id(), "body": "x" * 1_100_000}
    )
    await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1009
    again = await scene.socket(customer)
    await again.sync()
    assert len(await customer.messages(thread)) == 1
