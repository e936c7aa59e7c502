"""The event registry (server/events/): every declared type renders frames that match its
declared shape, and a rule such as "the author and staff" reaches exactly those people, live
and on replay, without a gap in anyone's numbering."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.writes import record
from server.community import HelpfulCount
from server.events import EVENTS, claims, community, desk, ideas, messages, moderation, threads
from server.events.frames import FORMATS, OWN, live_frames
from server.events.registry import EventType, Registry
from server.ideas import IdeaState
from server.models import Audience, IdeaStatus, Message, Role, Thread
from server.people import user_by_email
from server.publisher import Change, Publisher
from server.queries import message_by_client_id, thread_by_id
from server.templating import Viewpoint
from server.txscript import run_transaction
from tests.conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM, JAN = "weber@example.org", "tom@example.org", "jan@nordlicht.example"
HELD = "test.held"  # a test's own event type: a post only its author and staff may see


@pytest.fixture
def held() -> Iterator[EventType[Message]]:
    """Register, for one test, an event type seen by a message's author and staff only."""
    event_type = EVENTS.add(
        EventType(
            HELD,
            "a post held for review",
            messages.AUTHOR_AND_STAFF,
            messages.payload,
            messages.html,
            messages.load,
            messages.refs,
            message_id=lambda msg: msg.id,
        )
    )
    try:
        yield event_type
    finally:
        EVENTS.remove(HELD)


def test_an_event_type_is_registered_once() -> None:
    registry = Registry()
    registry.add(threads.UPDATED)
    with pytest.raises(ValueError, match="twice"):
        registry.add(threads.UPDATED)


@pytest.mark.parametrize("event_type", list(EVENTS), ids=lambda t: t.name)
async def test_every_event_types_frames_carry_its_declared_shape(
    event_type: EventType[Any], weber_and_jan: dict[str, Any]
) -> None:
    weber = weber_and_jan["weber"]
    publisher = Publisher()
    from server.actions.threads import start_thread

    thread, first, _ = await start_thread(publisher, weber, "Meter", "Hello **you**", "c-1")
    await first.fetch_related("author")
    claim = claims.ClaimState(thread.id, weber_and_jan["jan"].id, "Jan Petersen", datetime.now(UTC))
    subjects: dict[Any, Any] = {
        threads.UPDATED: thread, moderation.THREAD_HIDDEN: thread, claims.CHANGED: claim,
        desk.ANSWERING: claim,
        desk.ANSWER: desk.AnswerState(thread.id, first),
        desk.ROUTED: desk.DeskState(thread.id, None, "", weber_and_jan["jan"].id, "Jan Petersen"),
        community.HELPFUL: HelpfulCount(first.id, thread.id, weber.id, Audience.ALL, 3),
        ideas.CHANGED: IdeaState(thread.id, "i-1", IdeaStatus.DECLINED, 3, "Too costly", None,
                                 "", ("app", "billing")),
    }  # fmt: skip
    subject = subjects.get(event_type, first)
    audience = event_type.visible.audience(subject)
    views = ("staff", "all") if audience == Audience.ALL else ("staff",)
    frames = live_frames(event_type, thread, audience, 7, 5, subject)
    assert set(frames) == {f"{view}:{fmt}" for view in views for fmt in FORMATS}
    for key, raw in frames.items():
        frame = json.loads(raw)
        assert frame["type"] == "event" and frame["name"] == event_type.name
        assert frame["seq"] == (7 if key.startswith("staff:") else 5)
        assert {k: frame[k] for k in event_type.refs(subject)} == event_type.refs(subject)
        if key.endswith(":json"):
            body = {k: v for k, v in frame.items() if k not in ("type", "thread", "seq", "name")}
            expected = msgspec.to_builtins(event_type.payload(subject))
            assert body == expected
            msgspec.convert(body, type=type(event_type.payload(subject)))  # its declared shape
        else:
            view = Viewpoint(key.split(":", 1)[1][5:], staff=key.startswith("staff:"))
            assert frame["html"] == event_type.html(subject, view)


# -- a rule that names one more person besides staff -----------------------------------------


def bearer(client: TestClient, email: str) -> dict[str, str]:
    client.cookies.clear()
    r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def hold(client: TestClient, event_type: EventType[Message], author: str, client_id: str) -> None:
    """Record the test event about a message in one transaction, then publish it, as an
    action would."""

    async def write() -> None:
        user = await user_by_email(author)
        assert user is not None
        msg = await message_by_client_id(user, client_id)
        assert msg is not None
        change = Change()
        await run_transaction(record(change, event_type, msg.thread_id, msg, datetime.now(UTC)))
        await client.app.state.publisher.publish(change)  # type: ignore[attr-defined]

    client.portal.call(write)  # type: ignore[union-attr]


def next_frame(ws: Any, wanted: str) -> dict[str, Any]:
    """Read frames until one of the wanted type (the socket answers in order)."""
    for _ in range(50):
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] == wanted:
            return frame
    raise AssertionError(f"no {wanted!r} frame")


def events_until_pong(ws: Any) -> list[dict[str, Any]]:
    """Every event frame the socket has for us now: a ping's pong comes after them all."""
    ws.send_json({"type": "ping", "t": "sync"})
    found: list[dict[str, Any]] = []
    for _ in range(50):
        frame = ws.receive_json()
        if frame["type"] == "pong":
            return found
        if frame["type"] == "event":
            found.append(frame)
    raise AssertionError("no pong")


def test_an_event_for_the_author_and_staff_reaches_them_and_nobody_else_live_and_on_replay(
    client: TestClient, held: EventType[Message]
) -> None:
    for email, name, role in ((WEBER, "Gisela Weber", Role.CUSTOMER),
                              (TOM, "Tom Becker", Role.CUSTOMER),
                              (JAN, "Jan Petersen", Role.EMPLOYEE)):  # fmt: skip
        client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
    weber, tom, jan = bearer(client, WEBER), bearer(client, TOM), bearer(client, JAN)
    # A discussion: a staff reply moves no status (a question's would: server/actions/desk.py).
    r = client.post("/api/v1/threads", headers=weber, json={
        "title": "Meter", "body": "Hello", "client_id": "w-1", "kind": "discussion"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    client.post(f"/api/v1/threads/{thread}/messages", headers=weber,
                json={"body": "My contract number is 12345", "client_id": "w-2"})  # fmt: skip
    sockets = {}
    with (
        client.websocket_connect("/ws?format=json", headers=weber) as w,
        client.websocket_connect("/ws?format=json", headers=tom) as t,
        client.websocket_connect("/ws?format=json", headers=jan) as j,
    ):
        sockets = {"weber": w, "tom": t, "jan": j}
        for ws in sockets.values():
            next_frame(ws, "hello")
            ws.send_json({"type": "subscribe", "thread": thread, "since": None})
            assert next_frame(ws, "subscribed")["seq"] == 2  # two messages, in every view

        hold(client, held, WEBER, "w-2")
        [own] = events_until_pong(w)
        assert (own["name"], own["seq"], own["message"]["body"]) == (
            HELD,
            None,
            "My contract number is 12345",
        )  # outside her numbering: it moves no `seq`
        [staff] = events_until_pong(j)
        assert (staff["name"], staff["seq"]) == (HELD, 3)
        assert events_until_pong(t) == [], "another customer hears nothing of it"

        # The next message for everyone continues each numbering without a gap.
        client.post(f"/api/v1/threads/{thread}/messages", headers=jan,
                    json={"body": "We'll look into it.", "client_id": "j-1"})  # fmt: skip
        assert [f["seq"] for f in events_until_pong(t)] == [3]
        assert [f["seq"] for f in events_until_pong(w)] == [3]
        assert [f["seq"] for f in events_until_pong(j)] == [4]

        # A reconnect replays it to the author (it came after her `since`), to nobody else.
        for who, ws in sockets.items():
            ws.send_json({"type": "unsubscribe", "thread": thread})
            next_frame(ws, "unsubscribed")
            ws.send_json({"type": "subscribe", "thread": thread, "since": 2})
            replayed = [(f["name"], f["seq"]) for f in events_until_pong(ws)]
            expected = {
                "weber": [(HELD, None), ("message.created", 3)],
                "tom": [("message.created", 3)],
                "jan": [(HELD, 3), ("message.created", 4)],
            }[who]
            assert replayed == expected, who
        # From a `since` after it, nobody gets it again.
        w.send_json({"type": "subscribe", "thread": thread, "since": 3})
        assert events_until_pong(w) == []


async def test_the_event_row_of_such_a_rule_is_staff_numbered_and_names_the_author(
    weber_and_jan: dict[str, Any], held: EventType[Message]
) -> None:
    from server.actions.threads import start_thread
    from server.models import Event

    weber = weber_and_jan["weber"]
    thread, first, _ = await start_thread(Publisher(), weber, "Meter", "Hello", "c-1")
    first.author = weber
    change = Change()
    await run_transaction(record(change, held, thread.id, first, datetime.now(UTC)))
    row = await Event.get(thread_id=thread.id, name=HELD)
    assert (row.audience, row.staff_seq, row.public_seq, row.also_id) == (
        Audience.STAFF,
        2,
        None,
        weber.id,
    )
    stored = await thread_by_id(thread.id)
    assert isinstance(stored, Thread) and (stored.staff_seq, stored.public_seq) == (2, 1)
    [recorded] = change.events
    event = recorded.live()
    assert event.also == weber.id and event.public_seq is None
    assert set(event.frames) == {f"{v}:{f}" for v in ("staff", OWN) for f in FORMATS}
    assert json.loads(event.frames["own:json"])["seq"] is None
