"""@mentions on SQLite and PostgreSQL: a mention is linked and recorded once for each person who
may read it; one of someone who could not read it (a customer in a staff note or an internal
thread, a closed account) is refused with the reason and nothing is written; the Mentions view
drops what its reader may no longer see; the composer is offered readers only."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.admin import deactivate
from server.actions.mentions import read_mentions
from server.actions.messages import edit_message, send_message
from server.actions.moderation import moderate
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError
from server.mentions import mentions_of, offered, unread_mentions
from server.models import Audience, Mention, Message, Role, Thread, User
from server.policy import Policy
from server.publisher import Publisher
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings, signup
from tests.test_desk import Recorder

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class World:
    admin: User
    aylin: User  # moderator
    jan: User  # employee, Field service
    mira: User  # employee, Field service
    weber: User  # customer, asked the question
    tom: User  # customer, answered in it
    lena: User  # customer, never wrote in it
    thread: str  # Mrs Weber's public question


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        admin = await create_user("admin@nordlicht.example", "Sabine Admin", PASSWORD, Role.ADMIN)
        aylin = await create_user("aylin@nordlicht.example", "Aylin Kaya", PASSWORD,
                                  Role.MODERATOR)  # fmt: skip
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE,
                                "Field service")  # fmt: skip
        mira = await create_user("mira@nordlicht.example", "Mira Hoffmann", PASSWORD,
                                 Role.EMPLOYEE, "Field service")  # fmt: skip
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        tom = await create_user("tom@example.org", "Tom Becker", PASSWORD)
        lena = await create_user("lena@example.org", "Lena Schulz", PASSWORD)
        thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "It blinks.", "w-1")
        await send_message(NOT_LIVE, tom, thread.id, "Mine too.", "t-1")
        yield World(admin, aylin, jan, mira, weber, tom, lena, thread.id)
    finally:
        await close_database()


async def mentioned_ids(message: Message) -> set[str]:
    found = await Mention.filter(message_id=message.id).values_list("user_id", flat=True)
    return {str(user_id) for user_id in found}


async def test_a_mention_is_linked_and_recorded_once_per_reader_and_a_retry_adds_nothing(
    world: World,
) -> None:
    w = world
    text = "@jan, can you look? cc @tom and @nobody-here and myself @weber"
    msg, new = await send_message(NOT_LIVE, w.weber, w.thread, text, "w-2")
    assert new and await mentioned_ids(msg) == {w.jan.id, w.tom.id}, "not the author herself"
    assert f'<a href="/people/{w.jan.id}" class="mention" data-user="{w.jan.id}"' in msg.html
    assert f'href="/people/{w.tom.id}"' in msg.html and "@nobody-here" in msg.html
    again, new = await send_message(NOT_LIVE, w.weber, w.thread, text, "w-2")
    assert not new and again.id == msg.id
    assert await Mention.filter(message_id=msg.id).count() == 2


async def test_a_team_mention_reaches_each_member_but_the_writer(world: World) -> None:
    w = world
    msg, _ = await send_message(NOT_LIVE, w.jan, w.thread, "@field-service please", "j-1")
    assert await mentioned_ids(msg) == {w.mira.id}


@pytest.mark.parametrize("where", ["staff note", "internal thread"])
async def test_mentioning_a_customer_where_only_staff_read_is_refused_and_nothing_written(
    world: World, where: str
) -> None:
    w = world
    if where == "internal thread":
        internal, _, _ = await start_thread(NOT_LIVE, w.jan, "Rollout", "Plan", "j-2",
                                            visibility="internal")  # fmt: skip
        thread, audience = internal.id, Audience.ALL
    else:
        thread, audience = w.thread, Audience.STAFF
    before = await Message.all().count()
    with pytest.raises(ActionError) as err:
        await send_message(NOT_LIVE, w.jan, thread, "Ask @weber for the reading", "j-3", audience)
    assert err.value.code == "mention_unreachable"
    assert "Gisela Weber cannot read this (it is for staff only)" in err.value.message
    assert await Message.all().count() == before and await Mention.all().count() == 0
    with pytest.raises(ActionError):
        await start_thread(NOT_LIVE, w.jan, "New", "Hi @weber", "j-4", visibility="internal")
    assert await Thread.filter(title="New").count() == 0


async def test_mentioning_a_closed_account_is_refused_naming_why(world: World) -> None:
    w = world
    await deactivate(NOT_LIVE, w.admin, w.tom.id)
    with pytest.raises(ActionError) as err:
        await send_message(NOT_LIVE, w.weber, w.thread, "Thanks @tom!", "w-3")
    assert err.value.message.startswith("Tom Becker’s account is closed")
    assert await Mention.all().count() == 0


async def test_an_edit_that_adds_a_mention_records_it_and_is_checked_like_a_new_post(
    world: World,
) -> None:
    w = world
    note, _ = await send_message(NOT_LIVE, w.jan, w.thread, "Checking", "j-5", Audience.STAFF)
    with pytest.raises(ActionError):
        await edit_message(NOT_LIVE, w.jan, note.id, "Checking, @weber")
    assert (await Message.get(id=note.id)).body == "Checking"
    edited = await edit_message(NOT_LIVE, w.jan, note.id, "Checking, @mira")
    assert await mentioned_ids(edited) == {w.mira.id} and 'class="mention"' in edited.html


async def test_the_mentions_view_drops_what_its_reader_may_no_longer_see(world: World) -> None:
    w = world
    first, _ = await send_message(NOT_LIVE, w.weber, w.thread, "@tom does yours blink?", "w-6")
    second, _ = await send_message(NOT_LIVE, w.mira, w.thread, "@tom and the display?", "j-7")
    assert [m.message_id for m in await mentions_of(w.tom)] == [second.id, first.id]
    assert await unread_mentions(w.tom) == 2
    await moderate(NOT_LIVE, w.aylin, "message", first.id, "move_to_note")
    assert [m.message_id for m in await mentions_of(w.tom)] == [second.id]
    await moderate(NOT_LIVE, w.aylin, "message", second.id, "hide", "off_topic")
    assert await mentions_of(w.tom) == [] and await unread_mentions(w.tom) == 0
    await moderate(NOT_LIVE, w.aylin, "message", second.id, "restore")
    assert await unread_mentions(w.tom) == 1
    newest = (await mentions_of(w.tom))[0].id
    assert await read_mentions(w.tom, newest) == 2, "the moved one too: nothing stays unread"
    assert await unread_mentions(w.tom) == 0


async def test_a_new_mention_tells_the_persons_open_apps_after_commit(world: World) -> None:
    w = world
    heard: list[tuple[str, dict[str, str]]] = []
    live = Publisher(Recorder(heard), viewers=lambda thread: set())  # type: ignore[arg-type]
    msg, _ = await send_message(live, w.weber, w.thread, "@jan @tom hello", "w-4")
    frames = [(channel, json.loads(f.get("any", "{}"))) for channel, f in heard]
    told = {channel: f for channel, f in frames if f.get("type") == "mentioned"}
    frame = {"type": "mentioned", "thread": w.thread, "message": msg.id}
    assert told == {f"user:{w.jan.id}": frame, f"user:{w.tom.id}": frame}


async def test_the_composer_is_offered_readers_only(world: World) -> None:
    w = world
    thread = await Thread.get(id=w.thread)

    async def names(audience: Audience, prefix: str, asker: User) -> set[str]:
        return {str(o["handle"]) for o in await offered(thread, audience, prefix, asker)}

    everyone = await names(Audience.ALL, "", w.jan)
    assert {"weber", "tom", "mira", "aylin", "admin", "field-service"} <= everyone
    assert "lena" not in everyone, "a customer who never wrote here is not offered"
    assert "jan" not in everyone, "not oneself"
    assert await names(Audience.STAFF, "", w.jan) >= {"mira", "field-service"}
    assert not await names(Audience.STAFF, "", w.jan) & {"weber", "tom"}
    assert not await names(Audience.ALL, "", w.weber) & {"tom"}, "no customer to a customer"
    assert await names(Audience.ALL, "mi", w.weber) == {"mira"}
    assert await names(Audience.ALL, "Hoff", w.weber) == {"mira"}, "a last name matches too"
    await deactivate(NOT_LIVE, w.admin, w.mira.id)
    assert "mira" not in await names(Audience.ALL, "", w.jan)


def test_the_pages_mentions_person_and_offers_answer_only_what_one_may_see(
    client: TestClient, fast_passwords: None
) -> None:
    def post(url: str, **data: str) -> str:
        answer = client.post(url, data={**data, "csrftoken": csrf_of(client)},
                             follow_redirects=False)  # fmt: skip
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    signup(client, "tom@example.org", "Tom Becker")
    thread = post("/threads", title="Zähler blinkt", body="Hallo zusammen").rsplit("/", 1)[1]
    client.cookies.clear()
    signup(client, "lena@example.org", "Lena Schulz")
    post(f"/threads/{thread}/messages", body="@tom siehst du das?", client_id="l-1")
    client.cookies.clear()
    login(client, "tom@example.org")
    assert ">1<" in client.get("/mentions/unread").text
    page = client.get("/mentions")
    assert page.status_code == 200 and "siehst du das" in page.text and "unread" in page.text
    assert "hidden" in client.get("/mentions/unread").text, "seen: read"
    assert "unread" not in client.get("/mentions").text.split("<main", 1)[1]
    tom_link = client.get(f"/threads/{thread}").text.split('href="/people/', 1)[1].split('"')[0]
    person = client.get(f"/people/{tom_link}")
    assert (
        person.status_code == 200 and "Tom Becker" in person.text and "Zähler blinkt" in person.text
    )
    offers = client.get(f"/threads/{thread}/mentionable", params={"q": "le"}).json()
    assert offers == [], "a customer is never shown another customer's handle (e-mail part)"
    lena = client.portal.call(lambda: User.get(email="lena@example.org"))  # type: ignore[union-attr]
    page = client.get(f"/people/{lena.id}")
    assert page.status_code == 200 and "Lena Schulz" in page.text and "@lena" not in page.text
    assert "@tom" in client.get(f"/people/{tom_link}").text, "one's own handle, yes"
    assert client.get(f"/threads/{thread}/mentionable", params={"q": "zz"}).json() == []
    assert client.get("/threads/nothere/mentionable").status_code == 404
    assert client.get("/people/" + "x" * 30).status_code == 404


async def test_a_handle_is_matched_literally_not_as_a_pattern(world: World) -> None:
    w = world
    await create_user("axb@example.org", "Axel B", PASSWORD)
    msg, _ = await send_message(NOT_LIVE, w.weber, w.thread, "Hallo @a_b und @tom", "w-9")
    assert await mentioned_ids(msg) == {w.tom.id}, "_ is no wildcard"


async def test_a_post_held_for_review_neither_offers_its_author_nor_counts_its_mention(
    world: World,
) -> None:
    """Until a moderator approves it, nobody but staff and its author learns of a held post:
    not through the @ list (its writer), not through a Mentions count."""
    w = world
    holding = Publisher(policy=Policy(hold_first_posts=1))
    held, _ = await send_message(holding, w.lena, w.thread, "@tom hast du das auch?", "l-1")
    assert held.held_at is not None
    thread = await Thread.get(id=w.thread)
    offered_to_jan = {o["handle"] for o in await offered(thread, Audience.ALL, "", w.jan)}
    assert "lena" not in offered_to_jan and "tom" in offered_to_jan
    assert await unread_mentions(w.tom) == 0 and await mentions_of(w.tom) == []
