"""Saved replies: an employee keeps personal ones or shares them with their team, inserts them
into a thread with the placeholders filled in, and customers never reach any of it.

Actions run on SQLite and PostgreSQL; the pages on the real app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from server import replies
from server.actions.accounts import create_user
from server.actions.replies import create_reply, delete_reply
from server.actions.teams import create_team
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Forbidden, NotFound
from server.models import Role, SavedReply, Thread
from tests.conftest import NOT_LIVE, PASSWORD, csrf_of, login, make_settings
from tests.test_staff_controls import bearer

pytestmark = pytest.mark.usefixtures("fast_passwords")

WEBER, TOM = "weber@example.org", "tom@example.org"
JAN, OLE = "jan@nordlicht.example", "ole@nordlicht.example"
MIRA, ADMIN = "mira@nordlicht.example", "admin@nordlicht.example"
GREETING = "Hello {first_name}, about {title}"


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """A customer's question; Jan and Ole in Field service, Mira in Billing, an admin in no
    team that exists; on each configured database."""
    await open_database(make_settings(database_url, tmp_path))
    try:
        admin = await create_user(ADMIN, "Sabine Admin", PASSWORD, Role.ADMIN, "IT")
        jan = await create_user(JAN, "Jan Petersen", PASSWORD, Role.EMPLOYEE, "Field service")
        ole = await create_user(OLE, "Ole Hansen", PASSWORD, Role.EMPLOYEE, "Field service")
        mira = await create_user(MIRA, "Mira Yilmaz", PASSWORD, Role.EMPLOYEE, "Billing")
        await create_team(admin, "Field service")
        await create_team(admin, "Billing")
        weber = await create_user(WEBER, "Gisela Weber", PASSWORD)
        made, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Is my meter wrong?", "ask-1")
        thread = await Thread.get(id=made.id)
        yield {"admin": admin, "jan": jan, "ole": ole, "mira": mira, "weber": weber,
               "thread": thread}  # fmt: skip
    finally:
        await close_database()


async def test_a_personal_reply_is_filled_in_with_the_askers_first_name_and_the_title(
    world: dict[str, Any],
) -> None:
    jan, weber, thread = world["jan"], world["weber"], world["thread"]
    reply = await create_reply(jan, "  Greeting \n", GREETING, "")
    assert (reply.title, reply.owner_id, reply.team_id) == ("Greeting", jan.id, None)
    assert reply.created_by_id == jan.id
    assert replies.fill(reply.body, thread, weber) == "Hello Gisela, about Meter"
    [(found, text)] = await replies.choices(jan, thread, "greet")
    assert found.id == reply.id and text == "Hello Gisela, about Meter"
    # Braces that enclose nothing are left as they are.
    odd = await create_reply(jan, "Odd", "a } b {", None)
    assert replies.fill(odd.body, thread, weber) == "a } b {"


async def test_an_unknown_placeholder_or_a_bad_title_or_body_is_refused_and_nothing_is_stored(
    world: dict[str, Any],
) -> None:
    jan = world["jan"]
    with pytest.raises(ActionError) as err:
        await create_reply(jan, "Dear", "Dear {last_name}, {first_name}", "")
    assert err.value.code == "unknown_placeholder"
    assert "'{last_name}'" in err.value.message and "{first_name}, {title}" in err.value.message
    bad = [("", "Hi"), ("   ", "Hi"), ("x" * 81, "Hi"), (None, "Hi"), ("Hi", ""), ("Hi", None),
           ("Hi", "x" * 10_001)]  # fmt: skip
    for title, body in bad:
        with pytest.raises(ActionError):
            await create_reply(jan, title, body, "")
    with pytest.raises(ActionError) as no_team:  # the admin's team "IT" is not one of the teams
        await create_reply(world["admin"], "Shared", "Hi", "1")
    assert no_team.value.code == "no_team"
    with pytest.raises(Forbidden):
        await create_reply(world["weber"], "Mine", "Hi", "")
    assert await SavedReply.all().count() == 0
    assert (await create_reply(jan, "x" * 80, "Hi", "")).title == "x" * 80


async def test_a_team_reply_is_seen_by_the_team_a_personal_one_by_its_owner_only(
    world: dict[str, Any],
) -> None:
    jan, ole, mira, weber = world["jan"], world["ole"], world["mira"], world["weber"]
    shared = await create_reply(jan, "Outage", "We are on it, {first_name}.", "1")
    personal = await create_reply(jan, "Apology", "Sorry for the wait.", "")
    assert shared.owner_id is None and shared.team_id is not None
    assert [r.id for r in await replies.replies_for(jan)] == [personal.id, shared.id]  # by title
    assert [r.id for r in await replies.replies_for(ole)] == [shared.id]
    assert await replies.replies_for(mira) == []
    assert await replies.replies_for(weber) == []
    # The search is case-insensitive, over title and body.
    assert [r.id for r in await replies.replies_for(jan, "OUTAG")] == [shared.id]
    assert [r.id for r in await replies.replies_for(jan, "the WAIT")] == [personal.id]
    assert await replies.replies_for(jan, "nothing like it") == []


async def test_at_most_twenty_replies_are_listed_in_title_order(world: dict[str, Any]) -> None:
    jan = world["jan"]
    for n in range(25):
        await create_reply(jan, f"Reply {n:02}", "Hi", "")
    found = await replies.replies_for(jan, "reply")
    assert [r.title for r in found] == [f"Reply {n:02}" for n in range(20)]


async def test_only_the_owner_or_a_team_member_may_delete_a_reply(world: dict[str, Any]) -> None:
    jan, ole, mira, weber = world["jan"], world["ole"], world["mira"], world["weber"]
    personal = await create_reply(jan, "Mine", "Hi", "")
    shared = await create_reply(jan, "Ours", "Hi", "1")
    for who in (ole, mira, weber, world["admin"]):
        with pytest.raises(NotFound):
            await delete_reply(who, personal.id)
    for who in (mira, weber, world["admin"]):
        with pytest.raises(NotFound):
            await delete_reply(who, shared.id)
    for reply_id in ("", None, "no-such-reply", "a\x00b"):
        with pytest.raises(NotFound):
            await delete_reply(jan, reply_id)
    assert await SavedReply.all().count() == 2
    await delete_reply(ole, shared.id)  # any member of the team
    await delete_reply(jan, personal.id)
    assert await SavedReply.all().count() == 0


# -- the real app: the page, the composer's choices, what customers never reach --------------


@pytest.fixture
def scene(client: TestClient) -> Iterator[dict[str, Any]]:
    """Jan and Ole in Field service, Mira in Billing, a customer with a question and another
    customer's staff-only thread nobody else may see."""
    people = ((ADMIN, "Sabine Admin", Role.ADMIN, "IT"),
              (JAN, "Jan Petersen", Role.EMPLOYEE, "Field service"),
              (OLE, "Ole Hansen", Role.EMPLOYEE, "Field service"),
              (MIRA, "Mira Yilmaz", Role.EMPLOYEE, "Billing"),
              (WEBER, "Gisela Weber", Role.CUSTOMER, ""),
              (TOM, "Tom Becker", Role.CUSTOMER, ""))  # fmt: skip
    users = {}
    for email, name, role, team in people:
        users[email] = client.portal.call(create_user, email, name, PASSWORD, role, team)  # type: ignore[union-attr]
    for team in ("Field service", "Billing"):
        client.portal.call(create_team, users[ADMIN], team)  # type: ignore[union-attr]
    threads = {}
    for email, title in ((WEBER, "Meter"), (TOM, "Tariff")):
        question = {"title": title, "body": "Hello", "client_id": f"{email}-1"}
        r = client.post("/api/v1/threads", headers=bearer(client, email), json=question)
        assert r.status_code == 201, r.text
        threads[email] = r.json()["thread"]["id"]
    yield {"threads": threads}


def sign_in_as(client: TestClient, email: str) -> dict[str, str]:
    """Sign in in the browser; return the headers htmx sends."""
    client.cookies.clear()
    login(client, email)
    return {"HX-Request": "true", "x-csrftoken": csrf_of(client)}


def add(client: TestClient, title: str, body: str, shared: bool = False) -> Any:
    form = {"title": title, "body": body, "csrftoken": csrf_of(client)}
    if shared:
        form["shared"] = "1"
    return client.post("/desk/replies", data=form, follow_redirects=False)


def test_staff_keep_replies_on_their_page_and_the_composer_gets_them_filled_in(
    client: TestClient, scene: dict[str, Any]
) -> None:
    thread = scene["threads"][WEBER]
    sign_in_as(client, JAN)
    assert 'href="/desk/replies"' in client.get("/desk").text
    page = client.get("/desk/replies")
    assert page.status_code == 200 and "{first_name}" in page.text and "{title}" in page.text
    assert 'name="shared"' in page.text
    assert add(client, "Hello", GREETING).headers["location"] == "/desk/replies"
    assert add(client, "Outage", "We are on it.", shared=True).status_code == 303

    refused = add(client, "Dear", "Dear {last_name}")
    assert refused.status_code == 400 and "unknown placeholder" in refused.text
    assert "Dear {last_name}" in refused.text, "the form keeps what was typed"

    listed = client.get("/desk/replies").text
    assert "Hello" in listed and "Outage" in listed and "Dear" not in listed
    assert client.get(f"/threads/{thread}").text.count("replies.js") == 1

    r = client.get(f"/desk/replies/search?q=hel&thread={thread}", headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert 'data-text="Hello Gisela, about Meter"' in r.text and "Outage" not in r.text
    everything = client.get(f"/desk/replies/search?q=&thread={thread}").text
    assert everything.count('class="reply-choice"') == 2
    for bad in ("", "no-such-thread", "a%00b"):
        assert client.get(f"/desk/replies/search?q=&thread={bad}").status_code == 404

    # A colleague in the team sees the shared one only; one in another team sees none.
    sign_in_as(client, OLE)
    found = client.get(f"/desk/replies/search?q=&thread={thread}").text
    assert "Outage" in found and "Hello" not in found
    sign_in_as(client, MIRA)
    assert "Outage" not in client.get("/desk/replies").text
    assert "No saved reply matches" in client.get(f"/desk/replies/search?thread={thread}").text


def test_a_reply_is_deleted_by_its_owner_or_team_and_by_nobody_else(
    client: TestClient, scene: dict[str, Any]
) -> None:
    sign_in_as(client, JAN)
    add(client, "Mine", "Mine only")
    add(client, "Ours", "Field service's", shared=True)
    ids = dict(client.portal.call(lambda: SavedReply.all().values_list("title", "id")))  # type: ignore[union-attr]

    for email in (MIRA, OLE):
        hx = sign_in_as(client, email)
        r = client.post(f"/desk/replies/{ids['Mine']}/delete", headers=hx)
        assert r.status_code == 404
    sign_in_as(client, MIRA)
    r = client.post(f"/desk/replies/{ids['Ours']}/delete",
                    data={"csrftoken": csrf_of(client)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 404
    sign_in_as(client, OLE)
    r = client.post(f"/desk/replies/{ids['Ours']}/delete",
                    data={"csrftoken": csrf_of(client)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    assert client.portal.call(lambda: SavedReply.all().values_list("title", flat=True)) == ["Mine"]  # type: ignore[union-attr]


def test_a_customer_gets_404_on_every_saved_reply_route_and_changes_nothing(
    client: TestClient, scene: dict[str, Any]
) -> None:
    sign_in_as(client, JAN)
    add(client, "Mine", GREETING)
    reply = client.portal.call(lambda: SavedReply.get(title="Mine"))  # type: ignore[union-attr]
    thread = scene["threads"][WEBER]

    hx = sign_in_as(client, WEBER)
    page = client.get(f"/threads/{thread}").text
    assert "replies.js" not in page and "/desk/replies" not in page
    requests = [
        ("GET", "/desk/replies", {}),
        ("GET", f"/desk/replies/search?q=&thread={thread}", {}),
        ("POST", "/desk/replies", {"title": "Forged", "body": "forged"}),
        ("POST", f"/desk/replies/{reply.id}/delete", {}),
    ]
    for method, url, form in requests:
        for headers in ({}, {"HX-Request": "true"}):
            r = client.request(method, url, headers={**headers, "x-csrftoken": hx["x-csrftoken"]},
                               data=form or None, follow_redirects=False)  # fmt: skip
            assert r.status_code == 404, (method, url, headers, r.text)
            assert "Hello {first_name}" not in r.text
    stored = client.portal.call(lambda: SavedReply.all().values_list("title", flat=True))  # type: ignore[union-attr]
    assert stored == ["Mine"]

    client.cookies.clear()  # and a visitor who is not signed in is sent to sign in
    r = client.get("/desk/replies", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
