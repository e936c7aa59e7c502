"""End to end: messages travel between real clients through a real server, in order, once.

Each test runs against a uvicorn subprocess with the demo company, on SQLite and PostgreSQL
(the `live_server` fixture), with real `websockets` clients and the JSON API. See
docs/protocol.md for what the server promises.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from server.actions.messages import send_message
from server.db import close_database, open_database
from server.fanout import SWEEP_SECONDS
from server.models import User
from tests.conftest import NOT_LIVE, make_settings
from tests.live import LiveServer
from tests.live_helpers import (
    CUSTOMER,
    CUSTOMER_2,
    CUSTOMER_3,
    STAFF,
    STAFF_2,
    WAIT_SECONDS,
    Scene,
    WsClient,
    browser_session,
    new_client_id,
)

CONCURRENT_SENDERS = 4
MESSAGES_PER_SENDER = 25
MISSED_MESSAGES = 20
RACE_ROUNDS = 5


@pytest.fixture
async def scene(live_server: LiveServer) -> AsyncIterator[Scene]:
    async with Scene(live_server) as s:
        yield s


def seqs(events: list[dict[str, Any]]) -> list[int]:
    return [e["seq"] for e in events]


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["id"] for e in events]


# -- two people talking ----------------------------------------------------------------------


async def test_a_customer_and_staff_see_each_others_messages_rendered_alike_and_stored(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread("Invoice for March is missing"))["id"]
    sessions = await asyncio.to_thread(
        lambda: [browser_session(scene.server, CUSTOMER), browser_session(scene.server, STAFF)]
    )
    try:
        customer_html = await scene.browser_socket(sessions[0])
        staff_html = await scene.browser_socket(sessions[1])
    finally:
        for session in sessions:
            session.close()
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    assert customer_html.hello == {
        "type": "hello", "user": customer.id, "staff": False, "format": "html:en"
    }  # fmt: skip
    assert staff_ws.hello == {"type": "hello", "user": staff.id, "staff": True, "format": "json"}
    everyone = [customer_html, staff_html, customer_ws, staff_ws]
    for ws in everyone:
        replay, done = await ws.subscribe(thread, since=0)
        assert seqs(replay) == [1]
        assert done["seq"] == 1

    question = await customer_ws.send_message(thread, "My **meter** shows 0 kWh since Monday.")
    answer = await staff_ws.send_message(thread, "Thanks, we check it _today_.")
    assert question["duplicate"] is False and answer["duplicate"] is False

    seen = [await ws.events(thread, 2) for ws in everyone]
    for events in seen:
        assert seqs(events) == [2, 3]
        assert ids(events) == [question["id"], answer["id"]]
        assert [e["name"] for e in events] == ["message.created"] * 2
        assert [e["client_id"] for e in events] == [question["client_id"], answer["client_id"]]

    # JSON clients get the same message, whoever reads it.
    customer_html_events, staff_html_events, json_events, staff_json_events = seen
    assert json_events == staff_json_events
    first, second = (e["message"] for e in json_events)
    assert first["author"]["id"] == customer.id and first["author"]["staff"] is False
    assert second["author"]["id"] == staff.id and second["author"]["staff"] is True
    assert first["body"] == "My **meter** shows 0 kWh since Monday."
    assert "<strong>meter</strong>" in first["html"]
    assert "<em>today</em>" in second["html"]
    # Browsers get the same fragment, whoever reads it.
    assert customer_html_events == staff_html_events
    for event in customer_html_events:
        assert f'id="msg-{event["id"]}"' in event["html"]
    assert "<strong>meter</strong>" in customer_html_events[0]["html"]

    # Stored, and the same for both readers.
    for reader in (customer, staff):
        stored = await reader.messages(thread)
        assert len(stored) == 3
        assert stored[1:] == [first, second]

    # Still there after reconnecting: a fresh socket replays the whole thread.
    await customer_ws.close()
    again = await scene.socket(customer)
    replay, done = await again.subscribe(thread, since=0)
    assert seqs(replay) == [1, 2, 3]
    assert [e["message"] for e in replay[1:]] == [first, second]
    assert done["seq"] == 3


# -- resume after a disconnect ---------------------------------------------------------------


async def test_a_client_that_reconnects_with_since_gets_exactly_the_missed_messages_then_live_ones(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    await customer_ws.subscribe(thread, since=None)
    await staff_ws.subscribe(thread, since=None)
    hello = await staff_ws.send_message(thread, "Hello, Jan from field service here.")
    [seen] = await customer_ws.events(thread, 1)
    assert seen["id"] == hello["id"]
    last_seq = seen["seq"]
    await customer_ws.close()

    missed = [
        await staff_ws.send_message(thread, f"Update {i} while you were away")
        for i in range(MISSED_MESSAGES)
    ]

    customer_ws = await scene.socket(customer)
    replay, done = await customer_ws.subscribe(thread, since=last_seq)
    assert seqs(replay) == list(range(last_seq + 1, last_seq + MISSED_MESSAGES + 1))
    assert ids(replay) == [ack["id"] for ack in missed]
    assert [e["message"]["body"] for e in replay] == [
        f"Update {i} while you were away" for i in range(MISSED_MESSAGES)
    ]
    assert done["seq"] == last_seq + MISSED_MESSAGES

    live = [await staff_ws.send_message(thread, f"Live {i}") for i in range(3)]
    events = await customer_ws.events(thread, 3)
    assert ids(events) == [ack["id"] for ack in live]
    assert seqs(events) == [done["seq"] + 1, done["seq"] + 2, done["seq"] + 3]
    await customer_ws.quiet()
    assert customer_ws.unclaimed("event") == []


async def test_a_client_resuming_while_messages_keep_arriving_misses_none_and_repeats_none(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    staff_ws = await scene.socket(staff)
    await staff_ws.subscribe(thread, since=None)
    away = [await staff_ws.send_message(thread, f"Before {i}") for i in range(MISSED_MESSAGES)]

    async def keep_posting() -> list[dict[str, Any]]:
        return [await staff_ws.send_message(thread, f"During {i}") for i in range(10)]

    posting = asyncio.create_task(keep_posting())
    customer_ws = await scene.socket(customer)
    replay, done = await customer_ws.subscribe(thread, since=1)
    during = await asyncio.wait_for(posting, WAIT_SECONDS)
    expected = [ack["id"] for ack in away + during]
    live = await customer_ws.events(thread, len(expected) - len(replay))
    everything = replay + live
    assert ids(everything) == expected
    assert seqs(everything) == list(range(2, 2 + len(expected)))
    assert done["seq"] == 1 + len(replay)
    await customer_ws.quiet()
    assert customer_ws.unclaimed("event") == []


# -- many senders at once --------------------------------------------------------------------


async def test_concurrent_senders_produce_one_gapless_order_that_everyone_sees_and_stores(
    scene: Scene,
) -> None:
    emails = [CUSTOMER, CUSTOMER_2, CUSTOMER_3, STAFF][:CONCURRENT_SENDERS]
    people = [await scene.person(email) for email in emails]
    observer = await scene.person(STAFF_2)
    thread = (await people[0].start_thread("Busy thread"))["id"]
    senders = [await scene.socket(p) for p in people]
    watchers = [await scene.socket(observer), await scene.socket(people[0])]
    for ws in senders + watchers:
        replay, _ = await ws.subscribe(thread, since=0)
        assert seqs(replay) == [1]

    async def burst(ws: WsClient, who: int) -> list[dict[str, Any]]:
        cids = [f"burst-{who}-{i}-{new_client_id()[:8]}" for i in range(MESSAGES_PER_SENDER)]
        for i, cid in enumerate(cids):  # as fast as possible: no waiting for acks in between
            await ws.send_json(
                {"type": "send", "thread": thread, "client_id": cid, "body": f"{who}:{i}"}
            )
        return [await ws.next_of_type("ack", client_id=cid) for cid in cids]

    acks = await asyncio.gather(*(burst(ws, n) for n, ws in enumerate(senders)))
    total = CONCURRENT_SENDERS * MESSAGES_PER_SENDER
    assert all(a["duplicate"] is False for per in acks for a in per)
    assert len({a["id"] for per in acks for a in per}) == total

    orders = [await ws.events(thread, total) for ws in senders + watchers]
    first = orders[0]
    assert seqs(first) == list(range(2, total + 2))
    for order in orders[1:]:
        assert [(e["seq"], e["id"]) for e in order] == [(e["seq"], e["id"]) for e in first]
    # Each sender's messages keep the order it sent them in.
    for who, per in enumerate(acks):
        mine = [e["id"] for e in first if e["message"]["body"].startswith(f"{who}:")]
        assert mine == [a["id"] for a in per]
    stored = await observer.messages(thread)
    assert [m["id"] for m in stored] == [stored[0]["id"], *ids(first)]
    for ws in senders + watchers:
        await ws.quiet()
        assert ws.unclaimed("event") == []


# -- retries ---------------------------------------------------------------------------------


async def test_a_retried_send_is_stored_once_and_acknowledged_with_the_same_message(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    phone = await scene.socket(customer)
    laptop = await scene.socket(customer)
    watcher = await scene.socket(staff)
    await watcher.subscribe(thread, since=None)

    # Over the socket, one after the other.
    cid = new_client_id()
    sent = await phone.send_message(thread, "Is anyone there?", client_id=cid)
    retried = await phone.send_message(thread, "Is anyone there?", client_id=cid)
    assert sent["duplicate"] is False
    assert retried == {**sent, "duplicate": True}

    # Over the JSON API, and a retry of it over the socket.
    api_cid = new_client_id()
    first = await customer.post(thread, "Posted over the API", client_id=api_cid)
    again = await customer.post(thread, "Posted over the API", client_id=api_cid)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["message"] == again.json()["message"]
    over_socket = await phone.send_message(thread, "Posted over the API", client_id=api_cid)
    assert over_socket["id"] == first.json()["message"]["id"]
    assert over_socket["duplicate"] is True

    # Two devices sending the same message at the same moment, and two API requests; a few
    # rounds, so that some retries catch their original inside its transaction.
    race_cids, race_ids = [], []
    for round_ in range(RACE_ROUNDS):
        race_cid = new_client_id()
        racing = await asyncio.gather(
            phone.send_message(thread, f"Sent twice at once {round_}", client_id=race_cid),
            laptop.send_message(thread, f"Sent twice at once {round_}", client_id=race_cid),
        )
        assert racing[0]["id"] == racing[1]["id"]
        assert sorted(a["duplicate"] for a in racing) == [False, True]
        api_race_cid = new_client_id()
        responses = await asyncio.gather(
            *(customer.post(thread, f"API twice {round_}", client_id=api_race_cid) for _ in "ab")
        )
        assert sorted(r.status_code for r in responses) == [200, 201]
        assert responses[0].json()["message"] == responses[1].json()["message"]
        race_cids += [race_cid, api_race_cid]
        race_ids += [racing[0]["id"], responses[0].json()["message"]["id"]]

    stored = await customer.messages(thread)
    assert [m["client_id"] for m in stored[1:]] == [cid, api_cid, *race_cids]
    expected_ids = [sent["id"], over_socket["id"], *race_ids]
    assert [m["id"] for m in stored[1:]] == expected_ids
    events = await watcher.events(thread, len(expected_ids))
    assert ids(events) == expected_ids
    await watcher.quiet()
    assert watcher.unclaimed("event") == []


# -- server restart --------------------------------------------------------------------------


async def test_clients_resume_after_a_server_restart_and_get_what_was_posted_meanwhile_once(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    await customer_ws.subscribe(thread, since=None)
    await staff_ws.subscribe(thread, since=None)
    before = await staff_ws.send_message(thread, "Before the restart")
    last = {}
    for who, ws in (("customer", customer_ws), ("staff", staff_ws)):
        [event] = await ws.events(thread, 1)
        assert event["id"] == before["id"]
        last[who] = event["seq"]

    await asyncio.to_thread(scene.server.restart)
    for ws in (customer_ws, staff_ws):
        await asyncio.wait_for(ws.wait_closed(), WAIT_SECONDS)
        assert ws.close_code in (1000, 1001, 1012), ws.close_code

    meanwhile = []
    for i in range(5):
        r = await staff.post(thread, f"Posted during the outage {i}")
        assert r.status_code == 201, r.text
        meanwhile.append(r.json()["message"]["id"])
    r = await customer.post(thread, "Is it back?")
    assert r.status_code == 201, r.text
    meanwhile.append(r.json()["message"]["id"])

    back = {}
    for who, person in (("customer", customer), ("staff", staff)):
        ws = back[who] = await scene.socket(person)
        replay, done = await ws.subscribe(thread, since=last[who])
        assert ids(replay) == meanwhile
        assert seqs(replay) == list(range(last[who] + 1, last[who] + 1 + len(meanwhile)))
        assert done["seq"] == last[who] + len(meanwhile)
    live = await staff.post(thread, "Live again")
    for who, ws in back.items():
        [event] = await ws.events(thread, 1)
        assert event["id"] == live.json()["message"]["id"]
        assert event["seq"] == last[who] + len(meanwhile) + 1
        await ws.quiet()
        assert ws.unclaimed("event") == []


# -- edits and deletions ---------------------------------------------------------------------


async def test_a_message_whose_process_died_before_publishing_still_reaches_subscribers(
    scene: Scene, tmp_path: Path
) -> None:
    """Committed, acknowledged, never published (the process died in between) and nothing
    after it: the server's sweep finds it within seconds, delivered once, in order."""
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread("Meter reading photo won't upload"))["id"]
    watcher = await scene.socket(staff)
    await watcher.subscribe(thread, since=None)
    # Another server process: it commits through the same action, then dies unpublished.
    await open_database(make_settings(scene.server.database_url, tmp_path))
    try:
        author = await User.get(id=customer.id)
        message, _ = await send_message(
            NOT_LIVE, author, thread, "Sent just before the crash", "crash-1"
        )
    finally:
        await close_database()
    [lost] = await watcher.events(thread, 1, timeout=SWEEP_SECONDS + WAIT_SECONDS)
    assert lost["id"] == message.id and lost["name"] == "message.created"
    r = await customer.post(thread, "And the next one")
    assert r.status_code == 201, r.text
    [after] = await watcher.events(thread, 1)
    assert after["seq"] == lost["seq"] + 1
    await watcher.quiet()
    assert watcher.unclaimed("event") == [], "no duplicates"


async def test_edits_and_deletions_reach_the_other_user_live_and_only_the_author_may_make_them(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    await customer_ws.subscribe(thread, since=None)
    await staff_ws.subscribe(thread, since=None)
    answer = await staff_ws.send_message(thread, "Your meter is fine.")
    mine = await customer_ws.send_message(thread, "Thanks!")
    created = await customer_ws.events(thread, 2)
    await staff_ws.events(thread, 2)

    await staff_ws.send_json(
        {"type": "edit", "id": answer["id"], "body": "Your meter is *broken*."}
    )
    assert (await staff_ws.next_of_type("ack", id=answer["id"]))["thread"] == thread
    [edited] = await customer_ws.events(thread, 1)
    assert edited["name"] == "message.edited"
    assert edited["id"] == answer["id"]
    assert edited["seq"] == created[-1]["seq"] + 1
    assert edited["message"]["body"] == "Your meter is *broken*."
    assert "<em>broken</em>" in edited["message"]["html"]
    assert edited["message"]["edited_at"] is not None

    # Nobody changes someone else's message, staff included.
    mark = customer_ws.mark()
    staff_mark = staff_ws.mark()
    for frame in (
        {"type": "edit", "id": answer["id"], "body": "I rewrite your answer"},
        {"type": "delete", "id": answer["id"]},
    ):
        await customer_ws.send_json(frame)
        error = await customer_ws.next_of_type("error", id=answer["id"])
        assert error["code"] == "forbidden"
    await staff_ws.send_json({"type": "edit", "id": mine["id"], "body": "Staff rewrite"})
    assert (await staff_ws.next_of_type("error", id=mine["id"]))["code"] == "forbidden"
    await staff_ws.send_json({"type": "delete", "id": mine["id"]})
    assert (await staff_ws.next_of_type("error", id=mine["id"]))["code"] == "forbidden"
    await customer_ws.quiet()
    await staff_ws.quiet()
    assert customer_ws.since(mark, "event") == []
    assert staff_ws.since(staff_mark, "event") == []

    await staff_ws.send_json({"type": "delete", "id": answer["id"]})
    await staff_ws.next_of_type("ack", id=answer["id"])
    [deleted] = await customer_ws.events(thread, 1)
    assert deleted["name"] == "message.deleted"
    assert deleted["id"] == answer["id"]
    assert deleted["seq"] == edited["seq"] + 1
    assert deleted["message"]["deleted"] is True
    assert deleted["message"]["body"] == "" and deleted["message"]["html"] == ""
    await staff_ws.send_json({"type": "edit", "id": answer["id"], "body": "Undo"})
    assert (await staff_ws.next_of_type("error", id=answer["id"]))["code"] == "deleted"

    stored = {m["id"]: m for m in await customer.messages(thread)}
    assert stored[answer["id"]]["deleted"] is True
    assert stored[answer["id"]]["body"] == ""
    assert stored[mine["id"]]["body"] == "Thanks!"
    # A replay shows messages as they are now.
    fresh = await scene.socket(customer)
    replay, _ = await fresh.subscribe(thread, since=1)
    assert [(e["name"], e["id"]) for e in replay] == [
        ("message.created", answer["id"]),
        ("message.created", mine["id"]),
        ("message.edited", answer["id"]),
        ("message.deleted", answer["id"]),
    ]
    assert all(e["message"]["deleted"] for e in replay if e["id"] == answer["id"])


# -- typing ----------------------------------------------------------------------------------


async def test_typing_notices_reach_the_other_subscriber_at_most_once_every_two_seconds(
    scene: Scene,
) -> None:
    customer = await scene.person(CUSTOMER)
    staff = await scene.person(STAFF)
    thread = (await customer.start_thread())["id"]
    customer_ws = await scene.socket(customer)
    staff_ws = await scene.socket(staff)
    await customer_ws.subscribe(thread, since=None)
    await staff_ws.subscribe(thread, since=None)
    loop = asyncio.get_running_loop()

    mark = customer_ws.mark()
    await staff_ws.send_json({"type": "typing", "thread": thread})
    await staff_ws.send_json({"type": "typing", "thread": thread})
    notice = await customer_ws.next_of_type("typing")
    announced = loop.time()  # the server took its time stamp before this
    assert notice == {
        "type": "typing", "thread": thread, "user": staff.id,
        "name": staff.user["name"], "staff": True,
    }  # fmt: skip
    await staff_ws.quiet()
    await customer_ws.quiet()
    assert customer_ws.since(mark, "typing") == [notice]

    await customer_ws.send_json({"type": "typing", "thread": thread})
    seen_by_staff = await staff_ws.next_of_type("typing", user=customer.id)
    assert seen_by_staff["staff"] is False
    assert seen_by_staff["name"] == customer.user["name"]

    # Once the two seconds are over, the next keystroke is announced again.
    await asyncio.sleep(max(0.0, announced + 2.05 - loop.time()))
    await staff_ws.send_json({"type": "typing", "thread": thread})
    again = await customer_ws.next_of_type("typing", user=staff.id)
    assert again == notice
    await staff_ws.quiet()
    await customer_ws.quiet()
    assert customer_ws.unclaimed("typing") == []
    # Nobody is told about their own typing.
    assert [f for f in staff_ws.since(0, "typing") if f["user"] == staff.id] == []
    assert [f for f in customer_ws.since(0, "typing") if f["user"] == customer.id] == []

    await staff_ws.send_json({"type": "typing", "thread": "not-subscribed"})
    error = await staff_ws.next_of_type("error", thread="not-subscribed")
    assert error["code"] == "not_subscribed"
