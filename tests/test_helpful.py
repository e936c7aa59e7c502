""" "Helpful" on a reply: once per person whatever races or replays, never on one's own
message or on what the person cannot see; the count is live for everyone, the pressed button
only in the page of whoever pressed it.

Actions run on SQLite and PostgreSQL; the socket and the pages on the real app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.community import mark_helpful
from server.actions.messages import delete_message, send_message
from server.actions.moderation import moderate
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, NotFound
from server.models import Audience, Event, Helpful, Message, Role, User
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.test_community import id_of
from tests.test_events import events_until_pong
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM, JAN = "weber@example.org", "tom@example.org", "jan@nordlicht.example"
PEOPLE = 10


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, User]]:
    """Weber, Tom, ten more customers, Jan (staff) and Aylin (moderator), on each database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        people = {
            "weber": await create_user(WEBER, "Gisela Weber", PASSWORD),
            "tom": await create_user(TOM, "Tom Becker", PASSWORD),
            "jan": await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field"),
            "aylin": await create_user(
                "aylin@nordlicht.example", "Aylin Kaya", PASSWORD, Role.MODERATOR, "Community"
            ),
        }
        for i in range(PEOPLE):
            people[f"c{i}"] = await create_user(f"c{i}@example.org", f"Customer {i}", PASSWORD)
        yield people
    finally:
        await close_database()


async def answered(world: dict[str, User]) -> Message:
    """Weber's question with Tom's reply; return the reply."""
    thread, _, _ = await start_thread(NOT_LIVE, world["weber"], "Meter", "Which one?", "w-1")
    msg, _ = await send_message(NOT_LIVE, world["tom"], thread.id, "After 1.8.0.", "t-1")
    return msg


async def helpful_events(msg: Message) -> list[Event]:
    return await Event.filter(message_id=msg.id, name="message.helpful").order_by("staff_seq")


async def test_ten_marks_at_once_from_one_person_count_once_and_from_ten_people_ten_times(
    world: dict[str, User],
) -> None:
    msg = await answered(world)
    weber = world["weber"]
    states = await asyncio.gather(*(mark_helpful(NOT_LIVE, weber, msg.id, "1") for _ in range(10)))
    assert {(s.count, s.mine) for s in states} == {(1, True)}
    assert await Helpful.filter(message_id=msg.id).count() == 1
    assert len(await helpful_events(msg)) == 1, "only the mark that counted tells anyone"

    others = [world[f"c{i}"] for i in range(PEOPLE)]
    states = await asyncio.gather(*(mark_helpful(NOT_LIVE, c, msg.id, "1") for c in others))
    assert sorted(s.count for s in states) == list(range(2, PEOPLE + 2)), "each count is exact"
    assert await Helpful.filter(message_id=msg.id).count() == PEOPLE + 1
    assert len(await helpful_events(msg)) == PEOPLE + 1


async def test_the_wanted_state_makes_a_replay_change_nothing_and_zero_takes_the_mark_back(
    world: dict[str, User],
) -> None:
    msg = await answered(world)
    weber, jan = world["weber"], world["jan"]
    assert (await mark_helpful(NOT_LIVE, weber, msg.id, "1")).count == 1
    assert (await mark_helpful(NOT_LIVE, weber, msg.id, "1")).count == 1, "a replay"
    assert (await mark_helpful(NOT_LIVE, jan, msg.id, True)).count == 2, "staff count too"
    state = await mark_helpful(NOT_LIVE, weber, msg.id, "0")
    assert (state.count, state.mine) == (1, False)
    assert (await mark_helpful(NOT_LIVE, weber, msg.id, "0")).count == 1, "a replay of 0"
    assert len(await helpful_events(msg)) == 3
    marks = await Helpful.filter(message_id=msg.id).values("user_id")
    assert marks == [{"user_id": jan.id}]


async def test_own_invisible_noted_or_gone_messages_are_refused_and_nothing_is_written(
    world: dict[str, User],
) -> None:
    msg = await answered(world)
    weber, tom, jan, aylin = world["weber"], world["tom"], world["jan"], world["aylin"]
    note, _ = await send_message(NOT_LIVE, jan, msg.thread_id, "Her meter is new.", "n-1",
                                 Audience.STAFF)  # fmt: skip
    gone, _ = await send_message(NOT_LIVE, tom, msg.thread_id, "Oops.", "t-2")
    await delete_message(NOT_LIVE, tom, gone.id)
    hidden, _ = await send_message(NOT_LIVE, tom, msg.thread_id, "Buy my meter!", "t-3")
    await moderate(NOT_LIVE, aylin, "message", hidden.id, "hide", "spam")

    with pytest.raises(ActionError, match="your own message") as own:
        await mark_helpful(NOT_LIVE, tom, msg.id, "1")
    assert own.value.code == "own_message"
    with pytest.raises(NotFound):
        await mark_helpful(NOT_LIVE, weber, note.id, "1")  # she cannot see a staff note
    question = await Message.filter(thread_id=msg.thread_id).order_by("seq").first()
    assert question is not None
    with pytest.raises(ActionError, match="only a reply") as first:
        await mark_helpful(NOT_LIVE, tom, question.id, "1")
    assert first.value.code == "not_a_reply"
    with pytest.raises(ActionError, match="deleted"):
        await mark_helpful(NOT_LIVE, weber, gone.id, "1")
    with pytest.raises(ActionError, match="hid this message") as hid:
        await mark_helpful(NOT_LIVE, weber, hidden.id, "1")
    assert hid.value.code == "hidden"
    with pytest.raises(ActionError, match="on must be 1 or 0") as bad:
        await mark_helpful(NOT_LIVE, weber, msg.id, "yes please")
    assert bad.value.code == "invalid"
    with pytest.raises(NotFound):
        await mark_helpful(NOT_LIVE, weber, "no-such-message", "1")
    assert await Helpful.all().count() == 0
    assert await Event.filter(name="message.helpful").count() == 0

    # Staff may find a colleague's note helpful: its count is for staff alone.
    mira = await create_user("mira@nordlicht.example", "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "")
    assert (await mark_helpful(NOT_LIVE, mira, note.id, "1")).count == 1
    [event] = await helpful_events(note)
    assert event.public_seq is None, "customers are not told a staff note exists"


# -- the real app: the live count, the page, the form -------------------------------------------


def test_the_count_reaches_everyone_live_and_the_pressed_button_only_its_presser(
    client: TestClient,
) -> None:
    for email, name in ((WEBER, "Gisela Weber"), (TOM, "Tom Becker")):
        client.portal.call(create_user, email, name, PASSWORD)  # type: ignore[union-attr]
    client.portal.call(create_user, JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email in (WEBER, TOM, JAN)}
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Which one?", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    r = client.post(f"/api/v1/threads/{thread}/messages", headers=tokens[TOM],
                    json={"body": "After 1.8.0.", "client_id": "t-1"})  # fmt: skip
    reply = r.json()["message"]["id"]

    with (
        client.websocket_connect("/ws", headers=tokens[TOM]) as tom,
        client.websocket_connect("/ws?format=json", headers=tokens[JAN]) as jan,
    ):
        for ws in (tom, jan):
            assert ws.receive_json()["type"] == "hello"
            ws.send_json({"type": "subscribe", "thread": thread, "since": 10_000})
            while ws.receive_json()["type"] != "subscribed":
                pass
        login(client, WEBER)
        hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
        r = client.post(f"/messages/{reply}/helpful", headers=hx, data={"on": "1"})
        assert r.status_code == 200 and 'aria-pressed="true"' in r.text, r.text
        assert '"on": "0"' in r.text, "pressing it again takes the mark back"
        assert "1 found this helpful" in r.text

        [frame] = events_until_pong(tom)
        assert frame["name"] == "message.helpful"
        assert f'id="helpful-{reply}"' in frame["html"] and "1 found this helpful" in frame["html"]
        assert "aria-pressed" not in frame["html"], "nobody's mark is in a shared frame"
        [frame] = events_until_pong(jan)
        assert (frame["message"], frame["count"]) == (reply, 1)

    page = client.get(f"/threads/{thread}").text
    assert 'aria-pressed="true"' in page and "1 found this helpful" in page
    r = client.post(f"/messages/{reply}/helpful", data={"on": "1", "csrftoken":
                    client.cookies["dreiklang_csrf"]}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith(f"#msg-{reply}")
    client.cookies.clear()
    login(client, TOM)
    page = client.get(f"/threads/{thread}").text
    assert "1 found this helpful" in page and 'aria-pressed="true"' not in page
    assert f'hx-post="/messages/{reply}/helpful"' not in page, "no button on one's own reply"
    assert page.count('class="helpful"') == 1, "none on the question: it is no reply"
    r = client.post(f"/messages/{reply}/helpful", data={"on": "1", "csrftoken":
                    client.cookies["dreiklang_csrf"]}, headers={"HX-Request": "true"})  # fmt: skip
    assert r.status_code == 400 and "your own message" in r.text
    person = client.get("/people/" + client.portal.call(id_of, TOM)).text  # type: ignore[union-attr]
    assert "1 found helpful" in person and "0 accepted answers" in person
