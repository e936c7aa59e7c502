"""Staff move an idea along its status workflow: one official response per change, its voters
and followers told (live and by push) but not who changed it nor who muted it, and every move
outside the workflow refused with nothing changed.

Actions run on SQLite and PostgreSQL; the socket and the forms on the real app.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from push.compose import compose
from push.recipients import candidates
from server.actions import idea_status
from server.actions.accounts import create_user
from server.actions.idea_status import set_status
from server.actions.ideas import submit_idea, vote
from server.actions.messages import send_message
from server.actions.notifications import set_follow
from server.db import close_database, open_database
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.i18n import gettext_for
from server.idea_workflow import MOVES, WORKFLOW, allowed, moves_from
from server.ideas import IdeaState
from server.models import (
    Event,
    Idea,
    IdeaStatus,
    Message,
    NotificationIntent,
    PushJob,
    ReadState,
    Role,
    Thread,
    User,
)
from server.protocol import IDEAS_CHANNEL
from server.publisher import Publisher
from server.settings import Settings
from server.templating import Viewpoint, render
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings
from tests.test_desk import Recorder
from tests.test_push_recipients import jobs_after_expanding, with_device
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM, ANNA = "weber@example.org", "tom@example.org", "anna@example.org"
JAN, MIRA = "jan@nordlicht.example", "mira@nordlicht.example"


@pytest.fixture
async def db(database_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    settings = make_settings(database_url, tmp_path)
    await open_database(settings)
    try:
        yield settings
    finally:
        await close_database()


@pytest.fixture
async def people(db: Settings) -> dict[str, User]:
    """Three customers (Tom reads German) and two employees."""
    return {
        "weber": await create_user(WEBER, "Gisela Weber", PASSWORD),
        "tom": await create_user(TOM, "Tom Becker", PASSWORD),
        "anna": await create_user(ANNA, "Anna Bauer", PASSWORD),
        "jan": await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service"),
        "mira": await create_user(MIRA, "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "Billing"),
    }


async def an_idea(author: User, title: str = "App reminders before meter reading") -> Thread:
    thread, _, _ = await submit_idea(NOT_LIVE, author, title, "Remind me!", "app", f"i-{title}")
    return thread


async def snapshot(thread: Thread) -> tuple[Any, ...]:
    """What a refused change must leave as it was."""
    idea = await Idea.get(thread_id=thread.id)
    return (
        idea.status, idea.reason, idea.votes, idea.status_changed_at,
        await Message.filter(thread_id=thread.id).count(),
        await Event.filter(thread_id=thread.id).count(),
        await NotificationIntent.filter(kind="idea_status").count(),
    )  # fmt: skip


def test_the_workflow_runs_forward_back_to_review_and_never_out_of_a_duplicate() -> None:
    for earlier, later in zip(WORKFLOW, WORKFLOW[1:], strict=False):
        assert allowed(earlier, later), f"{earlier} → {later}"
    assert allowed(IdeaStatus.NEW, IdeaStatus.DONE), "steps may be skipped"
    assert allowed(IdeaStatus.DONE, IdeaStatus.UNDER_REVIEW)
    assert not allowed(IdeaStatus.DONE, IdeaStatus.PLANNED)
    assert not allowed(IdeaStatus.DONE, IdeaStatus.DECLINED)
    assert allowed(IdeaStatus.DECLINED, IdeaStatus.UNDER_REVIEW)
    assert not any(allowed(s, IdeaStatus.NEW) for s in IdeaStatus), "nothing goes back to new"
    assert not any(allowed(s, IdeaStatus.DUPLICATE) for s in IdeaStatus), "only by merging"
    assert MOVES[IdeaStatus.DUPLICATE] == frozenset()


def test_the_staff_form_offers_exactly_the_moves_the_workflow_allows() -> None:
    for status in IdeaStatus:
        state = IdeaState("t1", "i1", status, 0)
        html = render("en", "_idea_staff.html", idea=state, view=Viewpoint("en", staff=True))
        offered = re.findall(r'<option value="(\w+)"', html)
        assert offered == [s.value for s in moves_from(status)], status


async def test_a_status_change_posts_one_official_response_and_tells_voters_and_followers(
    people: dict[str, User],
) -> None:
    weber, tom, anna, jan, mira = (people[k] for k in ("weber", "tom", "anna", "jan", "mira"))
    thread = await an_idea(weber)
    await vote(NOT_LIVE, tom, thread.id, "1")
    await vote(NOT_LIVE, anna, thread.id, "1")
    await vote(NOT_LIVE, jan, thread.id, "1")  # the one who changes it: never told
    await set_follow(mira, thread.id, "following")
    await set_follow(anna, thread.id, "muted")  # voted, then muted it: hears nothing
    before = await Message.filter(thread_id=thread.id).count()

    heard: list[tuple[str, dict[str, str]]] = []
    live = Publisher(Recorder(heard), viewers=lambda thread: set())  # type: ignore[arg-type]
    state = await set_status(live, jan, thread.id, "planned", None, "Coming in spring.")

    assert state.status == IdeaStatus.PLANNED and state.votes == 3
    idea = await Idea.get(thread_id=thread.id)
    assert idea.status == IdeaStatus.PLANNED and idea.status_changed_at > idea.created_at
    [response] = await Message.filter(thread_id=thread.id).order_by("-seq").limit(1)
    assert await Message.filter(thread_id=thread.id).count() == before + 1, "one response"
    assert response.author_id == jan.id and response.audience.value == "all"
    assert "Status: Planned" in response.body and "Coming in spring." in response.body
    after = await Thread.get(id=thread.id)
    assert after.answer_id == response.id, "the official response"
    read = await ReadState.get(user_id=jan.id, thread_id=thread.id)
    assert read.read_messages == after.staff_messages, "his own words leave nothing unread"
    names = await Event.filter(thread_id=thread.id).order_by("-staff_seq").limit(3)
    assert {e.name for e in names} == {"message.created", "answer.changed", "idea.changed"}

    [intent] = await NotificationIntent.filter(kind="idea_status")
    told = {reader.id for reader, _ in await candidates(intent)}
    assert told == {weber.id, tom.id, mira.id}, "author, voters, followers; not Jan nor Anna"

    frames = [(ch, json.loads(f["any"])) for ch, f in heard if ch.startswith("user:")]
    toasts = {ch: frame for ch, frame in frames if frame["type"] == "idea_status"}
    assert set(toasts) == {f"user:{weber.id}", f"user:{tom.id}", f"user:{mira.id}"}
    assert toasts[f"user:{tom.id}"] == {
        "type": "idea_status", "thread": thread.id,
        "title": "App reminders before meter reading", "status": "planned", "label": "Planned",
    }  # fmt: skip
    board = [json.loads(f["any"]) for ch, f in heard if ch == IDEAS_CHANNEL]
    assert board[-1]["status"] == "planned" and board[-1]["votes"] == 3


async def test_voters_and_followers_with_a_device_get_a_push_in_their_language(
    db: Settings, people: dict[str, User]
) -> None:
    weber, tom, anna, jan = people["weber"], people["tom"], people["anna"], people["jan"]
    await User.filter(id=tom.id).update(language="de")
    thread = await an_idea(weber)
    for voter in (tom, anna):
        await vote(NOT_LIVE, voter, thread.id, "1")
    await set_follow(anna, thread.id, "muted")
    for person in (weber, tom, anna, jan):
        await with_device(db, person)
    await jobs_after_expanding(db)  # the idea's own intents, done with

    await set_status(NOT_LIVE, jan, thread.id, "in_progress", "", "")
    jobs = await jobs_after_expanding_kept(db)
    assert {(job.user_id, job.kind) for job in jobs} == {
        (weber.id, "idea_status"), (tom.id, "idea_status"),
    }, "not the employee who changed it, not who muted it"  # fmt: skip
    for job in jobs:
        user = await User.get(id=job.user_id)
        note = await compose(job, user)
        assert not isinstance(note, str), note
        assert note.title == "App reminders before meter reading"
        language = "de" if user.id == tom.id else "en"
        _ = gettext_for(language).gettext
        expected = _("An idea you voted for or follow is now: {status}")
        assert note.body == expected.format(status=_("In progress")), language


async def jobs_after_expanding_kept(settings: Settings) -> list[PushJob]:
    """Expand the pending intents like the push worker; return the jobs (kept)."""
    from push.api import allowed_hosts
    from push.vapid import load_or_create
    from push.worker import PushConfig, PushWorker
    from tests.test_push_recipients import PUSH_PREFIX

    keys = load_or_create(settings.data_dir, "", "mailto:ops@nordlicht.example")
    await PushWorker(PushConfig(keys, allowed_hosts(settings), PUSH_PREFIX, 1)).expand_intents()
    return await PushJob.all()


async def test_declining_needs_a_reason_which_the_idea_and_its_response_keep(
    people: dict[str, User],
) -> None:
    thread = await an_idea(people["weber"])
    before = await snapshot(thread)
    for reason in (None, "", "   "):
        with pytest.raises(ActionError) as err:
            await set_status(NOT_LIVE, people["jan"], thread.id, "declined", reason)
        assert err.value.code == "reason_required"
    assert await snapshot(thread) == before, "nothing written"
    with pytest.raises(ActionError) as err:
        await set_status(NOT_LIVE, people["jan"], thread.id, "declined", "x" * 501)
    assert err.value.code == "reason_too_long"

    state = await set_status(NOT_LIVE, people["jan"], thread.id, "declined", "The law forbids it.")
    assert state.reason == "The law forbids it."
    assert (await Idea.get(thread_id=thread.id)).reason == "The law forbids it."
    response = await Message.filter(thread_id=thread.id).order_by("-seq").first()
    assert response is not None and "Reason: The law forbids it." in response.body
    with pytest.raises(ActionError, match="idea takes no more votes"):
        await vote(NOT_LIVE, people["tom"], thread.id, "1")
    back = await set_status(NOT_LIVE, people["mira"], thread.id, "under_review")
    assert back.status == IdeaStatus.UNDER_REVIEW and back.reason == "", "reconsidered"


async def test_a_status_outside_the_workflow_or_a_move_it_does_not_allow_changes_nothing(
    people: dict[str, User],
) -> None:
    jan = people["jan"]
    thread = await an_idea(people["weber"])
    await set_status(NOT_LIVE, jan, thread.id, "done")
    before = await snapshot(thread)
    bad = {
        "shipped": "invalid_status",
        "": "invalid_status",
        "duplicate": "merge_to_duplicate",
        "done": "unchanged",
        "planned": "illegal_move",
        "new": "illegal_move",
        "declined": "illegal_move",
    }
    for status, code in bad.items():
        with pytest.raises(ActionError) as err:
            await set_status(NOT_LIVE, jan, thread.id, status, "because")
        assert err.value.code == code, status
    with pytest.raises(ActionError) as err:
        await set_status(NOT_LIVE, jan, thread.id, ["planned"])
    assert err.value.code == "invalid_status"
    assert await snapshot(thread) == before


async def test_customers_cannot_change_a_status_and_a_non_idea_or_missing_thread_is_refused(
    people: dict[str, User],
) -> None:
    thread = await an_idea(people["weber"])
    before = await snapshot(thread)
    with pytest.raises(Forbidden):
        await set_status(NOT_LIVE, people["weber"], thread.id, "planned")
    with pytest.raises(NotFound):
        await set_status(NOT_LIVE, people["jan"], "nope", "planned")
    question, _ = await send_question(people["tom"])
    with pytest.raises(ActionError) as err:
        await set_status(NOT_LIVE, people["jan"], question.id, "planned")
    assert err.value.code == "not_an_idea"
    assert await snapshot(thread) == before


async def send_question(author: User) -> tuple[Thread, Message]:
    from server.actions.threads import start_thread

    thread, first, _ = await start_thread(NOT_LIVE, author, "Meter", "Wrong?", "q-1")
    return thread, first


async def test_two_staff_members_changing_the_status_at_once_post_one_response(
    people: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = await an_idea(people["weber"])
    before = await Message.filter(thread_id=thread.id).count()
    # "At once": both have read the status before either writes. Without the barrier a busy
    # machine may run one change to its end before the other starts: two valid moves.
    both_read = asyncio.Barrier(2)
    answer = idea_status._answer

    async def after_both_read(*args: Any) -> Any:
        await asyncio.wait_for(both_read.wait(), timeout=10)
        return await answer(*args)

    monkeypatch.setattr(idea_status, "_answer", after_both_read)
    results = await asyncio.gather(
        set_status(NOT_LIVE, people["jan"], thread.id, "planned"),
        set_status(NOT_LIVE, people["mira"], thread.id, "declined", "No budget"),
        return_exceptions=True,
    )
    done = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(done) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], Conflict | ActionError)
    assert await Message.filter(thread_id=thread.id).count() == before + 1
    assert (await Idea.get(thread_id=thread.id)).status == done[0].status


# -- the real app: the form, the socket ------------------------------------------------------


@pytest.fixture
def scene(client: TestClient) -> Iterator[dict[str, Any]]:
    people = ((WEBER, "Gisela Weber", Role.CUSTOMER), (TOM, "Tom Becker", Role.CUSTOMER),
              (JAN, "Jan Petersen", Role.EMPLOYEE))  # fmt: skip
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
    tokens = {email: bearer(client, email) for email, _, _ in people}
    thread = client.portal.call(harbour_idea_with_toms_vote)  # type: ignore[union-attr]
    yield {"tokens": tokens, "thread": thread}


async def harbour_idea_with_toms_vote() -> str:
    weber, tom = await User.get(email=WEBER), await User.get(email=TOM)
    thread, _, _ = await submit_idea(
        NOT_LIVE, weber, "More charging points at the harbour", "Please", "", "h-1"
    )
    await vote(NOT_LIVE, tom, thread.id, "1")
    return thread.id


def test_a_voter_with_the_app_open_is_told_live_and_a_viewer_sees_the_panel_change(
    client: TestClient, scene: dict[str, Any]
) -> None:
    tokens, thread = scene["tokens"], scene["thread"]
    with (
        client.websocket_connect("/ws", headers=tokens[TOM]) as tom,
        client.websocket_connect("/ws", headers=tokens[JAN]) as jan,
    ):
        for ws in (tom, jan):
            assert ws.receive_json()["type"] == "hello"
        tom.send_json({"type": "subscribe", "thread": thread, "since": 0})
        while tom.receive_json()["type"] != "subscribed":
            pass
        login(client, JAN)
        hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
        r = client.post(
            f"/ideas/{thread}/status", headers=hx,
            data={"status": "planned", "reason": "", "message": "Spring 2027."},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert 'id="idea-panel"' in r.text and "Planned" in r.text
        tom.send_json({"type": "ping", "t": "sync"})
        frames = []
        while (frame := tom.receive_json())["type"] != "pong":
            frames.append(frame)
        news = [f for f in frames if f["type"] == "idea_status"]
        assert news == [{
            "type": "idea_status", "thread": thread, "status": "planned",
            "title": "More charging points at the harbour", "label": "Planned",
        }]  # fmt: skip
        events = {f.get("name") for f in frames if f["type"] == "event"}
        assert {"idea.changed", "message.created", "answer.changed"} <= events
        jan.send_json({"type": "ping", "t": "sync"})
        told = []
        while (frame := jan.receive_json())["type"] != "pong":
            told.append(frame["type"])
        assert "idea_status" not in told, "who changed it is not told"


def test_customers_and_strangers_get_no_status_form_nor_route(
    client: TestClient, scene: dict[str, Any]
) -> None:
    thread = scene["thread"]
    anonymous = client.post(f"/ideas/{thread}/status", data={"status": "planned"})
    assert anonymous.status_code in (303, 403), "sign in first (or the CSRF check refuses)"
    login(client, WEBER)
    hx = {"HX-Request": "true", "x-csrftoken": client.cookies["dreiklang_csrf"]}
    r = client.post(f"/ideas/{thread}/status", headers=hx, data={"status": "planned"})
    assert r.status_code == 404
    page = client.get(f"/threads/{thread}").text
    assert "/status" not in page and "/merge" not in page and "idea-staff" not in page
    assert client.portal.call(status_of, thread) == IdeaStatus.NEW  # type: ignore[union-attr]


async def status_of(thread_id: str) -> IdeaStatus:
    return (await Idea.get(thread_id=thread_id)).status


async def test_a_reply_in_an_idea_is_not_taken_for_a_status_change(
    people: dict[str, User],
) -> None:
    thread = await an_idea(people["weber"])
    await send_message(NOT_LIVE, people["jan"], thread.id, "Good idea!", "j-1")
    assert (await Idea.get(thread_id=thread.id)).status == IdeaStatus.NEW
    assert not await NotificationIntent.filter(kind="idea_status").exists()
