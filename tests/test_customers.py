"""The customer profile on SQLite and PostgreSQL: what staff see of a customer (counts, lists,
waiting time, last seen), the tags and private notes they keep, and that customers, anonymous
visitors and staff accounts never get a profile or any part of one."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from httpx2 import Response
from starlette.testclient import TestClient

from server.actions.accounts import create_user
from server.actions.community import accept_answer
from server.actions.customers import TAGS_MAX, note_customer, tag_customer
from server.actions.ideas import submit_idea, vote
from server.actions.messages import send_message
from server.actions.threads import start_thread
from server.app import create_app
from server.customers import profile
from server.db import close_database, open_database
from server.errors import ActionError, NotFound
from server.models import CustomerNote, CustomerTag, Role, Session, Thread, User
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")


@dataclass
class World:
    jan: User  # employee
    weber: User  # customer
    tom: User  # another customer


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    await open_database(make_settings(database_url, tmp_path))
    try:
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE,
                                "Field service")  # fmt: skip
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        tom = await create_user("tom@example.org", "Tom Brandt", PASSWORD)
        yield World(jan, weber, tom)
    finally:
        await close_database()


async def test_the_profile_counts_and_lists_what_the_customer_did(world: World) -> None:
    w = world
    meter, _, _ = await start_thread(NOT_LIVE, w.weber, "Zählerwechsel", "Wann?", "w-1")
    await start_thread(NOT_LIVE, w.weber, "Abschlag", "Zu hoch?", "w-2")
    outage, _, _ = await start_thread(NOT_LIVE, w.tom, "Stromausfall", "Seit 8 Uhr", "t-1")
    helped, _ = await send_message(NOT_LIVE, w.weber, outage.id, "Bei uns auch, Sicherung!", "w-3")
    await send_message(NOT_LIVE, w.weber, meter.id, "Noch da?", "w-4")  # her own thread
    _, idea, _ = await submit_idea(
        NOT_LIVE, w.weber, "App-Erinnerung", "Vor dem Ablesen", "", "w-5"
    )
    _, other, _ = await submit_idea(NOT_LIVE, w.tom, "Ladesäulen am Hafen", "Mehr!", "", "t-2")
    await vote(NOT_LIVE, w.weber, other.thread_id, "1")
    await vote(NOT_LIVE, w.tom, idea.thread_id, "1")
    await accept_answer(NOT_LIVE, w.tom, helped.id)  # Tom accepts her reply to his question

    p = await profile(w.jan, w.weber)
    assert p.thread_count == 3 and {t.title for t in p.threads} == {
        "Zählerwechsel", "Abschlag", "App-Erinnerung"}  # fmt: skip
    assert p.reply_count == 1 and [m.id for m in p.replies] == [helped.id], "not her own thread"
    assert p.idea_count == 1 and p.ideas[0].votes == 1
    assert p.vote_count == 1 and p.votes[0].idea.thread.title == "Ladesäulen am Hafen"
    assert p.accepted_count == 1 and [t.id for t in p.accepted] == [outage.id]
    assert {x.thread.title for x in p.waiting} == {"Zählerwechsel", "Abschlag"}
    assert p.tags == [] and p.notes == [] and p.last_seen_at is not None


async def test_open_questions_show_how_long_the_customer_has_waited(world: World) -> None:
    w = world
    thread, _, _ = await start_thread(NOT_LIVE, w.weber, "Zählerwechsel", "Wann?", "w-1")
    since = datetime.now(UTC) - timedelta(hours=3, minutes=5)
    await Thread.filter(id=thread.id).update(waiting_since=since)
    p = await profile(w.jan, w.weber, now=since + timedelta(hours=3, minutes=5, seconds=20))
    assert [(x.thread.id, x.minutes) for x in p.waiting] == [(thread.id, 185)]
    await send_message(NOT_LIVE, w.jan, thread.id, "Am Dienstag.", "j-1")  # staff answer it
    assert (await profile(w.jan, w.weber)).waiting == [], "answered: nobody waits"


async def test_last_seen_is_the_latest_session_or_post(world: World) -> None:
    w = world
    later = datetime.now(UTC) + timedelta(days=1)
    await Session.create(user_id=w.weber.id, key_hash="a" * 64, last_seen_at=later)
    await start_thread(NOT_LIVE, w.weber, "Zählerwechsel", "Wann?", "w-1")
    p = await profile(w.jan, w.weber)
    assert p.last_seen_at is not None and abs(p.last_seen_at - later) < timedelta(seconds=1)


async def test_tags_are_lower_case_added_once_and_removed(world: World) -> None:
    w = world
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "  Key   Account ") is True
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "key account") is False, (
        "a duplicate: no-op"
    )
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "Wärmepumpe") is True
    rows = await CustomerTag.filter(customer_id=w.weber.id).order_by("tag")
    assert [(r.tag, r.added_by_id) for r in rows] == [("key account", w.jan.id),
                                                       ("wärmepumpe", w.jan.id)]  # fmt: skip
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "KEY ACCOUNT", remove=True) is True
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "key account", remove=True) is False
    assert [t.tag for t in (await profile(w.jan, w.weber)).tags] == ["wärmepumpe"]


async def test_a_bad_tag_is_refused_naming_it_and_nothing_is_written(world: World) -> None:
    for bad in ("", "   ", "x" * 31, "<b>", "a_b", "solar!", "a  -b", "-solar", 7, None):
        with pytest.raises(ActionError) as err:
            await tag_customer(NOT_LIVE, world.jan, world.weber.id, bad)
        assert err.value.code in ("empty", "invalid_tag"), bad
        if isinstance(bad, str) and bad.strip():
            assert repr(" ".join(bad.split()).lower())[:40] in err.value.message
    assert await CustomerTag.all().count() == 0


async def test_a_customer_has_at_most_twenty_tags(world: World) -> None:
    w = world
    for n in range(TAGS_MAX):
        await tag_customer(NOT_LIVE, w.jan, w.weber.id, f"tag {n}")
    with pytest.raises(ActionError) as err:
        await tag_customer(NOT_LIVE, w.jan, w.weber.id, "one too many")
    assert err.value.code == "too_many_tags" and "20" in err.value.message
    assert await tag_customer(NOT_LIVE, w.jan, w.weber.id, "tag 3") is False, (
        "a duplicate is still fine"
    )
    assert await CustomerTag.filter(customer_id=w.weber.id).count() == TAGS_MAX


async def test_tags_and_notes_on_a_staff_account_are_refused_naming_why(world: World) -> None:
    w = world
    mira = await create_user("mira@nordlicht.example", "Mira Yilmaz", PASSWORD, Role.EMPLOYEE)
    for attempt in (
        tag_customer(NOT_LIVE, w.jan, mira.id, "billing"),
        note_customer(NOT_LIVE, w.jan, mira.id, "Hi"),
    ):
        with pytest.raises(ActionError) as err:
            await attempt
        assert err.value.code == "not_a_customer" and "Mira Yilmaz" in err.value.message
    assert await CustomerTag.all().count() == 0 and await CustomerNote.all().count() == 0


async def test_customers_cannot_tag_or_note_anyone_and_learn_nothing(world: World) -> None:
    w = world
    for target in (w.tom.id, w.jan.id, "missing", "x" * 40):
        with pytest.raises(NotFound):
            await tag_customer(NOT_LIVE, w.weber, target, "nice")
        with pytest.raises(NotFound):
            await note_customer(NOT_LIVE, w.weber, target, "nice")
    assert await CustomerTag.all().count() == 0 and await CustomerNote.all().count() == 0


async def test_notes_are_markdown_newest_first_with_author_and_time(world: World) -> None:
    w = world
    mira = await create_user("mira@nordlicht.example", "Mira Yilmaz", PASSWORD, Role.EMPLOYEE)
    await note_customer(NOT_LIVE, w.jan, w.weber.id, "Prefers **phone** calls")
    await note_customer(NOT_LIVE, mira, w.weber.id, "<script>alert(1)</script> Solar since 2023")
    notes = (await profile(w.jan, w.weber)).notes
    assert [(n.author.display_name, n.body[-10:]) for n in notes] == [
        ("Mira Yilmaz", "since 2023"), ("Jan Petersen", "ne** calls")]  # fmt: skip
    assert "<strong>phone</strong>" in notes[1].html and "<script" not in notes[0].html
    assert notes[0].created_at >= notes[1].created_at
    for bad in ("", "   ", "x" * 10_001, None):
        with pytest.raises(ActionError):
            await note_customer(NOT_LIVE, w.jan, w.weber.id, bad)
    assert await CustomerNote.all().count() == 2


# -- over HTTP ------------------------------------------------------------------------------


@pytest.fixture
def site(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A server with an employee, two customers (Weber asked a question, Tom replied) and a
    moderator: their ids by name."""
    with TestClient(create_app(make_settings(sqlite_url, tmp_path))) as client:
        ids: dict[str, str] = {}
        users: dict[str, User] = {}
        for key, email, name, role in (
            ("jan", "jan@nordlicht.example", "Jan Petersen", Role.EMPLOYEE),
            ("aylin", "aylin@nordlicht.example", "Aylin Kaya", Role.MODERATOR),
            ("weber", "weber@example.org", "Gisela Weber", Role.CUSTOMER),
            ("tom", "tom@example.org", "Tom Brandt", Role.CUSTOMER),
        ):
            user = client.portal.call(create_user, email, name, PASSWORD, role, "")  # type: ignore[union-attr]
            ids[key], users[key] = user.id, user
        weber, tom = (users[k] for k in ("weber", "tom"))
        thread, _, _ = client.portal.call(  # type: ignore[union-attr]
            start_thread, NOT_LIVE, weber, "Zählerwechsel", "Wann kommt der Monteur?", "w-1"
        )
        client.portal.call(  # type: ignore[union-attr]
            send_message, NOT_LIVE, tom, thread.id, "@jan bei mir kam er um 8.", "t-1"
        )
        ids["thread"] = thread.id
        yield client, ids


def post(client: TestClient, url: str, data: dict[str, str], htmx: bool = False) -> Response:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(url, data={**data, "csrftoken": csrf_of(client)}, headers=headers,
                       follow_redirects=False)  # fmt: skip


PROFILE_ROUTES = ("/customers/{id}", "/customers/{id}/tags", "/customers/{id}/notes")


def fetch(client: TestClient, path: str) -> tuple[int, str]:
    if path.endswith(("/tags", "/notes")):
        r = client.post(path, data={"tag": "x", "body": "x", "csrftoken": csrf_of(client)},
                        follow_redirects=False)  # fmt: skip
    else:
        r = client.get(path, follow_redirects=False)
    return r.status_code, r.text


def test_customers_get_the_same_404_for_a_profile_as_for_a_missing_id(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    login(client, "weber@example.org")
    for route in PROFILE_ROUTES:
        answers = {fetch(client, route.format(id=i)) for i in
                   (ids["weber"], ids["tom"], ids["jan"], "missing0000", "x" * 40)}  # fmt: skip
        assert len(answers) == 1, (route, answers)
        status, text = answers.pop()
        assert status == 404 and "Gisela Weber" not in text.split("</header>", 1)[1]
        assert "Tom Brandt" not in text and "Jan Petersen" not in text
    assert client.portal.call(CustomerTag.all().count) == 0  # type: ignore[union-attr]
    assert client.portal.call(CustomerNote.all().count) == 0  # type: ignore[union-attr]


def test_anonymous_visitors_are_sent_to_sign_in_alike_for_every_id(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    for route in PROFILE_ROUTES:
        for user_id in (ids["weber"], "missing0000"):
            path = route.format(id=user_id)
            if path.endswith(("/tags", "/notes")):
                r = client.post(path, data={"tag": "x", "csrftoken": csrf_of(client)},
                                follow_redirects=False)  # fmt: skip
            else:
                r = client.get(path, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login"), path
            r = client.get(path, headers={"HX-Request": "true"}, follow_redirects=False)
            assert r.status_code in (401, 405)


def test_staff_see_the_profile_and_keep_tags_and_notes_in_place(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    login(client, "jan@nordlicht.example")
    r = client.get(f"/customers/{ids['weber']}")
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store"
    for text in ("Gisela Weber", "weber@example.org", "Zählerwechsel", "Only staff see this page",
                 "Open questions"):  # fmt: skip
        assert text in r.text
    url = f"/customers/{ids['weber']}"
    r = post(client, url + "/tags", {"tag": "Solar"}, htmx=True)
    assert r.status_code == 200 and r.text.startswith('<section id="customer-tags"')
    assert ">solar<" in r.text
    r = post(client, url + "/tags", {"tag": "solar", "remove": "1"}, htmx=True)
    assert ">solar<" not in r.text
    r = post(client, url + "/notes", {"body": "Ruft lieber **an**."}, htmx=True)
    assert r.status_code == 200 and "<strong>an</strong>" in r.text
    assert "Jan Petersen" in r.text
    r = post(client, url + "/tags", {"tag": "bad_tag!"}, htmx=True)
    assert r.status_code == 400 and r.headers["HX-Retarget"] == "#form-error"
    r = post(client, url + "/tags", {"tag": "Key account"})
    assert r.status_code == 303 and r.headers["location"] == url + "#tags"
    assert "key account" in client.get(url).text


def test_a_staff_accounts_id_says_it_is_no_customer(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    login(client, "jan@nordlicht.example")
    r = client.get(f"/customers/{ids['aylin']}")
    assert r.status_code == 404 and "Aylin Kaya is on staff, not a customer" in r.text
    r = post(client, f"/customers/{ids['aylin']}/tags", {"tag": "nice"})
    assert r.status_code == 400 and "on staff" in r.text
    assert client.get("/customers/missing0000").status_code == 404


def test_a_customers_name_links_to_the_profile_for_staff_and_never_for_customers(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    thread = f"/threads/{ids['thread']}"
    login(client, "jan@nordlicht.example")
    page = client.get(thread).text
    assert f'href="/customers/{ids["weber"]}"' in page and f'href="/customers/{ids["tom"]}"' in page
    person = client.get(f"/people/{ids['tom']}").text
    assert f'href="/customers/{ids["tom"]}"' in person and "Customer profile" in person
    assert "/customers/" not in client.get(f"/people/{ids['jan']}").text, "staff: no profile"
    # Where a name sits on a card linking elsewhere, it is a line of its own under the card.
    for path, who in (("/desk", "weber"), ("/search?q=Monteur", "weber"), ("/mentions", "tom")):
        r = client.get(path)
        assert re.search(rf'<p class="person-line"><a [^>]*href="/customers/{ids[who]}"', r.text), (
            path
        )
    client.cookies.clear()
    login(client, "tom@example.org")
    for path in (thread, f"/people/{ids['tom']}", f"/people/{ids['weber']}", "/threads",
                 "/search?q=Monteur", "/mentions"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 200 and "/customers/" not in r.text, path
    r = client.get("/search?q=Monteur", headers={"HX-Request": "true"})
    assert "Gisela Weber" in r.text and "/customers/" not in r.text
    assert f'href="/people/{ids["weber"]}"' in client.get(thread).text, "the public page"


async def test_the_profile_takes_as_many_queries_for_a_busy_customer_as_for_a_new_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tortoise.connection import get_connection

    client = type(get_connection("default"))
    queries: list[str] = []
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(client, name)

        def counting(self: object, sql: str, *args: object, _run: object = original) -> object:
            queries.append(sql)
            return _run(self, sql, *args)  # type: ignore[operator]

        monkeypatch.setattr(client, name, counting)

    async def cost() -> int:
        queries.clear()
        await profile(world.jan, world.weber)
        return len(queries)

    quiet = await cost()
    assert quiet >= 10, queries  # the counting sees the profile's queries
    for n in range(6):
        thread, _, _ = await start_thread(NOT_LIVE, world.weber, f"Frage {n}", "Hallo?", f"w-{n}")
        await send_message(NOT_LIVE, world.tom, thread.id, "Ich auch", f"t-{n}")
        await send_message(NOT_LIVE, world.weber, thread.id, "Danke", f"w-{n}-2")
        await note_customer(NOT_LIVE, world.jan, world.weber.id, f"Note {n}")
    assert await cost() == quiet, queries


def test_colleagues_with_the_profile_open_hear_of_new_tags_and_notes_customers_do_not(
    site: tuple[TestClient, dict[str, str]],
) -> None:
    client, ids = site
    tokens = {}
    for email in ("jan@nordlicht.example", "aylin@nordlicht.example", "tom@example.org"):
        client.cookies.clear()
        r = client.post("/api/v1/tokens", json={"email": email, "password": PASSWORD})
        tokens[email] = {"Authorization": f"Bearer {r.json()['token']}"}
    login(client, "jan@nordlicht.example")
    url = f"/customers/{ids['weber']}"
    live = "/ws?customer=1"
    with (
        client.websocket_connect(live, headers=tokens["aylin@nordlicht.example"]) as aylin,
        client.websocket_connect(live, headers=tokens["tom@example.org"]) as tom,
    ):
        for ws in (aylin, tom):
            assert ws.receive_json()["type"] == "hello"
        post(client, url + "/tags", {"tag": "solar"}, htmx=True)
        post(client, url + "/notes", {"body": "Called back"}, htmx=True)
        aylin.send_json({"type": "ping", "t": "sync"})
        frames = [aylin.receive_json() for _ in range(3)]
        for section in ("tags", "notes"):
            assert {"type": "customer", "customer": ids["weber"], "section": section} in frames
        tom.send_json({"type": "ping", "t": "sync"})
        assert tom.receive_json()["type"] == "pong", "a customer's socket hears nothing of it"
    r = client.get(url + "?section=notes", headers={"HX-Request": "true"})
    assert r.text.startswith('<section id="customer-notes"') and "Called back" in r.text
    r = client.get(url + "?section=tags", headers={"HX-Request": "true"})
    assert r.text.startswith('<section id="customer-tags"') and ">solar<" in r.text
