"""Staff turn a customer's message in a public thread into an idea: the customer is its
author, it quotes and links back to the message, the conversation links to the idea, and doing
it again (or at once, twice) gives the same idea. Staff notes, deleted, hidden and held
messages, internal threads and staff's own messages are refused; customers get no such thing.

Actions on SQLite and PostgreSQL; the form on the real app.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.idea_promote import promote_message, suggested_title
from server.actions.ideas import submit_idea
from server.actions.messages import delete_message, send_message
from server.actions.moderation import moderate
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.models import Audience, Idea, IdeaTag, Message, Role, Thread, ThreadKind, User
from tests.conftest import NOT_LIVE, PASSWORD, login, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")


@pytest.fixture
async def people(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, User]]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        yield {
            "weber": await create_user("weber@example.org", "Gisela Weber", PASSWORD),
            "tom": await create_user("tom@example.org", "Tom Becker", PASSWORD),
            "jan": await create_user(
                "jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field"
            ),
            "mira": await create_user(
                "mira@nordlicht.example", "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "Billing"
            ),
            "aylin": await create_user(
                "aylin@nordlicht.example", "Aylin Kaya", PASSWORD, Role.MODERATOR, "Community"
            ),
        }
    finally:
        await close_database()


WISH = "It would be great if the app reminded me before the meter reading.\nThanks!"


async def conversation(people: dict[str, User]) -> tuple[Thread, Message]:
    thread, _, _ = await start_thread(
        NOT_LIVE, people["weber"], "Meter reading", "When is it?", "w-1"
    )
    wish, _ = await send_message(NOT_LIVE, people["tom"], thread.id, WISH, "t-1")
    return thread, wish


async def test_a_customer_s_message_becomes_their_idea_linked_both_ways(
    people: dict[str, User],
) -> None:
    origin, wish = await conversation(people)
    assert suggested_title(await Message.get(id=wish.id).prefetch_related("thread")) == (
        "It would be great if the app reminded me before the meter reading."
    )
    thread, created = await promote_message(
        NOT_LIVE, people["jan"], wish.id, "App reminders before meter reading", "app, Meter"
    )
    assert created and thread.kind == ThreadKind.IDEA
    assert thread.author_id == people["tom"].id, "the customer keeps their idea"
    idea = await Idea.get(thread_id=thread.id)
    assert idea.source_id == wish.id
    tags = await IdeaTag.filter(idea_id=idea.id).order_by("tag").values_list("tag")
    assert [tag for (tag,) in tags] == ["app", "meter"]
    first = await Message.filter(thread_id=thread.id).order_by("seq").first()
    assert first is not None and first.author_id == people["tom"].id
    assert f"/threads/{origin.id}#msg-{wish.id}" in first.body, "a link back"
    assert first.body.startswith("From a conversation:")
    assert "> It would be great" in first.body, "the message is quoted"
    line = await Message.filter(thread_id=origin.id).order_by("-seq").first()
    assert line is not None and line.author_id == people["jan"].id
    assert line.audience == Audience.ALL and f"/threads/{thread.id}" in line.body

    count = await Message.all().count()
    again, created = await promote_message(NOT_LIVE, people["mira"], wish.id, "Other title")
    assert again.id == thread.id and not created, "promoted once: the same idea"
    assert await Message.all().count() == count, "nothing written twice"


async def test_two_staff_members_promoting_one_message_at_once_make_one_idea(
    people: dict[str, User],
) -> None:
    _, wish = await conversation(people)
    results = await asyncio.gather(
        promote_message(NOT_LIVE, people["jan"], wish.id, "Reminders"),
        promote_message(NOT_LIVE, people["mira"], wish.id, "Reminders"),
    )
    assert results[0][0].id == results[1][0].id
    assert sorted(created for _, created in results) == [False, True]
    assert await Idea.filter(source_id=wish.id).count() == 1


async def test_notes_deleted_hidden_internal_and_staff_messages_cannot_become_ideas(
    people: dict[str, User],
) -> None:
    weber, tom, jan = people["weber"], people["tom"], people["jan"]
    origin, wish = await conversation(people)
    note, _ = await send_message(NOT_LIVE, jan, origin.id, "Billing knows", "n-1", Audience.STAFF)
    staff_reply, _ = await send_message(NOT_LIVE, jan, origin.id, "We will see.", "j-1")
    deleted, _ = await send_message(NOT_LIVE, tom, origin.id, "Oops", "t-2")
    await delete_message(NOT_LIVE, tom, deleted.id)
    hidden, _ = await send_message(NOT_LIVE, weber, origin.id, "Rude words", "w-2")
    await moderate(NOT_LIVE, people["aylin"], "message", hidden.id, "hide", "abusive")
    internal, first_internal, _ = await start_thread(
        NOT_LIVE, jan, "Rollout", "Meters", "j-2", "discussion", "internal"
    )
    idea, _, _ = await submit_idea(NOT_LIVE, tom, "Dark mode", "Please", "", "t-9")
    description = await Message.filter(thread_id=idea.id).order_by("seq").first()
    assert description is not None
    ideas_before = await Idea.all().count()
    refused = {
        description.id: "already_an_idea",
        note.id: "staff_note",
        staff_reply.id: "not_customer",
        deleted.id: "not_shown",
        hidden.id: "not_shown",
        first_internal.id: "not_public",
        "missing": "not_found",
    }
    for message_id, code in refused.items():
        with pytest.raises(ActionError) as err:
            await promote_message(NOT_LIVE, jan, message_id, "An idea")
        assert err.value.code == code, message_id
    with pytest.raises(Forbidden):
        await promote_message(NOT_LIVE, weber, wish.id, "My own idea")
    with pytest.raises(NotFound):
        await promote_message(NOT_LIVE, weber, note.id, "Not for her eyes")
    with pytest.raises(ActionError) as err:
        await promote_message(NOT_LIVE, jan, wish.id, "   ")
    assert err.value.code == "empty_title"
    assert await Idea.all().count() == ideas_before
    assert internal.kind == ThreadKind.DISCUSSION


def test_staff_get_a_prefilled_form_and_customers_get_nothing(client: TestClient) -> None:
    people = (
        ("weber@example.org", "Gisela Weber", Role.CUSTOMER),
        ("jan@nordlicht.example", "Jan Petersen", Role.EMPLOYEE),
    )
    for email, name, role in people:
        client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
    login(client, "weber@example.org")
    csrf = client.cookies["dreiklang_csrf"]
    r = client.post("/threads", data={"title": "Meter reading", "body": WISH, "client_id": "w-1",
                                      "csrftoken": csrf}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    thread_id = r.headers["location"].rsplit("/", 1)[-1]
    page = client.get(f"/threads/{thread_id}").text
    assert "/promote" not in page, "customers are offered no such thing"
    [message_id] = re.findall(r'id="msg-([^"]+)"', page)
    assert client.get(f"/messages/{message_id}/promote").status_code == 404
    r = client.post(f"/messages/{message_id}/promote", data={"title": "x", "csrftoken": csrf})
    assert r.status_code == 404

    client.cookies.clear()
    login(client, "jan@nordlicht.example")
    assert f"/messages/{message_id}/promote" in client.get(f"/threads/{thread_id}").text
    form = client.get(f"/messages/{message_id}/promote")
    assert form.status_code == 200
    assert 'value="It would be great if the app reminded me before the meter reading."' in form.text
    r = client.post(
        f"/messages/{message_id}/promote",
        data={
            "title": "App reminders",
            "tags": "app",
            "csrftoken": client.cookies["dreiklang_csrf"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    idea_url = r.headers["location"]
    assert (
        client.get(f"/messages/{message_id}/promote", follow_redirects=False).headers["location"]
        == idea_url
    ), "promoted already: the form leads to the idea"
