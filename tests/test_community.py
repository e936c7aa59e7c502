"""Community answers: the asker or staff accept any public reply as the answer (a customer's
too), which answers a waiting question and shows under it live for everyone; people whose
answers are accepted gain recognition on their public profile.

Actions run on SQLite and PostgreSQL; the socket and the pages on the real app.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server import desk as queue
from server.actions.accounts import create_user
from server.actions.community import accept_answer, mark_helpful
from server.actions.messages import delete_message, send_message
from server.actions.threads import start_thread
from server.community import BADGES, recognition
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.models import Audience, Event, Message, Role, Thread, ThreadStatus, User
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.test_events import events_until_pong
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM, LENA = "weber@example.org", "tom@example.org", "lena@example.org"
JAN = "jan@nordlicht.example"


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, User]]:
    """Three customers and an employee, on each configured database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        yield {
            "weber": await create_user(WEBER, "Gisela Weber", PASSWORD),
            "tom": await create_user(TOM, "Tom Becker", PASSWORD),
            "lena": await create_user(LENA, "Lena Schulz", PASSWORD),
            "jan": await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field"),
        }
    finally:
        await close_database()


async def ask(asker: User, title: str = "Meter", kind: str = "question") -> Thread:
    thread, _, _ = await start_thread(
        NOT_LIVE, asker, title, "Which number is my usage?", f"ask-{title}", kind
    )
    return await Thread.get(id=thread.id)


async def reply(
    author: User, thread: Thread, body: str, audience: Audience = Audience.ALL
) -> Message:
    msg, _ = await send_message(NOT_LIVE, author, thread.id, body, f"r-{body}", audience)
    return msg


async def event_names(thread_id: str) -> list[str]:
    return [e.name for e in await Event.filter(thread_id=thread_id).order_by("staff_seq")]


async def test_the_asker_accepts_a_customers_reply_which_answers_the_question_and_leaves_the_queue(
    world: dict[str, User],
) -> None:
    weber, tom, jan = world["weber"], world["tom"], world["jan"]
    thread = await ask(weber)
    answer = await reply(tom, thread, "The value after 1.8.0 is your usage in kWh.")
    assert [r.thread.id for r in await queue.queue(jan)] == [thread.id], (
        "a customer answers nothing"
    )

    before = await event_names(thread.id)
    state = await accept_answer(NOT_LIVE, weber, answer.id)
    assert state.message is not None and state.message.id == answer.id
    assert not state.official, "a customer's reply is the accepted answer, not the official one"
    assert state.badge == "first_answer", "Tom's first accepted answer earns his first badge"
    stored = await Thread.get(id=thread.id)
    assert (stored.answer_id, stored.status, stored.waiting_since) == (
        answer.id, ThreadStatus.ANSWERED, None,
    )  # fmt: skip
    assert await queue.queue(jan) == [], "the wait is over: off the desk's queue"
    assert (await event_names(thread.id))[len(before) :] == ["answer.changed", "thread.updated"]

    # Accepting it again takes it back; the question stays answered (nothing reopens it).
    state = await accept_answer(NOT_LIVE, weber, answer.id)
    assert state.message is None
    stored = await Thread.get(id=thread.id)
    assert (stored.answer_id, stored.status) == (None, ThreadStatus.ANSWERED)
    assert (await event_names(thread.id))[-1] == "answer.changed"


async def test_staff_accept_a_customers_reply_and_their_own_replaces_it_as_the_official_answer(
    world: dict[str, User],
) -> None:
    weber, tom, jan = world["weber"], world["tom"], world["jan"]
    thread = await ask(weber)
    customers = await reply(tom, thread, "Try the left dial.")
    state = await accept_answer(NOT_LIVE, jan, customers.id)
    assert state.message is not None and state.message.id == customers.id and not state.official
    assert (await Thread.get(id=thread.id)).status == ThreadStatus.ANSWERED

    staffs = await reply(jan, thread, "It is the value after 1.8.0, Frau Weber.")
    state = await accept_answer(NOT_LIVE, weber, staffs.id)  # the asker may pick staff's too
    assert state.message is not None and state.message.id == staffs.id and state.official
    assert (await Thread.get(id=thread.id)).answer_id == staffs.id, "one answer: replaced"
    assert await recognition(tom.id) == recognition_of(0, 0), "Tom's answer no longer counts"
    assert (await recognition(jan.id)).accepted == 1, "staff are recognised too"


def recognition_of(accepted: int, helpful: int) -> Any:
    from server.community import Recognition, badges_for

    return Recognition(accepted, helpful, badges_for(accepted))


async def test_accepting_in_someone_elses_thread_or_a_wrong_message_is_refused_and_changes_nothing(
    world: dict[str, User],
) -> None:
    weber, tom, lena, jan = world["weber"], world["tom"], world["lena"], world["jan"]
    thread = await ask(weber)
    first = await Message.filter(thread_id=thread.id).order_by("seq").first()
    assert first is not None
    toms = await reply(tom, thread, "Mine shows 1.8.0 too.")
    weber_own = await reply(weber, thread, "Found it myself, I think.")
    note = await reply(jan, thread, "Her meter is new.", Audience.STAFF)
    gone = await reply(lena, thread, "Call them.")
    await delete_message(NOT_LIVE, lena, gone.id)
    idea = await ask(tom, "More chargers", "idea")
    on_idea = await reply(lena, idea, "+1, and at the station too.")
    before = [(t.answer_id, t.status) for t in await Thread.all().order_by("id")]

    with pytest.raises(Forbidden, match="only the asker or staff"):
        await accept_answer(NOT_LIVE, lena, toms.id)  # someone else's question
    with pytest.raises(Forbidden, match="only the asker or staff"):
        await accept_answer(NOT_LIVE, weber, on_idea.id)  # an idea she did not start
    with pytest.raises(Forbidden, match="only the asker or staff"):
        await accept_answer(NOT_LIVE, tom, on_idea.id)  # an idea is not a question, even his
    with pytest.raises(ActionError, match="your own reply") as own:
        await accept_answer(NOT_LIVE, weber, weber_own.id)
    assert own.value.code == "own_reply"
    with pytest.raises(ActionError, match="the question itself"):
        await accept_answer(NOT_LIVE, weber, first.id)
    with pytest.raises(NotFound):
        await accept_answer(NOT_LIVE, weber, note.id)  # a staff note: as if it did not exist
    with pytest.raises(ActionError, match="staff note cannot be"):
        await accept_answer(NOT_LIVE, jan, note.id)
    with pytest.raises(ActionError, match="deleted"):
        await accept_answer(NOT_LIVE, weber, gone.id)
    with pytest.raises(ActionError, match="only a reply by staff") as outside:
        await accept_answer(NOT_LIVE, jan, on_idea.id)  # outside a question: staff replies only
    assert outside.value.code == "not_staff_reply"
    with pytest.raises(NotFound):
        await accept_answer(NOT_LIVE, weber, "no-such-message")
    assert [(t.answer_id, t.status) for t in await Thread.all().order_by("id")] == before


async def test_recognition_counts_visible_accepted_answers_and_helpful_marks_with_badges(
    world: dict[str, User],
) -> None:
    weber, tom, lena, jan = world["weber"], world["tom"], world["lena"], world["jan"]
    assert [threshold for threshold, _ in BADGES] == [25, 5, 1], "highest first"
    answers = []
    for i in range(5):
        thread = await ask(weber, f"Question {i}")
        answers.append(await reply(tom, thread, f"Answer {i}"))
        await accept_answer(NOT_LIVE, weber if i % 2 else jan, answers[-1].id)
    await mark_helpful(NOT_LIVE, weber, answers[0].id, "1")
    await mark_helpful(NOT_LIVE, lena, answers[0].id, "1")
    await mark_helpful(NOT_LIVE, jan, answers[1].id, "1")
    assert await recognition(tom.id) == recognition_of(5, 3)
    assert (await recognition(tom.id)).badges == ("helper", "first_answer")

    # A deleted answer counts for nothing: its question is no longer answered by him.
    await delete_message(NOT_LIVE, tom, answers[0].id)
    assert await recognition(tom.id) == recognition_of(4, 1)
    assert (await recognition(tom.id)).badge == "first_answer"
    assert await recognition(lena.id) == recognition_of(0, 0)


# -- the real app: the socket, the buttons' data, the person page -------------------------------


def test_an_accepted_answer_reaches_every_subscriber_live_and_its_json_shape_is_unchanged(
    client: TestClient,
) -> None:
    for email, name in ((WEBER, "Gisela Weber"), (TOM, "Tom Becker"), (LENA, "Lena Schulz")):
        client.portal.call(create_user, email, name, PASSWORD)  # type: ignore[union-attr]
    client.portal.call(create_user, JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email in (WEBER, TOM, LENA, JAN)}
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Which one?", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    r = client.post(f"/api/v1/threads/{thread}/messages", headers=tokens[TOM],
                    json={"body": "The one after 1.8.0.", "client_id": "t-1"})  # fmt: skip
    answer = r.json()["message"]["id"]

    with (
        client.websocket_connect("/ws", headers=tokens[LENA]) as lena,
        client.websocket_connect("/ws?format=json", headers=tokens[JAN]) as jan,
    ):
        for ws in (lena, jan):
            assert ws.receive_json()["type"] == "hello"
            ws.send_json({"type": "subscribe", "thread": thread, "since": 10_000})
            while ws.receive_json()["type"] != "subscribed":
                pass
        login(client, WEBER)
        hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
        r = client.post(f"/messages/{answer}/answer", headers=hx)
        assert r.status_code == 200 and "Accepted answer" in r.text and "Tom Becker" in r.text

        frames = events_until_pong(lena)
        assert [f["name"] for f in frames] == ["answer.changed", "thread.updated"]
        assert "Accepted answer" in frames[0]["html"] and "First answer" in frames[0]["html"]
        assert "status-answered" in frames[1]["html"]
        [changed, updated] = events_until_pong(jan)
        assert set(changed) == {"type", "thread", "seq", "name", "answer"}, "the shape as before"
        assert changed["answer"]["id"] == answer and changed["answer"]["author"]["staff"] is False
        assert updated["thread_data"]["status"] == "answered"

    # The page offers the asker "Accept" through the answer section's data, others nothing.
    page = client.get(f"/threads/{thread}").text
    assert 'data-question="1"' in page and 'data-answer="' + answer + '"' in page
    assert "community.js" in page
    client.cookies.clear()
    login(client, TOM)
    person = client.get("/people/" + client.portal.call(id_of, TOM)).text  # type: ignore[union-attr]
    assert "1 accepted answer" in person and "First answer" in person
    client.cookies.clear()
    login(client, LENA)
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.post(f"/messages/{answer}/answer", headers=hx)
    assert r.status_code == 403 and "only the asker or staff" in r.text


async def id_of(email: str) -> str:
    return (await User.get(email=email)).id


def test_json_frames_of_a_staff_answer_keep_their_shape_on_replay(client: TestClient) -> None:
    client.portal.call(create_user, WEBER, "Gisela Weber", PASSWORD)  # type: ignore[union-attr]
    client.portal.call(create_user, JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email in (WEBER, JAN)}
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Which one?", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    r = client.post(f"/api/v1/threads/{thread}/messages", headers=tokens[JAN],
                    json={"body": "The one after 1.8.0.", "client_id": "j-1"})  # fmt: skip
    answer = r.json()["message"]["id"]
    login(client, JAN)
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.post(f"/messages/{answer}/answer", headers=hx)
    assert r.status_code == 200 and "Official answer" in r.text
    with client.websocket_connect("/ws?format=json", headers=tokens[WEBER]) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_json({"type": "subscribe", "thread": thread, "since": 0})
        replayed = []
        while (frame := ws.receive_json())["type"] != "subscribed":
            replayed.append(frame)
    [changed] = [f for f in replayed if f.get("name") == "answer.changed"]
    assert set(changed) == {"type", "thread", "seq", "name", "answer"}
    assert changed["answer"]["id"] == answer and changed["answer"]["author"]["staff"] is True
    assert json.loads(json.dumps(changed["answer"]))["body"] == "The one after 1.8.0."
