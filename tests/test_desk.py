"""The care desk: a question's status follows the conversation, staff route it and mark the
official answer (tests/test_community.py: accepted answers), long waits escalate, and
customers see none of the staff's side.

Actions run on SQLite and PostgreSQL; the queue, the pages and the socket on the real app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from push.recipients import candidates, on_duty, wants
from server import desk as queue
from server.actions.accounts import create_user
from server.actions.community import accept_answer
from server.actions.desk import assign_thread, escalate_waiting
from server.actions.messages import send_message
from server.actions.teams import create_team
from server.actions.threads import start_thread, update_thread
from server.db import close_database, open_database
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.models import (
    Audience,
    Message,
    NotificationIntent,
    NotificationSettings,
    Role,
    Thread,
    ThreadStatus,
)
from server.protocol import MODERATION_CHANNEL
from server.publisher import Publisher
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.test_claims import event_names
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM = "weber@example.org", "tom@example.org"
JAN, MIRA, ADMIN = "jan@nordlicht.example", "mira@nordlicht.example", "admin@nordlicht.example"


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """Two customers, two employees in two teams and an admin, on each configured database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        admin = await create_user(ADMIN, "Sabine Admin", PASSWORD, Role.ADMIN, "IT")
        jan = await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service")
        mira = await create_user(MIRA, "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "Billing")
        field = await create_team(admin, "Field service", jan.id)
        billing = await create_team(admin, "Billing")
        weber = await create_user(WEBER, "Gisela Weber", PASSWORD)
        tom = await create_user(TOM, "Tom Becker", PASSWORD)
        yield {"admin": admin, "jan": jan, "mira": mira, "weber": weber, "tom": tom,
               "field": field, "billing": billing}  # fmt: skip
    finally:
        await close_database()


async def ask(world: dict[str, Any], title: str = "Meter", team: str | None = None) -> Thread:
    thread, _, _ = await start_thread(
        NOT_LIVE, world["weber"], title, "Is my meter wrong?", f"ask-{title}", team=team
    )
    return await Thread.get(id=thread.id)


async def test_a_question_is_answered_by_a_staff_reply_reopened_by_the_customer_and_resolved(
    world: dict[str, Any],
) -> None:
    jan, weber, tom = world["jan"], world["weber"], world["tom"]
    thread = await ask(world)
    assert thread.status == ThreadStatus.OPEN and thread.waiting_since is not None

    await send_message(NOT_LIVE, jan, thread.id, "Checking", "n-1", Audience.STAFF)
    assert (await Thread.get(id=thread.id)).status == ThreadStatus.OPEN, "a note answers nothing"
    await send_message(NOT_LIVE, jan, thread.id, "It is right, Frau Weber.", "j-1")
    answered = await Thread.get(id=thread.id)
    assert answered.status == ThreadStatus.ANSWERED and answered.waiting_since is None
    assert answered.first_response_at is not None

    await send_message(NOT_LIVE, tom, thread.id, "Mine too!", "t-1")  # any customer reopens
    reopened = await Thread.get(id=thread.id)
    assert reopened.status == ThreadStatus.OPEN and reopened.waiting_since is not None
    await send_message(NOT_LIVE, jan, thread.id, "Yours too, Herr Becker.", "j-2")
    again = await Thread.get(id=thread.id)
    assert again.first_response_at == answered.first_response_at, "the first response stays"

    await update_thread(NOT_LIVE, weber, thread.id, status="resolved")
    resolved = await Thread.get(id=thread.id)
    assert resolved.status == ThreadStatus.RESOLVED and resolved.resolved_at is not None
    await send_message(NOT_LIVE, weber, thread.id, "One more thing…", "w-2")
    assert (await Thread.get(id=thread.id)).status == ThreadStatus.OPEN
    names = await Message.filter(thread_id=thread.id).count()
    assert names == 6


async def test_a_staff_reply_and_a_customer_message_at_once_leave_one_consistent_status(
    world: dict[str, Any],
) -> None:
    jan, tom = world["jan"], world["tom"]
    for round_ in range(4):
        thread = await ask(world, f"Race {round_}")
        await asyncio.gather(
            send_message(NOT_LIVE, jan, thread.id, "Answer", f"j-{round_}"),
            send_message(NOT_LIVE, tom, thread.id, "Me too", f"t-{round_}"),
        )
        now = await Thread.get(id=thread.id)
        last = await Message.filter(thread_id=thread.id).order_by("-seq").first()
        assert last is not None
        # Whoever came last decides: a staff reply answers, a customer's message waits.
        expected = ThreadStatus.ANSWERED if last.author_id == jan.id else ThreadStatus.OPEN
        assert now.status == expected
        assert (now.waiting_since is None) == (expected == ThreadStatus.ANSWERED)


async def test_a_reassignment_racing_a_post_stores_both_once(world: dict[str, Any]) -> None:
    jan, mira, weber = world["jan"], world["mira"], world["weber"]
    thread = await ask(world)
    state, (msg, new) = await asyncio.gather(
        assign_thread(NOT_LIVE, jan, thread.id, mira.id, world["billing"].id, "Billing knows"),
        send_message(NOT_LIVE, weber, thread.id, "Any news?", "w-2"),
    )
    assert new and state.assignee == "Mira Yilmaz" and state.team == "Billing"
    stored = await Thread.get(id=thread.id)
    assert (stored.assignee_id, stored.team_id) == (mira.id, world["billing"].id)
    notes = await Message.filter(thread_id=thread.id, audience=Audience.STAFF)
    assert [n.body for n in notes] == ["Billing knows"]
    seqs = [m.seq for m in await Message.filter(thread_id=thread.id).order_by("seq")]
    assert len(seqs) == len(set(seqs)) == 3


async def test_bad_desk_requests_get_a_clear_error_and_change_nothing(
    world: dict[str, Any],
) -> None:
    jan, weber, tom = world["jan"], world["weber"], world["tom"]
    thread = await ask(world)
    before = await Thread.get(id=thread.id)
    with pytest.raises(ActionError, match="not an employee"):
        await assign_thread(NOT_LIVE, jan, thread.id, tom.id)  # a customer
    with pytest.raises(ActionError, match="no team"):
        await assign_thread(NOT_LIVE, jan, thread.id, team="nope")
    with pytest.raises(Forbidden):
        await assign_thread(NOT_LIVE, weber, thread.id, jan.id)
    with pytest.raises(NotFound):
        await assign_thread(NOT_LIVE, jan, "missing", jan.id)
    note, _ = await send_message(NOT_LIVE, jan, thread.id, "internal", "n-1", Audience.STAFF)
    with pytest.raises(ActionError, match="staff note cannot be"):
        await accept_answer(NOT_LIVE, jan, note.id)
    own = await Message.filter(thread_id=thread.id, author_id=weber.id).first()
    assert own is not None
    with pytest.raises(ActionError, match="the question itself"):
        await accept_answer(NOT_LIVE, jan, own.id)
    with pytest.raises(NotFound):
        await accept_answer(NOT_LIVE, weber, note.id)  # a note: as if it did not exist
    with pytest.raises(ActionError, match="the question itself"):
        await accept_answer(NOT_LIVE, weber, own.id)
    with pytest.raises(Forbidden):
        await accept_answer(NOT_LIVE, tom, own.id)  # not the asker
    with pytest.raises(ActionError, match="no team"):
        await start_thread(NOT_LIVE, weber, "T", "B", "w-x", team="nope")
    with pytest.raises(Conflict):
        await create_team(world["admin"], "Billing")
    with pytest.raises(Forbidden):
        await create_team(jan, "Jan's own")
    after = await Thread.get(id=thread.id)
    assert (after.assignee_id, after.team_id, after.answer_id) == (
        before.assignee_id, before.team_id, before.answer_id,
    )  # fmt: skip
    await update_thread(NOT_LIVE, jan, thread.id, status="resolved")
    from server.actions.claims import claim_thread

    with pytest.raises(Conflict, match="resolved"):
        await claim_thread(NOT_LIVE, jan, thread.id, 20)


async def test_the_official_answer_is_marked_and_unmarked_by_staff(world: dict[str, Any]) -> None:
    jan = world["jan"]
    thread = await ask(world)
    reply, _ = await send_message(NOT_LIVE, jan, thread.id, "Read the **left** dial.", "j-1")
    state = await accept_answer(NOT_LIVE, jan, reply.id)
    assert state.message is not None and (await Thread.get(id=thread.id)).answer_id == reply.id
    state = await accept_answer(NOT_LIVE, jan, reply.id)
    assert state.message is None and (await Thread.get(id=thread.id)).answer_id is None


async def test_the_queue_filters_and_counts_waiting_questions_oldest_first(
    world: dict[str, Any],
) -> None:
    jan, mira = world["jan"], world["mira"]
    first = await ask(world, "First")
    second = await ask(world, "Second", team=world["field"].id)
    third = await ask(world, "Third")
    await assign_thread(NOT_LIVE, mira, third.id, mira.id)
    rows = await queue.queue(jan)
    assert [r.thread.title for r in rows] == ["First", "Second", "Third"]
    assert [r.thread.title for r in await queue.queue(jan, "team")] == ["Second"]
    assert [r.thread.title for r in await queue.queue(mira, "mine")] == ["Third"]
    assert [r.thread.title for r in await queue.queue(jan, "unassigned")] == ["First"]
    assert await queue.counts(jan) == {"open": 3, "mine": 0, "team": 1, "unassigned": 1}
    await send_message(NOT_LIVE, jan, first.id, "Done", "j-1")
    assert [r.thread.title for r in await queue.queue(jan)] == ["Second", "Third"]
    answered = await queue.queue(jan, status=ThreadStatus.ANSWERED)
    assert [r.thread.id for r in answered] == [first.id]
    assert [r.thread.title for r in await queue.queue(jan, team_id=world["field"].id)] == ["Second"]
    assert second.team_id == world["field"].id
    by_team = {m.team: m for m in await queue.medians()}
    assert {team: m.questions for team, m in by_team.items()} == {"": 2, "Field service": 1}
    assert by_team[""].first_response is not None and by_team[""].resolve is None
    assert by_team["Field service"].first_response is None, "nobody answered it yet"


class Recorder:
    """A fan-out that keeps what a publisher hands it."""

    def __init__(self, heard: list[tuple[str, dict[str, str]]]) -> None:
        self.heard = heard

    async def publish_event(self, event: object) -> None:
        pass

    async def publish_frames(self, channel: str, frames: dict[str, str]) -> None:
        self.heard.append((channel, frames))


async def test_a_new_question_alerts_its_team_or_all_staff_and_a_long_wait_escalates_once(
    world: dict[str, Any],
) -> None:
    jan, mira, admin = world["jan"], world["mira"], world["admin"]
    routed = await ask(world, "Routed", team=world["field"].id)
    open_ = await ask(world, "Anyone")
    intents = {i.thread_id: i for i in await NotificationIntent.filter(kind="question")}
    found = {r.id for r, _ in await candidates(intents[routed.id])}
    assert found == {jan.id}, "the team of the question"
    found = {r.id for r, _ in await candidates(intents[open_.id])}
    assert found == {jan.id, mira.id, admin.id}, "no team: all staff (working hours decide)"

    assert await escalate_waiting(NOT_LIVE, 60) == 0, "nobody waited an hour yet"
    await Thread.filter(id=routed.id).update(
        waiting_since=datetime.now(UTC) - timedelta(minutes=61)
    )
    heard: list[tuple[str, dict[str, str]]] = []
    seen = Publisher(Recorder(heard), viewers=lambda thread: set())  # type: ignore[arg-type]
    results = await asyncio.gather(escalate_waiting(seen, 60), escalate_waiting(seen, 60))
    assert sorted(results) == [0, 1], "two processes: one alerts"
    # Moderators' open apps hear of it at once (an `alert` leading to the question).
    alerts = [json.loads(f["staff"]) for channel, f in heard if channel == MODERATION_CHANNEL]
    assert alerts == [{"type": "alert", "kind": "waiting", "thread": routed.id,
                       "title": "Routed", "url": f"/threads/{routed.id}"}]  # fmt: skip
    [escalation] = await NotificationIntent.filter(kind="escalation")
    found = {r.id for r, _ in await candidates(escalation)}
    assert found == {admin.id, jan.id}, "moderators and admins, and the team's lead"


def test_working_hours_hold_back_routine_desk_alerts_not_urgent_ones() -> None:
    prefs = NotificationSettings(
        work_hours=True, work_start="08:00", work_end="17:00", work_days="12345",
        time_zone="Europe/Berlin",
    )  # fmt: skip
    monday_noon = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)  # 12:00 in Berlin
    monday_night = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    saturday = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)
    assert on_duty(prefs, monday_noon) and not on_duty(prefs, monday_night)
    assert not on_duty(prefs, saturday)
    assert wants(prefs, "question", monday_noon) and not wants(prefs, "question", monday_night)
    assert wants(prefs, "escalation", monday_night), "urgent: not held back"
    prefs.work_hours = False
    assert wants(prefs, "question", monday_night)


# -- the real app: the queue page, the socket, what customers never see ---------------------


@pytest.fixture
def scene(client: TestClient) -> Iterator[dict[str, Any]]:
    people = ((WEBER, "Gisela Weber", Role.CUSTOMER), (JAN, "Jan Petersen", Role.EMPLOYEE),
              (MIRA, "Mira Yilmaz", Role.EMPLOYEE))  # fmt: skip
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email, _, _ in people}
    yield {"tokens": tokens}


def test_staff_see_the_queue_change_live_customers_get_no_desk_and_no_staff_detail(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tokens = scene["tokens"]
    with (
        client.websocket_connect("/ws?desk=1", headers=tokens[MIRA]) as mira,
        client.websocket_connect("/ws?desk=1", headers=tokens[WEBER]) as weber,
    ):
        for ws in (mira, weber):
            assert ws.receive_json()["type"] == "hello"
        r = client.post("/api/v1/threads", headers=tokens[WEBER],
                        json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
        thread = r.json()["thread"]["id"]
        mira.send_json({"type": "ping", "t": "sync"})
        frames = [mira.receive_json() for _ in range(2)]
        assert {"type": "desk", "thread": thread} in frames, frames
        weber.send_json({"type": "ping", "t": "sync"})
        assert weber.receive_json()["type"] == "pong", "a customer's socket hears no desk"

    login(client, MIRA)
    page = client.get("/desk").text
    assert "Meter" in page and "Gisela Weber" in page
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.post(f"/threads/{thread}/assign", headers=hx,
                    data={"assignee": "", "note": "Contract 4711 is hers"})  # fmt: skip
    assert r.status_code == 200 and 'id="desk-panel"' in r.text
    page = client.get(f"/threads/{thread}").text
    assert "Contract 4711" in page and 'id="desk-panel"' in page and "desk-times" in page

    client.cookies.clear()
    login(client, WEBER)
    assert client.get("/desk").status_code == 404
    page = client.get(f"/threads/{thread}").text
    assert "Contract 4711" not in page and 'id="desk-panel"' not in page
    assert "desk-times" not in page and "Waiting since" not in page
    for path in (f"/api/v1/threads/{thread}", f"/api/v1/threads/{thread}/messages"):
        body = client.get(path, headers=tokens[WEBER]).text
        assert "4711" not in body and "assignee" not in body and "waiting" not in body, path
    with client.websocket_connect("/ws", headers=tokens[WEBER]) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "thread": thread, "since": 0})
        replayed = event_names(ws)
        assert all(n not in ("desk.changed", "claim.changed") for n, _ in replayed)
        assert all("4711" not in f for _, f in replayed)
    r = client.post(f"/threads/{thread}/assign", headers={**hx, "x-csrftoken":
                    client.cookies["dreiklang_csrf"]}, data={"note": "sneaky"})  # fmt: skip
    assert r.status_code == 403
    r = client.post("/api/v1/threads/" + thread + "/messages", headers=tokens[WEBER],
                    json={"body": "a note?", "client_id": "w-n", "audience": "staff"})  # fmt: skip
    assert r.status_code == 403


def test_an_admin_adds_a_team_on_the_admin_page_and_customers_can_choose_it(
    client: TestClient, scene: dict[str, Any]
) -> None:
    client.portal.call(create_user, ADMIN, "Sabine Admin", PASSWORD, Role.ADMIN, "IT")  # type: ignore[union-attr]
    login(client, ADMIN)
    token = client.cookies["dreiklang_csrf"]
    r = client.post("/admin/teams", data={"name": "  Billing ", "csrftoken": token},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert "Billing" in client.get("/admin").text
    r = client.post("/admin/teams", data={"name": "Billing", "csrftoken": token})
    assert r.status_code == 409 and "already" in r.text
    client.cookies.clear()
    login(client, WEBER)
    form = client.get("/threads/new").text
    assert "Billing" in form and 'name="team"' in form


async def test_staff_choose_working_hours_in_their_settings_customers_have_none(
    world: dict[str, Any],
) -> None:
    from server.actions.notifications import save_preferences

    form = {"replies": "1", "work_hours": "1", "work_start": "07:30", "work_end": "16:00",
            "work_day_1": "1", "work_day_3": "1", "time_zone": "Europe/Berlin"}  # fmt: skip
    prefs = await save_preferences(world["jan"], form)
    assert (prefs.work_hours, prefs.work_start, prefs.work_end, prefs.work_days) == (
        True, "07:30", "16:00", "13",
    )  # fmt: skip
    with pytest.raises(ActionError, match="working hours must look like"):
        await save_preferences(world["jan"], {**form, "work_end": "25:00"})
    prefs = await save_preferences(world["weber"], form)
    assert prefs.work_hours is False, "a customer keeps no working hours"


def test_the_settings_page_offers_working_hours_to_staff_only(
    client: TestClient, scene: dict[str, Any]
) -> None:
    login(client, JAN)
    assert 'name="work_start"' in client.get("/settings").text
    client.cookies.clear()
    login(client, WEBER)
    assert 'name="work_start"' not in client.get("/settings").text


def test_a_customer_starts_at_my_questions_with_their_status_a_new_one_with_how_it_works(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tokens = scene["tokens"]
    login(client, WEBER)
    page = client.get("/threads").text
    assert "My questions" in page and "Ask your first question" in page
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    client.post(f"/api/v1/threads/{thread}/messages", headers=tokens[JAN],
                json={"body": "It's fine", "client_id": "j-1"})  # fmt: skip
    mine = client.get("/threads?mine=1", headers={"HX-Request": "true"}).text
    assert f'id="mine-{thread}"' in mine and "status-answered" in mine
    assert "Ask your first question" not in mine
    client.cookies.clear()
    login(client, MIRA)
    assert "My questions" not in client.get("/threads").text, "staff have the desk instead"


# -- role × object × action, against the real app ---------------------------------------------

ROLES = {"customer": Role.CUSTOMER, "employee": Role.EMPLOYEE, "moderator": Role.MODERATOR,
         "admin": Role.ADMIN}  # fmt: skip
# Each desk action on a customer's public question: (method, path, form). {t}: the thread, {m}:
# a public staff reply in it. Staff may do each one; a customer none of them.
DESK_ACTIONS = {
    "see the queue": ("GET", "/desk", None),
    "claim": ("POST", "/threads/{t}/claim", {}),
    "release": ("POST", "/threads/{t}/release", {}),
    "assign": ("POST", "/threads/{t}/assign", {"note": "Routed"}),
    "mark the answer": ("POST", "/messages/{m}/answer", {}),
}


@pytest.mark.parametrize("action", list(DESK_ACTIONS))
@pytest.mark.parametrize("role", list(ROLES))
def test_every_role_may_do_exactly_its_desk_actions(
    client: TestClient, role: str, action: str
) -> None:
    email = f"{role}@example.org"
    client.portal.call(create_user, email, role.title(), PASSWORD, ROLES[role], "")  # type: ignore[union-attr]
    client.portal.call(create_user, WEBER, "Gisela Weber", PASSWORD, Role.CUSTOMER, "")  # type: ignore[union-attr]
    client.portal.call(create_user, JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "")  # type: ignore[union-attr]
    asker, staff = bearer(client, WEBER), bearer(client, JAN)
    r = client.post("/api/v1/threads", headers=asker,
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    r = client.post(f"/api/v1/threads/{thread}/messages", headers=staff,
                    json={"body": "Answer", "client_id": "j-1"})  # fmt: skip
    reply = r.json()["message"]["id"]
    login(client, email)
    method, path, form = DESK_ACTIONS[action]
    url = path.replace("{t}", thread).replace("{m}", reply)
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.request(method, url, headers=hx, data=form)
    if ROLES[role] == Role.CUSTOMER:
        assert r.status_code in (403, 404), (role, action, r.status_code)
        assert "Jan Petersen" not in r.text and "Routed" not in r.text
    else:
        assert r.status_code == 200, (role, action, r.text[:200])


def test_the_thread_list_names_who_is_answering_to_staff_only(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tokens = scene["tokens"]
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    assert client.post(f"/api/v1/threads/{thread}/claim", headers=tokens[JAN]).status_code == 200
    login(client, MIRA)
    assert "Jan Petersen is answering" in client.get("/threads").text
    client.cookies.clear()
    login(client, WEBER)
    assert "Jan Petersen" not in client.get("/threads").text


async def test_a_claim_racing_a_reply_leaves_one_consistent_outcome(
    world: dict[str, Any],
) -> None:
    from server.actions.claims import claim_thread

    jan, mira = world["jan"], world["mira"]
    for round_ in range(4):
        thread = await ask(world, f"Claim race {round_}")
        claimed, _ = await asyncio.gather(
            claim_thread(NOT_LIVE, mira, thread.id, 20),
            send_message(NOT_LIVE, jan, thread.id, "Answer", f"j-{round_}"),
            return_exceptions=True,
        )
        stored = await Thread.get(id=thread.id)
        assert stored.status == ThreadStatus.ANSWERED, "the reply answers, claimed or not"
        if isinstance(claimed, Conflict):  # the reply came first: nothing left to answer
            assert stored.claimed_by_id is None
        else:  # Mira's claim stands (Jan's reply ends only his own claim)
            assert stored.claimed_by_id == mira.id


def test_the_assignee_alone_is_told_live_when_a_colleague_assigns_them(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tokens = scene["tokens"]
    r = client.post("/api/v1/threads", headers=tokens[WEBER],
                    json={"title": "Meter", "body": "Hello", "client_id": "w-1"})  # fmt: skip
    thread = r.json()["thread"]["id"]
    with (
        client.websocket_connect("/ws", headers=tokens[MIRA]) as mira,
        client.websocket_connect("/ws", headers=tokens[JAN]) as jan,
        client.websocket_connect("/ws", headers=tokens[WEBER]) as weber,
    ):
        for ws in (mira, jan, weber):
            assert ws.receive_json()["type"] == "hello"
        login(client, JAN)
        mira_id = client.portal.call(user_id_of, MIRA)  # type: ignore[union-attr]
        hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
        r = client.post(f"/threads/{thread}/assign", headers=hx, data={"assignee": mira_id})
        assert r.status_code == 200, r.text
        mira.send_json({"type": "ping", "t": "sync"})
        assert mira.receive_json() == {"type": "assigned", "thread": thread, "title": "Meter",
                                       "by": "Jan Petersen"}  # fmt: skip
        for ws in (jan, weber):  # not the one who assigned, never a customer
            ws.send_json({"type": "ping", "t": "sync"})
            assert ws.receive_json()["type"] == "pong"


async def user_id_of(email: str) -> str:
    from server.models import User

    return (await User.get(email=email)).id
